import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseProtectedFile, RmsClient } from '@openrms/client';
import { parseGrantSpec } from '@openrms/domain';
import { openStore } from '@openrms/store';
import { tempDir } from './support/databases';
import { envelope, versionData } from './support/soap-client';
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

  it('a batch whose client disconnects stops: licences are no longer signed for nobody, and the log says so', async () => {
    const LIC_NS = 'http://microsoft.com/DRM/LicensingService';
    const state = tempDir('edge-client');
    const client = new RmsClient({ serverUrl: root.server.url, user: root.admin.name, password: root.admin.password, stateDir: state });
    const file = await client.protect(Buffer.from('gone'), { grants: parseGrantSpec(`${(await client.identity()).email}:VIEW`) });
    const folder = client.stateFolder;
    const rac = (JSON.parse(readFileSync(path.join(folder, 'rac-chain.json'), 'utf8')) as string[])[0]!;
    const cert = (x: string) => `<Certificate>${x.replace('<XrML', '<XrML xmlns=""')}</Certificate>`;
    const item = `<AcquireLicenseParams><LicenseeCerts>${cert(rac)}</LicenseeCerts><IssuanceLicense>${parseProtectedFile(file).header.plChain.map(cert).join('')}</IssuanceLicense></AcquireLicenseParams>`;
    // As many as fit under the 1 MiB body limit: seconds of signing.
    const ITEMS = Math.floor((1024 * 1024 - 4096) / Buffer.byteLength(item));
    const body = envelope({ header: versionData(LIC_NS, '1.1.0.0', '1.1.0.0'), body: `<AcquireLicense xmlns="${LIC_NS}"><RequestParams>${item.repeat(ITEMS)}</RequestParams></AcquireLicense>` });
    const store = await openStore(root.db.url);
    try {
      const before = await store.issued.count({ kind: 'UL' });
      const head = `POST /_wmcs/licensing/license.asmx HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Basic ${auth}\r\nContent-Type: text/xml; charset=utf-8\r\nSOAPAction: "${LIC_NS}/AcquireLicense"\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
      await new Promise<void>((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port }, () => {
          s.write(head);
          s.write(body);
          // The client gives up as soon as the server has started on the batch.
          setTimeout(() => s.destroy(), 150);
        });
        s.on('close', () => resolve());
        s.on('error', () => undefined);
      });
      const row = await (async () => {
        for (let i = 0; i < 300; i++) {
          const r = (await store.requestLog.tail(20)).find((l) => l.operation === 'AcquireLicense' && l.result === 'client gone');
          if (r) return r;
          await new Promise((res) => setTimeout(res, 100));
        }
        return undefined;
      })();
      expect(row).toBeDefined();
      const issued = (await store.issued.count({ kind: 'UL' })) - before;
      expect(issued).toBeLessThan(ITEMS);
    } finally {
      await store.close();
    }
  });

  it('throttles password guessing: after 10 failures the account is refused with 429 and the fault, even with the right password, and counted', async () => {
    const { addUser } = await import('@openrms/issuance');
    await addUser(root.db.url, { name: 'guessme', email: 'guessme@example.test', password: 'guessme-password-1', groups: [] });
    const GLC = 'http://microsoft.com/DRM/ServerService/GetLicensorCertificate';
    const soap = envelope({ header: versionData('http://microsoft.com/DRM/ServerService'), body: '<GetLicensorCertificate xmlns="http://microsoft.com/DRM/ServerService"/>' });
    const call = (password: string, user = 'guessme') =>
      fetch(`${root.server.url}/_wmcs/licensing/server.asmx`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`, 'content-type': 'text/xml; charset=utf-8', soapaction: `"${GLC}"` },
        body: soap,
      });
    expect((await call('guessme-password-1')).status).toBe(200);
    for (let i = 0; i < 10; i++) expect((await call(`wrong-guess-${i}`)).status).toBe(401);
    const refused = await call('guessme-password-1');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.text()).toContain('System.UnauthorizedAccessException: too many failed sign-ons');
    // Another account from the same address is not affected.
    expect((await call(root.admin.password, root.admin.name)).status).toBe(200);
    const metrics = await fetch(`${root.server.url}/metrics`, { headers: { authorization: `Basic ${auth}` } });
    expect(await metrics.text()).toMatch(/openrms_signon_throttled_total\{scope="user"\} [1-9]/);
  });

  it('still serves the WSDL for a good Host, with that host in its address', async () => {
    const res = await fetch(`${root.server.url}/_wmcs/licensing/server.asmx?wsdl`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(`location="http://127.0.0.1:${port}/_wmcs/licensing/server.asmx"`);
  });
});
