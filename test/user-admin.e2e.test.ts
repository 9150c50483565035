import { generateKeyPairSync } from 'node:crypto';
import { runCommandLine } from '@openrms/config';
import { BUILTIN_GROUPS, newId, RmsError } from '@openrms/domain';
import { changeDacl } from '@openrms/issuance';
import type { RunningServer } from '@openrms/server';
import { openStore, type Store } from '@openrms/store';
import { addPeople, freePort, person, provisionRoot, startMember } from './support/clusters';
import { sqliteDatabase, type TestDatabase } from './support/databases';
import { exitCodeFor } from '../apps/cli/src/command';
import { commands } from '../apps/cli/src/commands';
import { type CliResult, rmsctl } from './support/processes';

const LICENSE = '/_wmcs/licensing/license.asmx';
const ADMIN = { name: 'root-admin', password: 'root-admin-password' };
const basic = (name: string, password: string) => `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`;

/**
 * rmsctl's command line run in this process (a process start costs seconds on a busy machine, and
 * spawnSync would stall the member under test); one test below runs the real program.
 */
async function rmsctlHere(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const saved = Object.entries(env).map(([k]) => [k, process.env[k]] as const);
  Object.assign(process.env, env);
  let stdout = '';
  let stderr = '';
  try {
    const code = await runCommandLine(
      {
        program: 'rmsctl',
        description: 'administer an OpenRMS cluster',
        commands,
        describeError: (e) => (e instanceof RmsError ? e.message : `unexpected error: ${(e as Error)?.message ?? String(e)}`),
        exitCodeFor,
      },
      args,
      { out: (l) => void (stdout += `${l}\n`), err: (l) => void (stderr += `${l}\n`) },
    );
    return { code, stdout, stderr };
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** Fails with the command's stderr, so a broken command says why. */
function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`rmsctl exited ${r.code}: ${r.stderr}`);
  return r;
}

function refused(r: CliResult, code: number, message: RegExp): void {
  expect([r.code, r.stderr]).toEqual([code, expect.stringMatching(message)]);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stdout).toBe('');
}

jest.setTimeout(120_000);

