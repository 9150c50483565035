import { BUILTIN_GROUPS, type DirectoryGroup, type DirectoryProvider, type DirectoryUser, fixedClock, isRmsError, type UserQuery } from '@openrms/domain';
import type { Store } from '@openrms/store';
import { changeDacl, effectiveAccess } from './dacl-admin';
import { setDirectoryIn, unsetDirectoryIn } from './directory-settings';
import { Identities } from './identities';
import { LocalDirectory } from './local-directory';
import { changePolicyIn } from './policy-admin';
import { provisionedSqlite, type ProvisionedSqlite } from './testing/provisioned-sqlite';

const T0 = new Date('2026-03-01T10:00:00.000Z');
const clock = fixedClock(T0);
const LICENSE = '/_wmcs/licensing/license.asmx';
let db: ProvisionedSqlite;
let store: Store;

const code = (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (isRmsError(e) ? e.code : String(e)));

const finance: DirectoryGroup = { externalId: 'g-1', dn: 'cn=Finance,ou=groups,dc=corp', name: 'Finance', email: 'Finance@Corp.example', path: ['Finance-EMEA', 'Finance'] };
const bob: DirectoryUser = {
  source: 'ldap',
  externalId: 'u-bob',
  dn: 'uid=bob,ou=people,dc=corp',
  name: 'bob',
  userPrincipalName: null,
  displayName: 'Bob',
  email: 'bob@corp.example',
  aliases: [],
  sid: null,
  disabled: false,
  groups: [{ externalId: 'g-2', dn: null, name: 'Finance-EMEA', email: null, path: ['Finance-EMEA'] }, finance],
};

/** The directory as the port describes it: one person, one nested group (no server needed for DACL rules). */
const directory: DirectoryProvider = {
  source: 'ldap',
  findUser: async (q: UserQuery) => (q.value.toLowerCase() === 'bob' || q.value.toLowerCase() === 'bob@corp.example' ? bob : undefined),
  findGroup: async (n: string) => ([finance.name, finance.email].some((x) => x?.toLowerCase() === n.toLowerCase()) ? finance : undefined),
  verifyPassword: async () => false,
  close: async () => undefined,
};

async function identities(): Promise<Identities> {
  const id = async (n: string) => (await store.principals.getByName(n)).id;
  return new Identities({
    store,
    clock,
    local: new LocalDirectory(store, clock),
    external: directory,
    cacheTtlMs: 0,
    builtin: {
      administrators: await id(BUILTIN_GROUPS.administrators),
      serviceGroup: await id(BUILTIN_GROUPS.serviceGroup),
      authenticated: await id(BUILTIN_GROUPS.authenticatedUsers),
      everyone: await id(BUILTIN_GROUPS.everyone),
    },
  });
}

const useDirectory = () =>
  setDirectoryIn(store, 'admin', { kind: 'ldap', url: 'ldap://directory.invalid', bindDn: 'cn=svc,dc=corp', bindPassword: 'bind-secret', baseDn: 'dc=corp' }, clock);

beforeAll(async () => {
  db = await provisionedSqlite('dacl-admin', clock);
  store = db.store;
});
afterAll(async () => {
  await db?.dispose();
});

