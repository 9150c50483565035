/**
 * KerberosNegotiateAcceptor against a real MIT KDC on loopback (test/support/kdc.ts).
 *
 * The library reads the keytab from the C environment (KRB5_KTNAME) and jest hands each test file
 * a copy of process.env that never reaches C, so the acceptor runs in a child process of its own:
 * a small driver that calls useKerberosAcceptorKeytab as the server's start-up does, then answers
 * `accept` requests over stdin/stdout. That also keeps two fixtures (two keytabs) apart.
 * Checks that never reach the library run in-process.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isRmsError } from '@openrms/domain';
import { ALICE_PASSWORD, BOB_PASSWORD, type KdcFixture, negotiateToken, startKdc } from '../../../test/support/kdc';
import { KerberosNegotiateAcceptor, MAX_NEGOTIATE_TOKEN_BASE64, spnToHostService } from './negotiate-acceptor';

const TSX = path.resolve(__dirname, '../../../node_modules/.bin/tsx');
const CONFIG_INDEX = path.resolve(__dirname, '../../config/src/index.ts');
const DIRECTORY_INDEX = path.resolve(__dirname, 'index.ts');

const DRIVER = `
const readline = require('node:readline');
const { useKerberosAcceptorKeytab } = require(${JSON.stringify(CONFIG_INDEX)});
const { KerberosNegotiateAcceptor } = require(${JSON.stringify(DIRECTORY_INDEX)});
const [keytab, krb5Config, spn] = process.argv.slice(2);
const send = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const failure = (e) => ({ ok: false, code: e && e.code, name: e && e.name, message: String(e && e.message) });
(async () => {
  let acceptor;
  try {
    useKerberosAcceptorKeytab(keytab, krb5Config);
    acceptor = new KerberosNegotiateAcceptor({ keytab, spn });
    await acceptor.check();
  } catch (e) {
    send({ ready: false, ...failure(e) });
    process.exit(1);
  }
  send({ ready: true, ktname: process.env.KRB5_KTNAME });
  for await (const line of readline.createInterface({ input: process.stdin })) {
    const req = JSON.parse(line);
    try {
      if (req.op === 'accept') send({ id: req.id, ok: true, result: await acceptor.accept(req.token) });
      else if (req.op === 'use') send({ id: req.id, ok: true, result: useKerberosAcceptorKeytab(req.keytab) ?? null });
    } catch (e) {
      send({ id: req.id, ...failure(e) });
    }
  }
})();
`;

type Reply = { ok: true; result: { principal: string; responseToken: string | null } | null } | { ok: false; code: string; name: string; message: string };

/** One acceptor process (one keytab, one SPN), as one server process would be. */
class AcceptorProcess {
  private child!: ChildProcessWithoutNullStreams;
  private buffer = '';
  private stderr = '';
  private seq = 0;
  private waiting = new Map<number, (r: Reply) => void>();
  ktname = '';

  static async start(kdc: KdcFixture, keytab: string, spn: string): Promise<AcceptorProcess> {
    const p = new AcceptorProcess();
    const script = path.join(kdc.dir, 'acceptor-driver.ts');
    writeFileSync(script, DRIVER);
    // Only the fixture's KRB5_CONFIG/KRB5RCACHEDIR: the driver must set KRB5_KTNAME itself.
    const env = { ...process.env, ...kdc.env };
    delete env.KRB5_KTNAME;
    p.child = spawn(TSX, [script, keytab, kdc.krb5Config, spn], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    p.child.stderr.on('data', (d: Buffer) => (p.stderr += d.toString()));
    const ready = new Promise<{ ready: boolean; ktname?: string; message?: string }>((resolve, reject) => {
      p.child.once('close', (code) => reject(new Error(`acceptor driver exited ${code}: ${p.buffer}${p.stderr}`)));
      p.child.stdout.on('data', (d: Buffer) => {
        p.buffer += d.toString();
        let i: number;
        while ((i = p.buffer.indexOf('\n')) >= 0) {
          const msg = JSON.parse(p.buffer.slice(0, i));
          p.buffer = p.buffer.slice(i + 1);
          if ('ready' in msg) resolve(msg);
          else p.waiting.get(msg.id)?.(msg);
        }
      });
    });
    const r = await ready;
    if (!r.ready) throw new Error(`acceptor driver failed to start: ${r.message}`);
    p.ktname = r.ktname ?? '';
    return p;
  }

  request(req: Record<string, unknown>): Promise<Reply> {
    const id = ++this.seq;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.child.stdin.write(JSON.stringify({ ...req, id }) + '\n');
    });
  }

  accept(token: string): Promise<Reply> {
    return this.request({ op: 'accept', token });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise((r) => this.child.once('exit', r));
    this.child.stdin.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(t);
  }
}

