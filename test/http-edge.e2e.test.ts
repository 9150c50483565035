import net from 'node:net';
import { sqliteDatabase } from './support/databases';
import { startTestRoot, type TestRoot } from './support/root-cluster';

/*
 * The HTTP edge under hostile transport: bodies announced larger than the limit are refused before
 * they arrive, bodies that grow past it are refused as soon as they do, and a Host header that
 * makes no URL is the client's error. Raw sockets, so the test controls every byte.
 */

interface RawAnswer {
  status: number;
  head: string;
  /** Milliseconds from the end of the request head to the status line. */
  ms: number;
  /** The server closed the connection. */
  closed: boolean;
}

function rawRequest(port: number, head: string, body?: { first: Buffer; keepOpenMs: number }): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let data = '';
    let sentAt = 0;
    let answered: RawAnswer | undefined;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer; got ${JSON.stringify(data.slice(0, 200))}`));
    }, 60_000);
    socket.on('connect', () => {
      socket.write(head);
      sentAt = Date.now();
      if (body) socket.write(body.first);
    });
    socket.on('data', (d) => {
      data += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (m && !answered && data.includes('\r\n\r\n')) answered = { status: Number(m[1]), head: data.split('\r\n\r\n')[0]!, ms: Date.now() - sentAt, closed: false };
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (answered) resolve({ ...answered, closed: true });
      else reject(new Error(`closed without an answer: ${JSON.stringify(data.slice(0, 200))}`));
    });
    socket.on('error', () => undefined);
  });
}

describe('HTTP edge: early 413, bad Host headers', () => {
  let root: TestRoot;
  let port: number;
  let auth: string;

  beforeAll(async () => {
    root = await startTestRoot(sqliteDatabase());
    port = Number(new URL(root.server.url).port);
    auth = Buffer.from(`${root.admin.name}:${root.admin.password}`).toString('base64');
  }, 120_000);
  afterAll(async () => {
    await root?.stop();
  });

  const post = (extra: string) =>
    `POST /_wmcs/licensing/server.asmx HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Basic ${auth}\r\nContent-Type: text/xml; charset=utf-8\r\nSOAPAction: "http://microsoft.com/DRM/ServerService/GetLicensorCertificate"\r\n${extra}\r\n`;

  it('answers 413 at once to a body announced at 16 MiB, without waiting for it, and closes the connection', async () => {
    const r = await rawRequest(port, post('Content-Length: 16777216\r\n'), { first: Buffer.from('<soap:Envelope'), keepOpenMs: 30_000 });
    expect(r.status).toBe(413);
    expect(r.head).toMatch(/connection: close/i);
    expect(r.closed).toBe(true);
  });

  it('answers 413 to a chunked body as soon as it passes the limit, not when it ends', async () => {
    const chunk = Buffer.alloc(256 * 1024, 0x20);
    const chunked = Buffer.concat([...Array.from({ length: 5 }, () => Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]))]);
    // 1.25 MiB sent of a body that never ends (no terminating chunk).
    const r = await rawRequest(port, post('Transfer-Encoding: chunked\r\n'), { first: chunked, keepOpenMs: 30_000 });
    expect(r.status).toBe(413);
    expect(r.closed).toBe(true);
  });

  it('refuses a Content-Length that is not a number with 400', async () => {
    const r = await rawRequest(port, post('Content-Length: 12abc\r\n'));
    expect(r.status).toBe(400);
  });

  it.each([['a Host with a path', 'evil.example/x'], ['a Host with user info', 'user@127.0.0.1'], ['a Host with spaces', 'a b'], ['a Host with a bad port', '127.0.0.1:99999x']])(
    '?wsdl with %s is 400, not a server error',
    async (_what, host) => {
      const r = await rawRequest(port, `GET /_wmcs/licensing/server.asmx?wsdl HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      expect(r.status).toBe(400);
    },
  );

  it('still serves the WSDL for a good Host, with that host in its address', async () => {
    const res = await fetch(`${root.server.url}/_wmcs/licensing/server.asmx?wsdl`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(`location="http://127.0.0.1:${port}/_wmcs/licensing/server.asmx"`);
  });
});