describe('DACL entries naming directory groups', () => {
  it('refuses a name that is neither local nor, without a directory, anywhere', async () => {
    const before = (await store.principals.list()).length;
    expect(await code(changeDacl(store, 'admin', { action: 'grant', endpoint: LICENSE, principal: 'Finance', right: 'Execute' }, clock))).toBe('InvalidInput');
    expect(await code(changePolicyIn(store, 'admin', { kind: 'super-users', enabled: true, group: 'Finance' }, clock))).toBe('NotFound');
    expect((await store.principals.list()).length).toBe(before);
    expect(await store.directoryLinks.list()).toEqual([]);
  });

  it('refuses, writing nothing, a group the directory says it does not have', async () => {
    await useDirectory();
    const audits = (await store.audit.list({ limit: 1000 })).length;
    const asked: string[] = [];
    const verifyGroup = async (n: string) => {
      asked.push(n);
      return false;
    };
    const r = changeDacl(store, 'admin', { action: 'grant', endpoint: LICENSE, principal: 'Ghosts', right: 'Execute', verifyGroup }, clock);
    await expect(r).rejects.toMatchObject({ code: 'InvalidInput', message: expect.stringMatching(/no group "Ghosts" in the directory/) });
    expect(asked).toEqual(['Ghosts']);
    expect(await store.principals.findByName('Ghosts')).toBeUndefined();
    expect(await store.directoryLinks.list()).toEqual([]);
    expect((await store.audit.list({ limit: 1000 })).length).toBe(audits);
  });

  it('creates a linked, audited reference for a directory group and reuses it on the next grant', async () => {
    const first = await changeDacl(store, 'admin', { action: 'grant', endpoint: LICENSE, principal: 'Finance@Corp.example', right: 'Execute', verifyGroup: async () => true }, clock);
    expect(first.changed).toBe(true);
    expect(first.directoryGroup).toEqual({ source: 'ldap', externalId: 'mail:finance@corp.example', created: true, verified: true });
    const row = await store.principals.getByName('Finance@Corp.example');
    expect(row).toMatchObject({ kind: 'group', email: 'Finance@Corp.example' });
    expect(await store.directoryLinks.ofPrincipal(row.id)).toMatchObject({ source: 'ldap', externalId: 'mail:finance@corp.example' });
    const link = (await store.audit.list({ limit: 20 })).find((a) => a.action === 'directory.group.link');
    expect(link).toMatchObject({ actor: 'admin', target: 'ldap:mail:finance@corp.example' });

    // rmsctl cannot ask the directory: no hook, and a name rather than an address.
    const byName = await changeDacl(store, 'admin', { action: 'deny', endpoint: LICENSE, principal: 'Finance-EMEA', right: 'Read' }, clock);
    expect(byName.directoryGroup).toEqual({ source: 'ldap', externalId: 'name:finance-emea', created: true, verified: false });

    let asked = 0;
    const again = await changeDacl(store, 'admin', { action: 'grant', endpoint: LICENSE, principal: 'FINANCE@corp.example', right: 'Read', verifyGroup: async () => ++asked > 0 }, clock);
    expect(asked).toBe(0);
    expect(again.directoryGroup?.created).toBe(false);
    expect(again.principal).toBe('Finance@Corp.example');
    expect((await store.directoryLinks.list()).length).toBe(2);
    expect((await store.dacl.list(LICENSE)).filter((e) => e.principalId === row.id).map((e) => e.right).sort()).toEqual(['Execute', 'Read']);
  });

  it('keeps a local group named by its e-mail address local', async () => {
    await store.principals.createGroup({ id: 'local-editors', name: 'Editors', email: 'editors@example.test', createdAt: T0 });
    const verifyGroup = async () => {
      throw new Error('the directory must not be asked about a local group');
    };
    const r = await changeDacl(store, 'admin', { action: 'grant', endpoint: LICENSE, principal: 'Editors@Example.test', right: 'Read', verifyGroup }, clock);
    expect(r.principal).toBe('Editors');
    expect(r.directoryGroup).toBeUndefined();
    expect(await store.directoryLinks.ofPrincipal('local-editors')).toBeUndefined();
    await changeDacl(store, 'admin', { action: 'revoke', endpoint: LICENSE, principal: 'Editors', right: 'Read' }, clock);
  });

  it('evaluates a directory person through the groups the directory gives them', async () => {
    const ids = await identities();
    const a = await effectiveAccess(store, LICENSE, 'bob@corp.example', { identities: ids });
    expect(a).toMatchObject({ principal: 'bob@corp.example', principalKind: 'user', source: 'ldap', disabled: false });
    expect(a.memberOf).toEqual(expect.arrayContaining(['Finance@Corp.example', 'Finance-EMEA', BUILTIN_GROUPS.authenticatedUsers]));
    const right = (r: string) => a.rights.find((x) => x.right === r)!;
    expect(right('Execute')).toMatchObject({ allowed: true, reason: 'allowed-by-entry' });
    expect(right('Execute').decidedBy.map((d) => d.via)).toContain('Finance@Corp.example');
    // The deny on the nested group wins over the allow on the outer one.
    expect(right('Read')).toMatchObject({ allowed: false, reason: 'denied-by-entry' });
    // The store-only path (rmsctl) knows the row the first sign-on made, not the directory's groups.
    const local = await effectiveAccess(store, LICENSE, 'bob@corp.example');
    expect(local.source).toBe('local');
    expect(local.memberOf).not.toContain('Finance-EMEA');
    expect(await code(effectiveAccess(store, LICENSE, 'carol', { identities: ids }))).toBe('InvalidInput');
    await ids.close();
  });

  it('revokes entries of a directory group, and never creates a reference to revoke', async () => {
    const r = await changeDacl(store, 'admin', { action: 'revoke', endpoint: LICENSE, principal: 'finance@corp.example', right: 'Read' }, clock);
    expect(r.entries.map((e) => [e.principal, e.effect, e.right])).toEqual([['Finance@Corp.example', 'allow', 'Read']]);
    expect(await code(changeDacl(store, 'admin', { action: 'revoke', endpoint: LICENSE, principal: 'Auditors', right: 'Read' }, clock))).toBe('InvalidInput');
    expect(await store.principals.findByName('Auditors')).toBeUndefined();
  });

  it('accepts a directory group as the super users group only while a directory is configured', async () => {
    const p = await changePolicyIn(store, 'admin', { kind: 'super-users', enabled: true, group: 'RMS-Super@corp.example' }, clock);
    expect(p.superUsers).toEqual({ enabled: true, group: 'RMS-Super@corp.example' });
    expect(await code(changePolicyIn(store, 'admin', { kind: 'super-users', enabled: true, group: 'admin' }, clock))).toBe('NotFound');
    await unsetDirectoryIn(store, 'admin', clock);
    expect(await code(changePolicyIn(store, 'admin', { kind: 'super-users', enabled: true, group: 'Other-Group' }, clock))).toBe('NotFound');
    expect(await code(changeDacl(store, 'admin', { action: 'grant', endpoint: LICENSE, principal: 'Payroll', right: 'Read' }, clock))).toBe('InvalidInput');
  });
});