function expectRefused(r: Reply): string {
  if (r.ok) throw new Error(`expected a refusal, got ${JSON.stringify(r.result)}`);
  expect(r.code).toBe('AuthenticationRequired');
  return r.message;
}

/** Hand-made SPNEGO NegTokenInit offering NTLM then Kerberos with no mechanism token: the acceptor must ask for another leg. */
const NEEDS_ANOTHER_LEG = Buffer.from(
  '6027' + '06062b0601050502' + 'a01d301ba019' + '3017' + '060a2b06010401823702020a' + '06092a864886f712010202',
  'hex',
).toString('base64');

describe('KerberosNegotiateAcceptor (real MIT KDC)', () => {
  let kdc: KdcFixture;
  let acceptor: AcceptorProcess;
  let aliceEnv: Record<string, string>;

  beforeAll(async () => {
    kdc = await startKdc();
    acceptor = await AcceptorProcess.start(kdc, kdc.keytab, kdc.spn);
    aliceEnv = (await kdc.kinit('alice', ALICE_PASSWORD)).env;
  }, 120_000);

  afterAll(async () => {
    await acceptor?.stop();
    await kdc?.stop();
  });

  it('sets KRB5_KTNAME from the configured keytab', () => {
    expect(acceptor.ktname).toBe(`FILE:${kdc.keytab}`);
  });

  it('accepts a kinit-ed user’s SPNEGO token as name@REALM, with a mutual-authentication answer', async () => {
    const token = await negotiateToken(aliceEnv, 'HTTP@rms.openrms.test');
    const r = await acceptor.accept(token);
    expect(r).toMatchObject({ ok: true, result: { principal: 'alice@OPENRMS.TEST' } });
    expect(r.ok && r.result?.responseToken).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
  });

  it('tells users apart', async () => {
    const bob = await kdc.kinit('bob', BOB_PASSWORD);
    const r = await acceptor.accept(await negotiateToken(bob.env, 'HTTP@rms.openrms.test'));
    expect(r).toMatchObject({ ok: true, result: { principal: 'bob@OPENRMS.TEST' } });
  });

  it('refuses the same token a second time (replay)', async () => {
    const token = await negotiateToken(aliceEnv, 'HTTP@rms.openrms.test');
    expect((await acceptor.accept(token)).ok).toBe(true);
    expect(expectRefused(await acceptor.accept(token))).toMatch(/replay/i);
  });

  it('refuses a ticket for another service', async () => {
    const token = await negotiateToken(aliceEnv, 'HTTP@other.openrms.test');
    expectRefused(await acceptor.accept(token));
  });

  it('refuses a ticket for another service even when the keytab holds that service’s key too', async () => {
    const both = await AcceptorProcess.start(kdc, kdc.bothKeytab, kdc.spn);
    try {
      const mine = await negotiateToken(aliceEnv, 'HTTP@rms.openrms.test');
      expect(await both.accept(mine)).toMatchObject({ ok: true, result: { principal: 'alice@OPENRMS.TEST' } });
      const theirs = await negotiateToken(aliceEnv, 'HTTP@other.openrms.test');
      expect(expectRefused(await both.accept(theirs))).toMatch(/does not match|HTTP\/rms/);
    } finally {
      await both.stop();
    }
  });

  it('refuses garbage, truncated, empty, non-base64 and oversize tokens without echoing them', async () => {
    const good = await negotiateToken(aliceEnv, 'HTTP@rms.openrms.test');
    const truncated = good.slice(0, Math.floor(good.length / 2 / 4) * 4);
    const garbage = Buffer.from('this is not an ASN.1 GSS token at all').toString('base64');
    const cases = [garbage, truncated, 'AAAA', '', 'not base64!', `${good}\r\n`, `${good.slice(0, -4)}$$$$`, 'A'.repeat(MAX_NEGOTIATE_TOKEN_BASE64 + 4)];
    for (const token of cases) {
      const message = expectRefused(await acceptor.accept(token));
      if (token.length > 8) expect(message).not.toContain(token.slice(0, 16));
    }
  });

  it('refuses a SPNEGO exchange that needs another round trip', async () => {
    expectRefused(await acceptor.accept(NEEDS_ANOTHER_LEG));
  });

  it('refuses to switch the process to another keytab', async () => {
    const r = await acceptor.request({ op: 'use', keytab: kdc.otherKeytab });
    expect(r).toMatchObject({ ok: false, code: 'InvalidInput' });
    // The same keytab again is fine (idempotent start-up).
    expect(await acceptor.request({ op: 'use', keytab: kdc.keytab })).toMatchObject({ ok: true });
  });

  it('reports a keytab without the SPN as Unavailable at start-up, not as a client failure', async () => {
    await expect(AcceptorProcess.start(kdc, kdc.otherKeytab, kdc.spn)).rejects.toThrow(/Unavailable|unusable/);
  });
});

