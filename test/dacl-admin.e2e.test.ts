import { loadServerConfig } from '@openrms/config';
import { addGroup, addUser } from '@openrms/issuance';
import { startServer, type RunningServer } from '@openrms/server';
import { XmlWriter } from '@openrms/soap';
import { openStore } from '@openrms/store';
import { FakeClient } from '../packages/issuance/src/testing/fake-client';
import { postgresDatabase, sqliteDatabase, type TestDatabase } from './support/databases';
import { rmsctl } from './support/processes';
import { freePort, startTestRoot, type TestRoot } from './support/root-cluster';
import { certificatesIn, envelope, postSoap, type RawResponse, SERVER_NS, versionData } from './support/soap-client';

const CERT_NS = 'http://microsoft.com/DRM/CertificationService';
const SERVER_CERT = '/_wmcs/certification/servercertification.asmx';
const LICENSING_SERVER = '/_wmcs/licensing/server.asmx';
const PASSWORDS = { bob: 'bob-password-1', carol: 'carol-password-1', mallory: 'mallory-password-1' };
type Credentials = { name: string; password: string };

/** Retries `check` until it holds or `ms` pass; resolves with how long it took. */
async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * rmsctl runs through spawnSync, which blocks this process, and the servers in it, for seconds.
 * Afterwards the servers' keep-alive timers and fetch's reuse of its idle connections race, and a
 * reused connection can be reset under load. A call that never got an answer is sent again.
 */
async function resending(call: () => Promise<RawResponse>): Promise<RawResponse> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (attempt >= 2 || !/fetch failed/.test(String(e))) throw e;
    }
  }
}

interface ApiResponse {
  status: number;
  headers: Headers;
  body: any;
}

