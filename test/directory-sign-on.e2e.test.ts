import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { RmsClient } from '@openrms/client';
import { openStore } from '@openrms/store';
import { sqliteDatabase, tempDir, type TestDatabase } from './support/databases';
import { curlNegotiate, type KdcFixture, KDC_USERS, negotiateToken, OTHER_SERVICE_HOST, SERVICE_HOST, startKdc } from './support/kdc';
import { background, REPO, rmsctl, TSX_BIN, type Background } from './support/processes';
import { freePort } from './support/root-cluster';
import { SEED_BASE_DN, SEED_BIND_DN, SEED_BIND_PASSWORD, SEED_GROUPS, SEED_USERS, startSlapd, type Slapd } from './support/slapd';

/*
 * Issue: people and groups come from the directory and Windows-style clients sign on with
 * Kerberos. A real OpenLDAP slapd and a real MIT KDC run on loopback; the member is a real process
 * (the Kerberos library reads its keytab from the process environment).
 */

const KEY_PW = 'cluster-key-password-1';
const ADMIN_PW = 'admin-password-1';
const DEADLINE_MS = 60_000;

async function eventually<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, ms = DEADLINE_MS): Promise<T> {
  const until = Date.now() + ms;
  let last: T | undefined;
  let lastError: unknown;
  while (Date.now() < until) {
    try {
      last = await fn();
      if (ok(last)) return last;
    } catch (e) {
      lastError = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} did not happen within ${ms} ms; last value ${JSON.stringify(last)}; last error ${String(lastError)}`);
}

/** Changes the directory as its administrator would: offline with slapmodify (the fixture's rootdn has no password). */
async function ldapModify(slapd: Slapd, ldif: string): Promise<void> {
  await slapd.stop();
  try {
    const r = spawnSync('/usr/sbin/slapmodify', ['-q', '-f', path.join(slapd.dir, 'slapd.conf')], { input: ldif, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`slapmodify failed: ${r.stderr}`);
  } finally {
    await slapd.start();
  }
}

describe('directory people and Kerberos sign-on (slapd + MIT KDC, member process)', () => {
  let slapd: Slapd;
  let kdc: KdcFixture;
  let db: TestDatabase;
  let server: Background;
  let port: number;
  let base: string;
  let state: string;
  const soapGetServerInfo = (ns = 'http://microsoft.com/DRM/ServerService') =>
    `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetServerInfo xmlns="${ns}"><requests><ServerInfoRequest><Type>VersionInfo</Type></ServerInfoRequest></requests></GetServerInfo></soap:Body></soap:Envelope>`;

  beforeAll(async () => {
    [slapd, kdc] = await Promise.all([startSlapd(), startKdc()]);
    db = sqliteDatabase();
    state = tempDir('dir-e2e');
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const env = { ADMIN_PW, KEY_PW, BIND_PW: SEED_BIND_PASSWORD };
    const prov = rmsctl(['provision', 'root', '--database', db.url, '--cluster-url', base, '--service-account', 'rms-svc', '--admin', 'admin', '--admin-password-env', 'ADMIN_PW', '--key-password-env', 'KEY_PW'], env);
    expect(prov.stderr).toBe('');
    const set = rmsctl(
      ['directory', 'set', '--database', db.url, '--kind', 'ldap', '--url', slapd.url, '--bind-dn', SEED_BIND_DN, '--bind-password-env', 'BIND_PW', '--base-dn', SEED_BASE_DN, '--realm', kdc.realm, '--cache-ttl', '300'],
      env,
    );
    expect(set.stderr).toBe('');
    expect(set.code).toBe(0);
    server = background(
      TSX_BIN,
      [path.join(REPO, 'apps/cli/src/main.ts'), 'serve', '--database', db.url, '--listen', `127.0.0.1:${port}`, '--key-password-env', 'KEY_PW', '--keytab', kdc.keytab, '--spn', kdc.spn, '--krb5-config', kdc.krb5Config],
      { env: { KEY_PW, RMS_LOG_LEVEL: 'info', ...kdc.env } },
    );
    await server.waitFor(/listening on http/, DEADLINE_MS);
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
    await slapd?.close();
    await kdc?.stop();
    db?.dispose();
  });

  const basicClient = (user: string, password: string) => new RmsClient({ serverUrl: base, user, password, stateDir: path.join(state, 'basic') });
  const kerberosClient = async (user: keyof typeof KDC_USERS) => {
    const t = await kdc.kinit(user, KDC_USERS[user]);
    return new RmsClient({
      serverUrl: base,
      user,
      // Only wraps the local key store; the server never sees it.
      password: `${user}-local-store-1`,
      stateDir: path.join(state, 'kerberos'),
      authorization: async () => `Negotiate ${await negotiateToken(t.env, `HTTP@${SERVICE_HOST}`)}`,
    });
  };

  let protectedFile: Buffer;

  test('the 401 challenge offers Negotiate and Basic, Negotiate first, as configured', async () => {
    const res = await fetch(`${base}/_wmcs/licensing/server.asmx`, { method: 'POST', body: soapGetServerInfo() });
    expect(res.status).toBe(401);
    const challenges = res.headers.get('www-authenticate') ?? '';
    expect(challenges).toMatch(/^Negotiate, Basic realm="OpenRMS"/);
  });

  test('curl --negotiate with a ticket from the KDC calls a service; no local row was needed', async () => {
    const alice = await kdc.kinit('alice', KDC_USERS.alice);
    const r = await curlNegotiate(`http://${SERVICE_HOST}:${port}/_wmcs/licensing/server.asmx`, {
      env: alice.env,
      method: 'POST',
      headers: { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: '"http://microsoft.com/DRM/ServerService/GetServerInfo"' },
      data: soapGetServerInfo(),
    });
    expect(r.status).toBe(200);
    expect(r.body).toContain('GetServerInfoResponse');
  });

  test('alice (directory user, Basic checked by an LDAP bind) protects a file for the group finance@', async () => {
    const alice = basicClient('alice', SEED_USERS.alice.password);
    expect((await alice.identity()).email).toBe('alice@openrms.test');
    protectedFile = await alice.protect(Buffer.from('quarterly figures'), { grants: [{ right: 'VIEW', grantee: { kind: 'email', email: SEED_GROUPS.finance.mail } }] });
    // A wrong password is a wrong password: no licence, no RAC.
    await expect(basicClient('alice', 'not-her-password').identity()).rejects.toMatchObject({ kind: 'unauthorized' });
  });

  test('bob, in finance-emea inside finance, opens it after signing on with Kerberos', async () => {
    const bob = await kerberosClient('bob');
    const opened = await bob.open(protectedFile);
    expect(opened.content.toString()).toBe('quarterly figures');
    expect((await bob.identity()).email).toBe('bob@openrms.test');
  });

  test('carol, not a member, is refused with the no-rights fault', async () => {
    const carol = await kerberosClient('carol');
    await expect(carol.open(protectedFile)).rejects.toThrow(/NoRightsForRequestedPrincipal/);
  });

  test('hostile sign-on: a ticket for another service, garbage tokens, filter injection: 401 and nothing written', async () => {
    const store = await openStore(db.url);
    const before = (await store.principals.list()).length;
    await store.close();
    const bob = await kdc.kinit('bob', KDC_USERS.bob);
    const other = await negotiateToken(bob.env, `HTTP@${OTHER_SERVICE_HOST}`);
    const post = (authorization: string) =>
      fetch(`${base}/_wmcs/licensing/server.asmx`, { method: 'POST', headers: { authorization, 'content-type': 'text/xml' }, body: soapGetServerInfo() });
    for (const authorization of [
      `Negotiate ${other}`,
      'Negotiate !!!not-base64!!!',
      `Negotiate ${Buffer.alloc(4096, 7).toString('base64')}`,
      `Negotiate ${'A'.repeat(200_000)}`,
      'Negotiate',
      `Basic ${Buffer.from(`*)(uid=*:${SEED_USERS.alice.password}`).toString('base64')}`,
      `Basic ${Buffer.from(`alice\u0000:${SEED_USERS.alice.password}`).toString('base64')}`,
      `Basic ${Buffer.from('alice:').toString('base64')}`,
    ]) {
      const res = await post(authorization);
      expect({ authorization: authorization.slice(0, 40), status: res.status }).toEqual({ authorization: authorization.slice(0, 40), status: 401 });
    }
    const after = await openStore(db.url);
    expect((await after.principals.list()).length).toBe(before);
    await after.close();
  });

  test('the directory stopped: uncached sign-on fails with the protocol fault, the member stays up, and recovers by itself', async () => {
    expect(rmsctl(['directory', 'flush', '--database', db.url]).code).toBe(0);
    await slapd.stop();
    try {
      const res = await eventually(
        'a sign-on fault while the directory is down',
        () => fetch(`${base}/_wmcs/licensing/server.asmx`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from(`alice:${SEED_USERS.alice.password}`).toString('base64')}`, 'content-type': 'text/xml' }, body: soapGetServerInfo() }),
        (r) => r.status === 500,
      );
      expect(await res.text()).toContain('ADEntrySearchFailedException');
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const ready = (await (await fetch(`${base}/readyz`)).json()) as { status: string; checks: Record<string, string> };
      expect(ready.status).toBe('ready');
      expect(ready.checks.directory).toBe('degraded');
    } finally {
      await slapd.start();
    }
    await eventually('alice signs on again', () => basicClient('alice', SEED_USERS.alice.password).identity().then((i) => i.email), (e) => e === 'alice@openrms.test');
    expect(server.output()).toMatch(/directory call failed/);
  });

  test('after bob is disabled in the directory and the caches are flushed, he gets no RAC and no licence', async () => {
    const bob = await kerberosClient('bob');
    expect((await bob.open(protectedFile)).content.toString()).toBe('quarterly figures');
    await ldapModify(slapd, `dn: ${SEED_USERS.bob.dn}\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n`);
    expect(rmsctl(['directory', 'flush', '--database', db.url]).code).toBe(0);
    await eventually(
      'bob refused',
      () => bob.open(protectedFile).then(() => 'opened', (e: Error) => e.message),
      (m) => m !== 'opened',
    );
    const fresh = await kerberosClient('bob');
    await expect(fresh.identity()).rejects.toMatchObject({ kind: 'unauthorized' });
  });
});