describe('KerberosNegotiateAcceptor (no library call)', () => {
  const dir = path.join(os.tmpdir(), `openrms-kt-${process.pid}-${Date.now()}`);
  const keytab = `${dir}.keytab`;
  beforeAll(() => writeFileSync(keytab, Buffer.from([0x05, 0x02])));
  afterAll(() => rmSync(keytab, { force: true }));

  it('needs a readable keytab file', () => {
    const make = (kt: string) => () => new KerberosNegotiateAcceptor({ keytab: kt, spn: 'HTTP/rms.openrms.test@OPENRMS.TEST' });
    for (const kt of [path.join(dir, 'missing.keytab'), '', os.tmpdir()]) {
      expect(make(kt)).toThrow(expect.objectContaining({ code: 'InvalidInput' }));
    }
    expect(make(keytab)().servicePrincipal).toBe('HTTP/rms.openrms.test@OPENRMS.TEST');
  });

  it('refuses empty, non-base64 and oversize tokens before the library sees them', async () => {
    const a = new KerberosNegotiateAcceptor({ keytab, spn: 'HTTP/rms.openrms.test@OPENRMS.TEST' });
    for (const t of ['', 'abc', 'ab$=', 'YWJj\n', ' YWJj', 'A'.repeat(MAX_NEGOTIATE_TOKEN_BASE64 + 4)]) {
      const e = await a.accept(t).catch((x: unknown) => x);
      expect(isRmsError(e, 'AuthenticationRequired')).toBe(true);
    }
  });

  it('turns HTTP/host@REALM into HTTP@host and rejects other shapes', () => {
    expect(spnToHostService('HTTP/rms.openrms.test@OPENRMS.TEST')).toBe('HTTP@rms.openrms.test');
    expect(spnToHostService('HTTP/rms@EXAMPLE.COM')).toBe('HTTP@rms');
    for (const bad of ['HTTP@rms.openrms.test', 'HTTP/rms.openrms.test', '/rms@R', 'HTTP/a b@R', 'HTTP/rms/x@R', 'HTTP/rms@R@S', 'HTTP/-rms@R', '']) {
      expect(() => spnToHostService(bad)).toThrow(expect.objectContaining({ code: 'InvalidInput' }));
    }
  });
});