async function api(base: string, method: string, path: string, o: { auth?: Credentials | null; json?: unknown; raw?: string; contentType?: string } = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = {};
  if (o.auth) headers.authorization = `Basic ${Buffer.from(`${o.auth.name}:${o.auth.password}`).toString('base64')}`;
  let body: string | undefined;
  if (o.json !== undefined || o.raw !== undefined) {
    headers['content-type'] = o.contentType ?? 'application/json';
    body = o.raw ?? JSON.stringify(o.json);
  }
  const res = await fetch(`${base}/_wmcs/admin/api${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // left as text
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

function expectProblem(r: ApiResponse, status: number, detail?: RegExp): void {
  expect(r.status).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(r.body).toMatchObject({ status, title: expect.any(String), type: expect.any(String) });
  expect(r.body.instance).toBe(r.headers.get('x-request-id'));
  if (detail) expect(r.body.detail).toMatch(detail);
  expect(JSON.stringify(r.body)).not.toMatch(/\bat .*\.ts:\d+/);
}

const targets: [string, () => TestDatabase][] = [
  ['SQLite', sqliteDatabase],
  ['PostgreSQL', postgresDatabase],
];

describe.each(targets)('DACL administration on %s, two members', (_label, makeDb) => {
  let root: TestRoot;
  let second: RunningServer;
  let members: string[];
  let admin: Credentials;
  const bob: Credentials = { name: 'bob', password: PASSWORDS.bob };
  const carol: Credentials = { name: 'carol', password: PASSWORDS.carol };
  const mallory: Credentials = { name: 'mallory', password: PASSWORDS.mallory };
  const machine = new FakeClient(new Date());

  beforeAll(async () => {
    root = await startTestRoot(makeDb());
    admin = root.admin;
    const port = await freePort();
    second = await startServer(
      loadServerConfig(
        { database: root.db.url, listen: `127.0.0.1:${port}`, keyPasswordEnv: 'KP', serverName: 'test-member-2' },
        { KP: root.keyPassword, RMS_LOG_LEVEL: 'silent' },
      ),
    );
    members = [root.server.url, second.url];
    await addGroup(root.db.url, { name: 'finance' });
    await addUser(root.db.url, { name: 'bob', email: 'bob@example.test', password: PASSWORDS.bob, groups: [] });
    await addUser(root.db.url, { name: 'carol', email: 'carol@example.test', password: PASSWORDS.carol, groups: ['finance'] });
    await addUser(root.db.url, { name: 'mallory', email: 'mallory@example.test', password: PASSWORDS.mallory, groups: ['finance'] });
  });
  afterAll(async () => {
    // rmsctl's spawnSync blocks this process, so both members' refresh timers fire late and at once
    // when it returns; ClusterRuntime.close does not wait for a refresh in flight, whose next query
    // would then wait on a closed pool for a minute. Let those refreshes finish first.
    await new Promise((r) => setTimeout(r, 500));
    await second?.close();
    await root?.stop();
  });

  /** Certify on ServerCertification.asmx with a real machine certificate: 200 and a RAC chain when allowed. */
  const certify = (base: string, who: Credentials) =>
    resending(() => postSoap({
      url: `${base}/_wmcs/Certification/ServerCertification.asmx`,
      action: `${CERT_NS}/Certify`,
      auth: who,
      body: envelope({
        header: versionData(CERT_NS),
        body: `<Certify xmlns="${CERT_NS}">${new XmlWriter()
          .element('requestParams', (p) => p.certificateArray('MachineCertificateChain', [machine.spc]).leaf('Persistent', true))
          .toXml()}</Certify>`,
      }),
    }));
  const getSlc = (base: string, who: Credentials) =>
    resending(() =>
      postSoap({
        url: `${base}${LICENSING_SERVER}`,
        action: `${SERVER_NS}/GetLicensorCertificate`,
        auth: who,
        body: envelope({ header: versionData(SERVER_NS), body: `<GetLicensorCertificate xmlns="${SERVER_NS}"/>` }),
      }),
    );
  /**
   * Every member comes to answer with `status` by itself (members re-read DACLs every 5 s); the
   * deadline is for a loaded machine, not a speed check.
   */
  const onEveryMember = (call: (base: string) => Promise<{ status: number }>, status: number) =>
    Promise.all(members.map((m) => within(60_000, async () => (await call(m)).status === status)));

  const change = (body: Record<string, unknown>, who: Credentials = admin) => api(members[0]!, 'POST', '/dacl', { auth: who, json: body });
  const auditLog = async (limit = 200) => (await api(members[0]!, 'GET', `/audit?limit=${limit}`, { auth: admin })).body.entries as any[];
  const snapshot = async () => {
    const store = await openStore(root.db.url);
    try {
      return { dacl: (await store.dacl.list()).map((e) => `${e.endpoint} ${e.principalName} ${e.right} ${e.effect}`), audit: (await store.audit.list({ limit: 1000 })).length, version: await store.settings.configVersion() };
    } finally {
      await store.close();
    }
  };

  it('keeps ServerCertification.asmx closed to users; a grant with rmsctl opens it on both members within 5 s, audited', async () => {
    for (const m of members) {
      const r = await certify(m, bob);
      expect(r.status).toBe(403);
      expect(r.text).toContain('System.UnauthorizedAccessException');
    }
    const versionBefore = (await snapshot()).version;
    const cli = rmsctl(['dacl', 'grant', '--database', root.db.url, '--endpoint', '/_WMCS/Certification/ServerCertification.asmx', '--principal', 'BOB', '--right', 'execute', '--actor', 'ops-oncall']);
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(cli.stdout.trim()).toBe(`${SERVER_CERT}: allow Execute for "bob" added`);
    await onEveryMember((m) => certify(m, bob), 200);
    const ok = await certify(members[1]!, bob);
    expect(certificatesIn(ok.text).length).toBeGreaterThanOrEqual(2);
    expect((await snapshot()).version).toBe(versionBefore + 1);

    const entry = (await auditLog()).find((e) => e.action === 'dacl.grant' && e.actor === 'ops-oncall');
    expect(entry).toMatchObject({ target: SERVER_CERT });
    const bobAllow = { principal: 'bob', kind: 'user', right: 'Execute', effect: 'allow' };
    expect(entry.before).not.toContainEqual(bobAllow);
    expect(entry.before).toContainEqual({ principal: 'RMS Service Group', kind: 'group', right: 'Execute', effect: 'allow' });
    expect(entry.after).toEqual(expect.arrayContaining([...entry.before, bobAllow]));
    expect(entry.after).toHaveLength(entry.before.length + 1);
  }, 60_000);

  it('lets a deny entry win over a group allow, and a revoke restore access, on both members (admin API)', async () => {
    const grant = await change({ action: 'grant', endpoint: SERVER_CERT, principal: 'finance', right: 'Execute' });
    expect(grant.status).toBe(200);
    expect(grant.headers.get('content-type')).toMatch(/^application\/json/);
    expect(grant.body).toMatchObject({ action: 'grant', endpoint: SERVER_CERT, principal: 'finance', right: 'Execute', changed: true });
    // The member that handled the change applies it at once; the other within its refresh period.
    expect((await certify(members[0]!, carol)).status).toBe(200);
    await onEveryMember((m) => certify(m, carol), 200);

    const deny = await change({ action: 'deny', endpoint: '/_wmcs/certification/ServerCertification.asmx', principal: 'carol', right: 'Execute' });
    expect(deny.status).toBe(200);
    expect((await certify(members[0]!, carol)).status).toBe(403);
    await onEveryMember((m) => certify(m, carol), 403);
    // mallory is in finance too and not denied.
    expect((await certify(members[1]!, mallory)).status).toBe(200);

    const eff = await api(members[0]!, 'GET', `/dacl/effective?endpoint=${encodeURIComponent(SERVER_CERT)}&principal=carol`, { auth: admin });
    expect(eff.status).toBe(200);
    expect(eff.body.memberOf).toEqual(expect.arrayContaining(['finance', 'Authenticated Users', 'Everyone']));
    const byRight = Object.fromEntries((eff.body.rights as any[]).map((r) => [r.right, r]));
    expect(byRight.Execute).toMatchObject({ allowed: false, reason: 'denied-by-entry', decidedBy: [expect.objectContaining({ effect: 'deny', via: 'carol' })] });
    expect(byRight.Read).toMatchObject({ allowed: false, reason: 'no-matching-entry', decidedBy: [] });
    const effMallory = await api(members[0]!, 'GET', `/dacl/effective?endpoint=${encodeURIComponent(SERVER_CERT)}&principal=mallory`, { auth: admin });
    expect(effMallory.body.rights.find((r: any) => r.right === 'Execute')).toMatchObject({ allowed: true, reason: 'allowed-by-entry', decidedBy: [expect.objectContaining({ via: 'finance' })] });

    const revoke = await change({ action: 'revoke', endpoint: SERVER_CERT, principal: 'carol', right: 'Execute', effect: 'deny' });
    expect(revoke.status).toBe(200);
    expect(revoke.body.entries).toEqual([expect.objectContaining({ principal: 'carol', effect: 'deny', right: 'Execute' })]);
    await onEveryMember((m) => certify(m, carol), 200);

    const log = await auditLog();
    for (const action of ['dacl.grant', 'dacl.deny', 'dacl.revoke']) {
      const e = log.find((x) => x.action === action && x.actor === admin.name);
      expect(e).toMatchObject({ target: SERVER_CERT, before: expect.any(Array), after: expect.any(Array) });
    }
    const denied = log.find((x) => x.action === 'dacl.deny' && x.actor === admin.name);
    expect(denied.after).toContainEqual({ principal: 'carol', kind: 'user', right: 'Execute', effect: 'deny' });
    expect(denied.before).not.toContainEqual({ principal: 'carol', kind: 'user', right: 'Execute', effect: 'deny' });
    const revoked = log.find((x) => x.action === 'dacl.revoke' && x.actor === admin.name);
    expect(revoked.before).toEqual(denied.after);
  }, 60_000);

  it('applies a deny entry on licensing/server.asmx and its revoke on both members', async () => {
    await onEveryMember((m) => getSlc(m, bob), 200);
    expect((await change({ action: 'deny', endpoint: 'licensing/SERVER.asmx', principal: 'bob', right: 'FullControl' })).status).toBe(200);
    await onEveryMember((m) => getSlc(m, bob), 403);
    expect((await getSlc(members[1]!, carol)).status).toBe(200);
    const list = await api(members[1]!, 'GET', `/dacl?endpoint=${encodeURIComponent('/_WMCS/licensing/server.asmx')}`, { auth: admin });
    expect(list.status).toBe(200);
    expect(list.body.entries).toContainEqual(expect.objectContaining({ endpoint: LICENSING_SERVER, principal: 'bob', principalKind: 'user', right: 'FullControl', effect: 'deny', createdBy: admin.name }));
    expect((await change({ action: 'revoke', endpoint: LICENSING_SERVER, principal: 'bob', right: 'FullControl' })).status).toBe(200);
    await onEveryMember((m) => getSlc(m, bob), 200);
  }, 60_000);

  it('refuses non-administrators with 403 problem JSON, before reading the body, and changes nothing', async () => {
    const before = await snapshot();
    const r = await change({ action: 'grant', endpoint: SERVER_CERT, principal: 'mallory', right: 'FullControl' }, mallory);
    expectProblem(r, 403, /not a member of RMS Administrators/);
    expect(r.body.code).toBe('AccessDenied');
    expectProblem(await api(members[1]!, 'GET', '/dacl', { auth: bob }), 403);
    expectProblem(await api(members[1]!, 'GET', '/audit', { auth: bob }), 403);
    expectProblem(await api(members[0]!, 'POST', '/dacl', { auth: mallory, raw: '{not json' }), 403);
    expect(await snapshot()).toEqual(before);
  });

  it('answers unauthenticated callers with 401 and a Basic challenge', async () => {
    for (const auth of [null, { name: admin.name, password: 'wrong-password' }, { name: 'nobody', password: 'x' }]) {
      const r = await api(members[0]!, 'GET', '/dacl', { auth });
      expectProblem(r, 401);
      expect(r.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    }
    expectProblem(await api(members[1]!, 'POST', '/dacl', { auth: null, json: { action: 'grant' } }), 401);
  });

  it('rejects bad input with problem JSON and changes nothing', async () => {
    const before = await snapshot();
    const ok = { action: 'grant', endpoint: SERVER_CERT, principal: 'bob', right: 'Read' };
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ ...ok, endpoint: '/_wmcs/licensing/nope.asmx' }, /not an endpoint of this server/],
      [{ ...ok, endpoint: '/healthz' }, /not an endpoint of this server/],
      [{ ...ok, principal: 'nobody-here' }, /no user or group named "nobody-here"/],
      [{ ...ok, right: 'Write' }, /not a DACL right/],
      [{ ...ok, action: 'allow' }, /action must be one of grant, deny, revoke/],
      [{ ...ok, right: 7 }, /"right" must be a string/],
      [{ ...ok, extra: true }, /unknown field\(s\): extra/],
      [{ ...ok, effect: 'deny' }, /contradicts grant/],
    ];
    for (const [body, detail] of bad) {
      const r = await change(body);
      expectProblem(r, 400, detail);
      expect(r.body.code).toBe('InvalidInput');
    }
    const malformed = await api(members[0]!, 'POST', '/dacl', { auth: admin, raw: '{"action": "grant",' });
    expectProblem(malformed, 400, /not valid JSON/);
    expectProblem(await api(members[0]!, 'POST', '/dacl', { auth: admin, raw: '[1,2]' }), 400, /JSON object/);
    expectProblem(await api(members[0]!, 'POST', '/dacl', { auth: admin, raw: 'action=grant', contentType: 'application/x-www-form-urlencoded' }), 400, /application\/json/);
    const huge = await api(members[0]!, 'POST', '/dacl', { auth: admin, json: { ...ok, principal: 'x'.repeat(64 * 1024) } });
    expectProblem(huge, 413, /larger than/);
    expect(huge.body.code).toBe('RequestTooLarge');
    expectProblem(await change({ ...ok, action: 'revoke', principal: 'mallory' }), 404, /no allow or deny entry/);
    expectProblem(await api(members[0]!, 'GET', '/dacl?endpoint=/nope.asmx', { auth: admin }), 400, /not an endpoint/);
    expectProblem(await api(members[0]!, 'GET', `/dacl/effective?endpoint=${SERVER_CERT}`, { auth: admin }), 400, /"principal" is required/);
    expectProblem(await api(members[0]!, 'GET', `/dacl/effective?endpoint=${SERVER_CERT}&principal=ghost`, { auth: admin }), 400, /no user or group/);
    for (const limit of ['0', '1001', 'abc', '1.5']) expectProblem(await api(members[0]!, 'GET', `/audit?limit=${limit}`, { auth: admin }), 400, /limit/);
    expectProblem(await api(members[0]!, 'DELETE', '/dacl', { auth: admin }), 405);
    expectProblem(await api(members[0]!, 'GET', '/nothing-here', { auth: admin }), 404);
    expect(await snapshot()).toEqual(before);
    // Granting what is already there is not a change: nothing written, nothing audited.
    const again = await change({ action: 'grant', endpoint: SERVER_CERT, principal: 'RMS Service Group', right: 'Execute' });
    expect(again.status).toBe(200);
    expect(again.body.changed).toBe(false);
    expect(await snapshot()).toEqual(before);
    const limited = await api(members[0]!, 'GET', '/audit?limit=2', { auth: admin });
    expect(limited.body.entries).toHaveLength(2);
  }, 60_000);

  it('rmsctl dacl: list, grant, deny, check, revoke with exit codes and one-line errors', async () => {
    const db = root.db.url;
    const list = rmsctl(['dacl', 'list', '--database', db, '--endpoint', 'certification/ServerCertification.asmx']);
    expect(list.code).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ENDPOINT +PRINCIPAL +KIND +RIGHT +EFFECT$/);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${SERVER_CERT} +RMS Service Group +group +Execute +allow$`)));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${SERVER_CERT} +finance +group +Execute +allow$`)));
    expect(lines.slice(1).every((l) => l.startsWith(SERVER_CERT))).toBe(true);
    const all = rmsctl(['dacl', 'list', '--database', db]);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/\/_wmcs\/licensing\/license\.asmx +Authenticated Users +group +Read +allow/);

    const deny = rmsctl(['dacl', 'deny', '--database', db, '--endpoint', SERVER_CERT, '--principal', 'mallory', '--right', 'Execute']);
    expect(deny.code).toBe(0);
    expect(deny.stdout.trim()).toBe(`${SERVER_CERT}: deny Execute for "mallory" added`);
    const again = rmsctl(['dacl', 'deny', '--database', db, '--endpoint', SERVER_CERT, '--principal', 'mallory', '--right', 'Execute']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already has a deny entry for Execute; nothing changed/);

    const check = rmsctl(['dacl', 'check', '--database', db, '--endpoint', SERVER_CERT, '--principal', 'mallory']);
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/^mallory \(user\) on \/_wmcs\/certification\/servercertification\.asmx$/m);
    expect(check.stdout).toMatch(/^member of: .*finance/m);
    expect(check.stdout).toMatch(/^Execute +denied +denied-by-entry: deny Execute for "mallory"$/m);
    expect(check.stdout).toMatch(/^Read +denied +no-matching-entry$/m);
    const checkAdmin = rmsctl(['dacl', 'check', '--database', db, '--endpoint', 'licensing/license.asmx', '--principal', admin.name]);
    expect(checkAdmin.stdout).toMatch(/^FullControl +allowed +allowed-by-entry: allow FullControl for "RMS Administrators"$/m);
    await onEveryMember((m) => certify(m, mallory), 403);

    const revoke = rmsctl(['dacl', 'revoke', '--database', db, '--endpoint', SERVER_CERT, '--principal', 'mallory', '--right', 'Execute', '--effect', 'deny', '--actor', 'ops']);
    expect(revoke.code).toBe(0);
    expect(revoke.stdout.trim()).toBe(`${SERVER_CERT}: deny Execute for "mallory" removed`);
    await onEveryMember((m) => certify(m, mallory), 200);
    const log = await auditLog();
    expect(log.find((e) => e.action === 'dacl.revoke' && e.actor === 'ops')).toMatchObject({ target: SERVER_CERT });

    for (const [args, code, msg] of [
      [['dacl', 'revoke', '--database', db, '--endpoint', SERVER_CERT, '--principal', 'mallory', '--right', 'Execute'], 5, /no allow or deny entry for Execute of "mallory"/],
      [['dacl', 'grant', '--database', db, '--endpoint', '/_wmcs/nope.asmx', '--principal', 'bob', '--right', 'Read'], 2, /not an endpoint of this server/],
      [['dacl', 'grant', '--database', db, '--endpoint', SERVER_CERT, '--principal', 'ghost', '--right', 'Read'], 2, /no user or group named "ghost"/],
      [['dacl', 'deny', '--database', db, '--endpoint', SERVER_CERT, '--principal', 'bob', '--right', 'Write'], 2, /not a DACL right/],
      [['dacl', 'revoke', '--database', db, '--endpoint', SERVER_CERT, '--principal', 'bob', '--right', 'Read', '--effect', 'maybe'], 2, /--effect must be allow or deny/],
      [['dacl', 'grant', '--database', db, '--endpoint', SERVER_CERT, '--principal', 'bob'], 2, /--right is required/],
      [['dacl', 'check', '--database', db, '--endpoint', SERVER_CERT], 2, /--principal is required/],
    ] as [string[], number, RegExp][]) {
      const r = rmsctl(args);
      expect(r.code).toBe(code);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stdout).toBe('');
    }
  }, 120_000);
});

describe('rmsctl dacl --help', () => {
  it('documents every dacl command and its options', () => {
    for (const [cmd, opts] of [
      ['list', ['--database URL', '--endpoint PATH']],
      ['grant', ['--database URL', '--endpoint PATH', '--principal NAME', '--right RIGHT', '--actor NAME']],
      ['deny', ['--database URL', '--endpoint PATH', '--principal NAME', '--right RIGHT', '--actor NAME']],
      ['revoke', ['--database URL', '--endpoint PATH', '--principal NAME', '--right RIGHT', '--effect allow|deny', '--actor NAME']],
      ['check', ['--database URL', '--endpoint PATH', '--principal NAME']],
    ] as [string, string[]][]) {
      const r = rmsctl(['dacl', cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: rmsctl dacl ${cmd} [options]`);
      for (const o of opts) expect(r.stdout).toContain(o);
    }
    const top = rmsctl(['--help']);
    for (const cmd of ['list', 'grant', 'deny', 'revoke', 'check']) expect(top.stdout).toContain(`rmsctl dacl ${cmd}`);
  });
});
