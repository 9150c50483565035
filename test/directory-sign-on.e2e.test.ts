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
      ['directory', 'set', '--database', db.url, '--kind', 'ldap', '--url', slapd.url, '--bind-dn', SEED_BIND_DN, '--bind-password-env', 'BIND_PW', '--base-dn', SEED_BASE_DN, '--realm', kdc.realm, '--cache-ttl', '300', '--admin-group', SEED_GROUPS.finance.mail],
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
  const kerberosClient = async (user: keyof typeof KDC_USERS, stateDir = path.join(state, 'kerberos')) => {
    const t = await kdc.kinit(user, KDC_USERS[user]);
    return new RmsClient({
      serverUrl: base,
      user,
      // Only wraps the local key store; the server never sees it.
      password: `${user}-local-store-1`,
      stateDir,
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

  test('the admin pages take Kerberos too: members of the directory admin group get them, others a 403', async () => {
    const bob = await kdc.kinit('bob', KDC_USERS.bob);
    const page = await curlNegotiate(`http://${SERVICE_HOST}:${port}/_wmcs/admin/`, { env: bob.env });
    expect(page.status).toBe(200);
    expect(page.body).toContain('</html>');
    const alice = await kdc.kinit('alice', KDC_USERS.alice);
    expect((await curlNegotiate(`http://${SERVICE_HOST}:${port}/_wmcs/admin/`, { env: alice.env })).status).toBe(403);
    const unauthenticated = await fetch(`${base}/_wmcs/admin/`);
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get('www-authenticate')).toMatch(/^Negotiate, Basic realm="OpenRMS administration"/);
  });

  test('carol, not a member, is refused with the no-rights fault', async () => {
    const carol = await kerberosClient('carol');
    await expect(carol.open(protectedFile)).rejects.toMatchObject({ kind: 'fault', faultName: expect.stringContaining('NoRightsForRequestedPrincipalException') });
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
      // Past the acceptor's 64 KiB cap, under the server's header cap.
      `Negotiate ${'A'.repeat(70_000)}`,
      'Negotiate',
      `Basic ${Buffer.from(`*)(uid=*:${SEED_USERS.alice.password}`).toString('base64')}`,
      `Basic ${Buffer.from(`alice\u0000:${SEED_USERS.alice.password}`).toString('base64')}`,
      `Basic ${Buffer.from('alice:').toString('base64')}`,
    ]) {
      const res = await post(authorization);
      expect({ authorization: authorization.slice(0, 40), status: res.status }).toEqual({ authorization: authorization.slice(0, 40), status: 401 });
    }
    // Past the header cap: refused before anyone looks at it.
    expect((await post(`Negotiate ${'A'.repeat(200_000)}`)).status).toBe(431);
    const after = await openStore(db.url);
    expect((await after.principals.list()).length).toBe(before);
    await after.close();
  });

  test('the directory stopped: uncached sign-on fails with the protocol fault, the member stays up, and recovers by itself', async () => {
    const basic = (user: string, password: string) =>
      fetch(`${base}/_wmcs/licensing/server.asmx`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`, 'content-type': 'text/xml' }, body: soapGetServerInfo() });
    expect(rmsctl(['directory', 'flush', '--database', db.url]).code).toBe(0);
    // Wait until this member has dropped its cache (erin has never signed on; alice's answer is fresh).
    await eventually('the flush reached the member', async () => (await basic('alice', SEED_USERS.alice.password)).status, (s) => s === 200);
    await slapd.stop();
    try {
      // A bounded burst of requests from a person whose answer is cached: all served during the outage.
      const statuses = await Promise.all(Array.from({ length: 40 }, () => basic('alice', SEED_USERS.alice.password).then((r) => r.status)));
      expect(statuses.filter((s) => s !== 200)).toEqual([]);
      const res = await eventually('a sign-on fault while the directory is down', () => basic('erin', SEED_USERS.erin.password), (r) => r.status === 500);
      expect(await res.text()).toContain('ADEntrySearchFailedException');
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const ready = await eventually(
        'the directory reported degraded',
        async () => (await (await fetch(`${base}/readyz`)).json()) as { status: string; checks: Record<string, string> },
        (r) => r.checks.directory === 'degraded',
      );
      expect(ready.status).toBe('ready');
    } finally {
      await slapd.start();
    }
    await eventually('erin signs on once the directory is back', async () => (await basic('erin', SEED_USERS.erin.password)).status, (s) => s === 200);
    expect(server.output()).toMatch(/directory call failed/);
  });

  test('a licensing-only cluster on the same directory serves the same people with no users add', async () => {
    // The root lets a directory group sub-enroll: alice is in staff (a group without an address).
    const grant = rmsctl(['dacl', 'grant', '--database', db.url, '--endpoint', '/_wmcs/certification/SubEnrollService.asmx', '--principal', 'staff', '--right', 'Execute']);
    expect(grant.stderr).toBe('');
    expect(grant.code).toBe(0);
    const licDb = sqliteDatabase();
    const licPort = await freePort();
    const licBase = `http://127.0.0.1:${licPort}`;
    const env = { ADMIN_PW, KEY_PW, BIND_PW: SEED_BIND_PASSWORD, ALICE_PW: SEED_USERS.alice.password };
    const provision = () =>
      rmsctl(
        ['provision', 'licensing', '--root-url', `${base}/_wmcs`, '--root-user', 'alice', '--root-password-env', 'ALICE_PW', '--database', licDb.url, '--cluster-url', licBase, '--service-account', 'lic-svc', '--admin', 'lic-admin', '--admin-password-env', 'ADMIN_PW', '--key-password-env', 'KEY_PW'],
        env,
      );
    // The root member re-reads its DACLs every 5 s.
    const provisioned = await eventually('sub-enrollment accepted', async () => provision(), (r) => r.code === 0);
    expect(provisioned.stdout).toMatch(/chain of 2/);
    const set = rmsctl(['directory', 'set', '--database', licDb.url, '--kind', 'ldap', '--url', slapd.url, '--bind-dn', SEED_BIND_DN, '--bind-password-env', 'BIND_PW', '--base-dn', SEED_BASE_DN], env);
    expect(set.code).toBe(0);
    const lic = background(TSX_BIN, [path.join(REPO, 'apps/cli/src/main.ts'), 'serve', '--database', licDb.url, '--listen', `127.0.0.1:${licPort}`, '--key-password-env', 'KEY_PW'], {
      env: { KEY_PW, RMS_LOG_LEVEL: 'warn' },
    });
    try {
      await lic.waitFor(/listening on http/, DEADLINE_MS);
      const alice = new RmsClient({ serverUrl: licBase, user: 'alice', password: SEED_USERS.alice.password, stateDir: tempDir('dir-e2e-lic') });
      const file = await alice.protect(Buffer.from('departmental plan'), { grants: [{ right: 'VIEW', grantee: { kind: 'email', email: SEED_GROUPS.finance.mail } }] });
      const bob = new RmsClient({ serverUrl: licBase, user: 'bob', password: SEED_USERS.bob.password, stateDir: tempDir('dir-e2e-lic') });
      expect((await bob.open(file)).content.toString()).toBe('departmental plan');
      const carol = new RmsClient({ serverUrl: licBase, user: 'carol', password: SEED_USERS.carol.password, stateDir: tempDir('dir-e2e-lic') });
      await expect(carol.open(file)).rejects.toMatchObject({ faultName: expect.stringContaining('NoRightsForRequestedPrincipalException') });
      const users = rmsctl(['users', 'show', 'bob', '--database', licDb.url, '--key-password-env', 'KEY_PW', '--json'], env);
      expect(users.code).toBe(0);
      const shown = JSON.parse(users.stdout) as { source: string; aliases: string[]; groups: { name: string; path: string[] }[] };
      expect(shown.source).toBe('ldap');
      expect(shown.aliases).toEqual(['bob.builder@openrms.test']);
      expect(shown.groups.find((g) => g.name === 'finance')?.path).toEqual(['finance-emea', 'finance']);
    } finally {
      await lic.stop();
      licDb.dispose();
    }
  });

  test('after bob is disabled in the directory and the caches are flushed, he gets no RAC and no licence', async () => {
    const bob = await kerberosClient('bob');
    expect((await bob.open(protectedFile)).content.toString()).toBe('quarterly figures');
    await ldapModify(slapd, `dn: ${SEED_USERS.bob.dn}\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n`);
    expect(rmsctl(['directory', 'flush', '--database', db.url]).code).toBe(0);
    // His RAC is still in his state folder: the licence request itself is refused (he cannot sign on).
    const refused = await eventually(
      'bob refused',
      () => bob.open(protectedFile).then(() => undefined, (e: { kind?: string }) => e),
      (e) => e !== undefined,
    );
    expect(refused).toMatchObject({ kind: 'unauthorized' });
    // A fresh machine gets no RAC either.
    const fresh = await kerberosClient('bob', tempDir('dir-e2e-fresh'));
    await expect(fresh.identity()).rejects.toMatchObject({ kind: 'unauthorized' });
    // Nor does a Basic sign-on with his directory password.
    await expect(new RmsClient({ serverUrl: base, user: 'bob', password: SEED_USERS.bob.password, stateDir: tempDir('dir-e2e-basic') }).identity()).rejects.toMatchObject({ kind: 'unauthorized' });
  });
});