describe('user and group administration (rmsctl and the admin pages)', () => {
  let db: TestDatabase;
  let member: RunningServer;
  const alice = person('alice');
  const bob = person('bob');
  const carol = person('carol');
  const run = (args: string[], env: Record<string, string> = {}) => rmsctlHere([...args, '--database', db.url], env);

  async function withStore<T>(fn: (s: Store) => Promise<T>): Promise<T> {
    const s = await openStore(db.url);
    try {
      return await fn(s);
    } finally {
      await s.close();
    }
  }

  /**
   * The HTTP status a real member gives a licence request with these credentials: 401 when sign-on
   * fails, something else (a SOAP fault for the empty body) when it succeeds. rmsctl's spawnSync
   * blocks this process; a reused connection it left behind may be reset, so a failed fetch is sent again.
   */
  async function signOnStatus(name: string, password: string): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await fetch(`${member.url}${LICENSE}`, { method: 'POST', headers: { authorization: basic(name, password), 'content-type': 'text/xml' }, body: '' });
        await r.arrayBuffer();
        return r.status;
      } catch (e) {
        if (attempt >= 2) throw e;
      }
    }
  }

  async function auditOf(action: string): Promise<{ actor: string; target: string | null }[]> {
    return withStore(async (s) => (await s.audit.list({ limit: 500 })).filter((a) => a.action === action).map((a) => ({ actor: a.actor, target: a.target ?? null })));
  }

  beforeAll(async () => {
    db = sqliteDatabase();
    const port = await freePort();
    await provisionRoot(db, port);
    await addPeople(db, [alice, bob, carol]);
    member = await startMember(db, port, 'root-1');
  }, 60_000);

  afterAll(async () => {
    await member?.close();
    db?.dispose();
  });

  it('lists users and groups as tables and as JSON', async () => {
    const table = ok(await run(['users', 'list']));
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME\s+E-MAIL\s+SOURCE\s+STATE\s+GROUPS$/);
    expect(table.stdout).toMatch(/^alice\s+alice@example\.test\s+local\s+enabled\s+-$/m);
    const users = JSON.parse(ok(await run(['users', 'list', '--json'])).stdout) as { name: string }[];
    expect(users.map((u) => u.name)).toEqual(['alice', 'bob', 'carol', 'root-admin', 'root-svc']);
    expect(users[3]).toEqual({
      name: 'root-admin',
      email: 'root-admin@example.test',
      displayName: null,
      source: 'local',
      builtin: false,
      disabled: false,
      groups: [BUILTIN_GROUPS.administrators],
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(users.find((u) => u.name === 'root-svc')).toMatchObject({ builtin: true, groups: [BUILTIN_GROUPS.serviceGroup] });
    const groups = JSON.parse(ok(await run(['groups', 'list', '--json'])).stdout) as { name: string; implicit: boolean; builtin: boolean }[];
    expect(groups.find((g) => g.name === BUILTIN_GROUPS.everyone)).toMatchObject({ implicit: true, builtin: true, members: [] });
    expect(ok(await run(['groups', 'list'])).stdout).toMatch(/^RMS Administrators\s+-\s+built-in\s+root-admin$/m);
  });

  it('adds and removes members, shows direct and nested members, audited under --actor', async () => {
    ok(await run(['groups', 'add', 'Staff', '--email', 'staff@example.test', '--actor', 'ops']));
    expect(JSON.parse(ok(await run(['groups', 'add', 'Editors', '--json', '--actor', 'ops'])).stdout)).toEqual({ name: 'Editors' });
    expect(JSON.parse(ok(await run(['groups', 'add-member', 'Editors', 'bob', '--json', '--actor', 'ops'])).stdout)).toEqual({ action: 'add', group: 'Editors', member: 'bob', changed: true });
    expect(ok(await run(['groups', 'add-member', 'Staff', 'Editors', '--actor', 'ops'])).stdout).toBe('added Editors to Staff\n');
    expect(ok(await run(['groups', 'add-member', 'Staff', 'Editors'])).stdout).toMatch(/already a member.*nothing changed/);
    ok(await run(['groups', 'add-member', 'Staff', 'carol', '--actor', 'ops']));

    const staff = JSON.parse(ok(await run(['groups', 'show', 'staff', '--json'])).stdout);
    expect(staff).toMatchObject({
      name: 'Staff',
      email: 'staff@example.test',
      builtin: false,
      implicit: false,
      members: [
        { name: 'carol', kind: 'user' },
        { name: 'Editors', kind: 'group' },
      ],
      nestedMembers: [{ name: 'bob', kind: 'user', via: ['Editors'] }],
      memberOf: [],
      daclEntries: 0,
    });
    expect(ok(await run(['groups', 'show', 'Staff'])).stdout).toMatch(/nested members:\n {2}bob {2}via Editors\n/);
    expect(JSON.parse(ok(await run(['groups', 'show', 'Editors', '--json'])).stdout).memberOf).toEqual(['Staff']);

    expect(JSON.parse(ok(await run(['groups', 'remove-member', 'Staff', 'carol', '--json', '--actor', 'ops'])).stdout)).toMatchObject({ changed: true });
    refused(await run(['groups', 'remove-member', 'Staff', 'carol']), 5, /not a direct member/);
    refused(await run(['groups', 'add-member', 'Nope', 'carol']), 5, /group "Nope" does not exist/);
    refused(await run(['groups', 'show', 'Nope']), 5, /no group "Nope"/);

    expect(await auditOf('group.member.add')).toEqual(expect.arrayContaining([{ actor: 'ops', target: 'Editors' }, { actor: 'ops', target: 'Staff' }]));
    expect(await auditOf('group.member.remove')).toEqual([{ actor: 'ops', target: 'Staff' }]);
    expect(await auditOf('group.add')).toEqual(expect.arrayContaining([{ actor: 'ops', target: 'Staff' }]));
  });

  it('disables a user (401 at a real member) and enables them again', async () => {
    expect(await signOnStatus(bob.name, bob.password)).not.toBe(401);
    expect(JSON.parse(ok(await run(['users', 'disable', 'bob', '--json', '--actor', 'ops'])).stdout)).toEqual({ name: 'bob', disabled: true, changed: true });
    expect(await signOnStatus(bob.name, bob.password)).toBe(401);
    expect(ok(await run(['users', 'disable', 'bob'])).stdout).toMatch(/already disabled; nothing changed/);
    expect(JSON.parse(ok(await run(['users', 'list', '--json'])).stdout).find((u: { name: string }) => u.name === 'bob').disabled).toBe(true);
    expect(ok(await run(['users', 'enable', 'bob', '--actor', 'ops'])).stdout).toBe('enabled user bob\n');
    expect(await signOnStatus(bob.name, bob.password)).not.toBe(401);
    expect(await auditOf('user.disable')).toEqual([{ actor: 'ops', target: 'bob' }]);
    expect(await auditOf('user.enable')).toEqual([{ actor: 'ops', target: 'bob' }]);
  });

  it('sets a new password: the old one is refused at once, the new one signs on', async () => {
    refused(await run(['users', 'passwd', 'bob', '--password-env', 'PW'], { PW: 'short' }), 2, /at least 8 characters/);
    refused(await run(['users', 'passwd', 'nobody', '--password-env', 'PW'], { PW: 'long-enough-password' }), 5, /no user "nobody"/);
    refused(await run(['users', 'passwd', 'Staff', '--password-env', 'PW'], { PW: 'long-enough-password' }), 2, /is a group/);
    expect(await signOnStatus(bob.name, bob.password)).not.toBe(401);
    expect(JSON.parse(ok(await run(['users', 'passwd', 'bob', '--password-env', 'PW', '--json', '--actor', 'ops'], { PW: 'bob-new-password-2' })).stdout)).toEqual({ name: 'bob', passwordChanged: true });
    expect(await signOnStatus(bob.name, bob.password)).toBe(401);
    expect(await signOnStatus(bob.name, 'bob-new-password-2')).not.toBe(401);
    const audit = await withStore(async (s) => (await s.audit.list({ limit: 500 })).filter((a) => a.action === 'user.passwd'));
    expect(audit.map((a) => [a.actor, a.target])).toEqual([['ops', 'bob']]);
    expect(JSON.stringify(audit)).not.toMatch(/bob-new-password|scrypt/);
  });

  it('refuses to lose the last administrator, built-in accounts and groups, and unknown names', async () => {
    refused(await run(['users', 'disable', ADMIN.name]), 2, /"root-admin" is the last enabled administrator/);
    refused(await run(['users', 'remove', ADMIN.name]), 2, /"root-admin" is the last enabled administrator/);
    refused(await run(['groups', 'remove-member', BUILTIN_GROUPS.administrators, ADMIN.name]), 2, /without an enabled member/);
    refused(await run(['users', 'remove', 'root-svc']), 2, /built-in account/);
    refused(await run(['users', 'disable', 'root-svc']), 2, /built-in account/);
    refused(await run(['groups', 'remove', BUILTIN_GROUPS.administrators]), 2, /"RMS Administrators" is a built-in group/);
    refused(await run(['groups', 'remove', BUILTIN_GROUPS.everyone]), 2, /"Everyone" is implicit/);
    refused(await run(['groups', 'remove', BUILTIN_GROUPS.authenticatedUsers]), 2, /is implicit/);
    refused(await run(['users', 'remove', 'nobody']), 5, /no user "nobody"/);
    refused(await run(['users', 'disable', 'nobody']), 5, /no user "nobody"/);
    refused(await run(['groups', 'remove', 'nobody']), 5, /no group "nobody"/);
    refused(await run(['users', 'remove', 'Staff']), 2, /is a group, not a user/);
    // The administrator still signs on: nothing was written.
    expect(await signOnStatus(ADMIN.name, ADMIN.password)).not.toBe(401);
    expect(await withStore(async (s) => (await s.principals.getByName(ADMIN.name)).disabled)).toBe(false);
    // With a second administrator, the first may go (and the second is then the last).
    ok(await run(['groups', 'add-member', BUILTIN_GROUPS.administrators, 'carol']));
    ok(await run(['users', 'disable', ADMIN.name]));
    refused(await run(['users', 'disable', 'carol']), 2, /"carol" is the last enabled administrator/);
    ok(await run(['users', 'enable', ADMIN.name]));
    ok(await run(['groups', 'remove-member', BUILTIN_GROUPS.administrators, 'carol']));
  });

  it('removes a user with memberships, DACL entries and RAC key pair', async () => {
    const aliceId = await withStore(async (s) => {
      const a = await s.principals.getByName('alice');
      const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
      await s.userKeys.insert({ principalId: a.id, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), wrappedPrivateKey: 'opaque-for-this-test', createdAt: new Date() });
      await changeDacl(s, 'test', { action: 'grant', endpoint: LICENSE, principal: 'alice', right: 'Execute' });
      return a.id;
    });
    ok(await run(['groups', 'add-member', 'Editors', 'alice']));
    const shown = JSON.parse(ok(await run(['users', 'show', 'alice', '--json'])).stdout);
    expect(shown).toMatchObject({ name: 'alice', racKey: true, builtin: false });
    expect(ok(await run(['users', 'show', 'alice'])).stdout).toMatch(/RAC key: +yes/);

    const r = JSON.parse(ok(await run(['users', 'remove', 'alice', '--json', '--actor', 'ops'])).stdout);
    expect(r).toEqual({ removed: true, name: 'alice', email: 'alice@example.test', source: 'local', groups: ['Editors'], daclEntries: 1, racKey: true });
    await withStore(async (s) => {
      expect(await s.principals.findByName('alice')).toBeUndefined();
      expect(await s.userKeys.find(aliceId)).toBeUndefined();
      expect((await s.dacl.list()).filter((e) => e.principalId === aliceId)).toEqual([]);
      expect((await s.principals.membersOf((await s.principals.getByName('Editors')).id)).map((m) => m.name)).toEqual(['bob']);
    });
    expect(await auditOf('user.remove')).toEqual([{ actor: 'ops', target: 'alice' }]);
    expect(await signOnStatus(alice.name, alice.password)).toBe(401);
    refused(await run(['users', 'show', 'alice']), 5, /no user "alice"/);
  });

  it("tells a directory person's row apart: no password or state change here, but the row may go", async () => {
    await withStore(async (s) => {
      const id = newId();
      await s.principals.createUser({ id, name: 'dora', email: 'dora@example.test', passwordHash: null, createdAt: new Date() });
      await s.directoryLinks.insert({ principalId: id, source: 'ldap', externalId: 'entryuuid-dora', dn: 'uid=dora,dc=example,dc=test', linkedAt: new Date() });
    });
    expect(JSON.parse(ok(await run(['users', 'list', '--json'])).stdout).find((u: { name: string }) => u.name === 'dora')).toMatchObject({ source: 'ldap' });
    refused(await run(['users', 'passwd', 'dora', '--password-env', 'PW'], { PW: 'long-enough-password' }), 2, /password of the LDAP directory: change it there/);
    refused(await run(['users', 'disable', 'dora']), 2, /comes from the LDAP directory: disable the account there/);
    expect(ok(await run(['users', 'remove', 'dora'])).stdout).toMatch(/removed user dora .*created again at their next sign-on/s);
  });

  it('removes a group: its members stay, its DACL entries go', async () => {
    await withStore((s) => changeDacl(s, 'test', { action: 'grant', endpoint: LICENSE, principal: 'Editors', right: 'Execute' }));
    const r = JSON.parse(ok(await run(['groups', 'remove', 'Editors', '--json', '--actor', 'ops'])).stdout);
    expect(r).toEqual({ removed: true, name: 'Editors', members: ['bob'], memberOf: ['Staff'], daclEntries: 1 });
    await withStore(async (s) => {
      expect(await s.principals.findByName('Editors')).toBeUndefined();
      expect(await s.principals.findByName('bob')).toBeDefined();
      expect((await s.dacl.list()).some((e) => e.principalName === 'Editors')).toBe(false);
    });
    expect(await auditOf('group.remove')).toEqual([{ actor: 'ops', target: 'Editors' }]);
    // The super users group is refused while the policy names it.
    ok(await run(['policy', 'super-users', '--enable', '--group', 'Staff']));
    refused(await run(['groups', 'remove', 'Staff']), 2, /super users group/);
    ok(await run(['policy', 'super-users', '--disable']));
  });

  it('prints every listing as JSON with --json, and keeps the tables without it', async () => {
    const json = async (args: string[]) => JSON.parse(ok(await run([...args, '--json'])).stdout);
    expect(await json(['dacl', 'list'])).toEqual(expect.arrayContaining([expect.objectContaining({ endpoint: expect.any(String), principal: expect.any(String), right: expect.any(String), effect: expect.any(String) })]));
    expect(ok(await run(['dacl', 'list'])).stdout.split('\n')[0]).toMatch(/^ENDPOINT\s+PRINCIPAL\s+KIND\s+RIGHT\s+EFFECT$/);
    expect(await json(['dacl', 'check', '--endpoint', LICENSE, '--principal', 'bob'])).toMatchObject({ principal: 'bob', rights: expect.any(Array) });
    expect(await json(['templates', 'list'])).toEqual([]);
    expect(await json(['policy', 'show'])).toMatchObject({ superUsers: { enabled: false }, excludedUsers: [] });
    expect(ok(await run(['policy', 'show'])).stdout).toMatch(/^super users: +disabled/);
    // The member writes its request log in the background: wait for rows rather than assume a moment.
    let log: { operation: string; at: string }[] = [];
    for (let i = 0; i < 120 && log.length === 0; i++) {
      log = (await json(['log', 'tail', '-n', '5'])) as { operation: string; at: string }[];
      if (log.length === 0) await new Promise((r) => setTimeout(r, 250));
    }
    expect(log.length).toBeGreaterThan(0);
    expect(log[0]).toMatchObject({ operation: expect.any(String), at: expect.stringMatching(/^\d{4}-/), result: expect.any(String) });
    expect(await json(['cluster', 'status'])).toMatchObject({ cluster: { kind: 'root' }, members: expect.arrayContaining([expect.objectContaining({ name: 'root-1' })]) });
    expect(ok(await run(['cluster', 'status'])).stdout).toMatch(/^cluster: +root /);
    expect(await json(['slc', 'show'])).toMatchObject({ clusterKind: 'root', chainLength: 1, daysLeft: expect.any(Number) });
    expect(await json(['directory', 'show'])).toEqual({ kind: 'local' });
    expect(await json(['directory', 'peer', 'list'])).toEqual([]);
  });

  describe('admin pages', () => {
    const page = (p: string) => `${member.url}/_wmcs/admin${p}`;
    const auth = basic(ADMIN.name, ADMIN.password);

    async function token(): Promise<string> {
      const html = await (await fetch(page('/principals'), { headers: { authorization: auth } })).text();
      return /name="csrf" value="([^"]+)"/.exec(html)![1]!.replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c)));
    }

    const post = (p: string, fields: Record<string, string>, headers: Record<string, string> = { origin: member.url }) =>
      fetch(page(p), { method: 'POST', redirect: 'manual', headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(fields).toString() });

    it('disables, enables, sets a password and removes, each a form with the token, audited under the administrator', async () => {
      const csrf = await token();
      // Without the token, or from elsewhere: refused, nothing written.
      expect((await post('/principals/users/state', { name: 'bob', state: 'disable' })).status).toBe(403);
      expect((await post('/principals/users/state', { name: 'bob', state: 'disable', csrf }, { origin: 'http://evil.example' })).status).toBe(403);
      expect(await signOnStatus(bob.name, 'bob-new-password-2')).not.toBe(401);

      const disabled = await post('/principals/users/state', { name: 'bob', state: 'disable', csrf });
      expect(disabled.status).toBe(303);
      expect(await signOnStatus(bob.name, 'bob-new-password-2')).toBe(401);
      const listed = await (await fetch(page('/principals'), { headers: { authorization: auth } })).text();
      expect(listed).toMatch(/<tr data-user="bob">.*disabled.*>Enable</s);
      expect((await post('/principals/users/state', { name: 'bob', state: 'enable', csrf })).status).toBe(303);
      expect(await signOnStatus(bob.name, 'bob-new-password-2')).not.toBe(401);

      const short = await post('/principals/users/password', { name: 'bob', password: 'short', csrf });
      expect(short.status).toBe(400);
      expect(await short.text()).toContain('at least 8 characters');
      expect((await post('/principals/users/password', { name: 'bob', password: 'bob-page-password-3', csrf })).status).toBe(303);
      expect(await signOnStatus(bob.name, 'bob-new-password-2')).toBe(401);
      expect(await signOnStatus(bob.name, 'bob-page-password-3')).not.toBe(401);

      // Removing asks first: the confirmation says what goes, and only its form removes.
      const confirm = await (await fetch(page('/principals?confirm=remove-user&name=carol'), { headers: { authorization: auth } })).text();
      expect(confirm).toMatch(/<section id="confirm-remove"[^>]*><h2>Remove user carol\?<\/h2>/);
      expect(confirm).toContain('It cannot be undone.');
      expect((await post('/principals/users/remove', { name: 'carol', csrf })).status).toBe(400);
      expect((await post('/principals/users/remove', { name: ADMIN.name, confirm: 'yes', csrf })).status).toBe(400);
      expect((await post('/principals/users/remove', { name: 'carol', confirm: 'yes', csrf })).status).toBe(303);
      expect((await post('/principals/groups/remove', { name: BUILTIN_GROUPS.administrators, confirm: 'yes', csrf })).status).toBe(400);
      expect((await post('/principals/groups/remove', { name: 'Staff', confirm: 'yes', csrf })).status).toBe(303);
      await withStore(async (s) => {
        expect(await s.principals.findByName('carol')).toBeUndefined();
        expect(await s.principals.findByName('Staff')).toBeUndefined();
      });
      for (const action of ['user.disable', 'user.enable', 'user.passwd', 'user.remove', 'group.remove']) {
        expect([action, await auditOf(action)]).toEqual([action, expect.arrayContaining([{ actor: ADMIN.name, target: expect.any(String) }])]);
      }
    });
  });

  // Last: spawnSync stalls this process, and the member's idle connections may be reset afterwards.
  it('works as a separate process too: JSON on stdout, one-line errors, the exit codes of EXIT_CODES', () => {
    const listed = rmsctl(['groups', 'list', '--json', '--database', db.url]);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as { name: string }[]).map((g) => g.name)).toContain(BUILTIN_GROUPS.administrators);
    refused(rmsctl(['users', 'remove', 'nobody', '--database', db.url]), 5, /^rmsctl users remove: no user "nobody"$/m);
    refused(rmsctl(['users', 'passwd', 'bob', '--password-env', 'PW', '--database', db.url], { PW: 'short' }), 2, /at least 8 characters/);
    refused(rmsctl(['groups', 'remove', BUILTIN_GROUPS.everyone, '--database', db.url]), 2, /is implicit/);
  });
});
