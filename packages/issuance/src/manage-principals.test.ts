import { BUILTIN_GROUPS, fixedClock, isRmsError } from '@openrms/domain';
import type { Store } from '@openrms/store';
import { addGroupIn, addUserIn, changeMembershipIn } from './admin-queries';
import { changeDacl } from './dacl-admin';
import {
  listGroupsIn,
  listUsersIn,
  previewGroupRemovalIn,
  previewUserRemovalIn,
  removeGroupIn,
  removeUserIn,
  setUserDisabledIn,
  setUserPasswordIn,
  showGroupIn,
} from './manage-principals';
import { verifyPassword } from './passwords';
import { provisionedSqlite, type ProvisionedSqlite } from './testing/provisioned-sqlite';

const clock = fixedClock(new Date('2026-03-01T10:00:00.000Z'));
let db: ProvisionedSqlite;
let store: Store;

const failure = (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (isRmsError(e) ? `${e.code}: ${e.message}` : String(e)));

beforeAll(async () => {
  db = await provisionedSqlite('manage-principals', clock);
  store = db.store;
  await addGroupIn(store, 'admin', { name: 'Staff' }, clock);
  await addGroupIn(store, 'admin', { name: 'Editors' }, clock);
  await changeMembershipIn(store, 'admin', { action: 'add', group: 'Staff', member: 'Editors' }, clock);
  for (const n of ['carol', 'dave']) await addUserIn(store, 'admin', { name: n, email: `${n}@example.test`, password: `${n}-password-1`, groups: ['Editors'] }, clock);
});
afterAll(async () => {
  await db?.dispose();
});

describe('user and group administration on an open store', () => {
  it('lists users and groups, and shows a group with its nested members', async () => {
    expect((await listUsersIn(store)).map((u) => [u.name, u.source, u.builtin, u.groups])).toEqual([
      ['admin', 'local', false, [BUILTIN_GROUPS.administrators]],
      ['carol', 'local', false, ['Editors']],
      ['dave', 'local', false, ['Editors']],
      ['rms-svc', 'local', true, [BUILTIN_GROUPS.serviceGroup]],
    ]);
    expect((await listGroupsIn(store)).find((g) => g.name === 'Staff')).toMatchObject({ members: ['Editors'], implicit: false, builtin: false });
    const staff = await showGroupIn(store, 'staff');
    expect(staff.members).toEqual([{ name: 'Editors', kind: 'group' }]);
    expect(staff.nestedMembers).toEqual([
      { name: 'carol', kind: 'user', via: ['Editors'] },
      { name: 'dave', kind: 'user', via: ['Editors'] },
    ]);
    expect((await showGroupIn(store, 'Editors')).memberOf).toEqual(['Staff']);
    expect(await failure(showGroupIn(store, 'carol'))).toBe('InvalidInput: "carol" is a user, not a group');
  });

  it('disables and enables, audited; refuses the last administrator and the built-in account', async () => {
    expect(await setUserDisabledIn(store, 'ops', 'carol', true, clock)).toEqual({ name: 'carol', disabled: true, changed: true });
    expect(await setUserDisabledIn(store, 'ops', 'carol', true, clock)).toEqual({ name: 'carol', disabled: true, changed: false });
    expect((await store.principals.getByName('carol')).disabled).toBe(true);
    await setUserDisabledIn(store, 'ops', 'carol', false, clock);
    expect((await store.audit.list({ limit: 50 })).filter((a) => a.target === 'carol' && /^user\.(dis|en)able$/.test(a.action)).map((a) => [a.actor, a.action])).toEqual([
      ['ops', 'user.enable'],
      ['ops', 'user.disable'],
    ]);
    expect(await failure(setUserDisabledIn(store, 'ops', 'admin', true, clock))).toMatch(/^InvalidInput: "admin" is the last enabled administrator/);
    expect(await failure(setUserDisabledIn(store, 'ops', 'rms-svc', true, clock))).toMatch(/^InvalidInput: .*built-in account/);
    expect(await failure(setUserDisabledIn(store, 'ops', 'nobody', true, clock))).toBe('NotFound: no user "nobody"');
    // An administrator through a nested group counts: then the first may be disabled.
    await changeMembershipIn(store, 'admin', { action: 'add', group: BUILTIN_GROUPS.administrators, member: 'Staff' }, clock);
    await setUserDisabledIn(store, 'ops', 'admin', true, clock);
    expect(await failure(changeMembershipIn(store, 'ops', { action: 'remove', group: BUILTIN_GROUPS.administrators, member: 'Staff' }, clock))).toMatch(/without an enabled member/);
    expect(await failure(removeGroupIn(store, 'ops', 'Editors', clock))).toMatch(/without an enabled member/);
    expect((await showGroupIn(store, BUILTIN_GROUPS.administrators)).members.map((m) => m.name)).toEqual(['admin', 'Staff']);
    await setUserDisabledIn(store, 'ops', 'admin', false, clock);
    await changeMembershipIn(store, 'admin', { action: 'remove', group: BUILTIN_GROUPS.administrators, member: 'Staff' }, clock);
  });

  it('sets a password only for local users, never auditing it', async () => {
    expect(await failure(setUserPasswordIn(store, 'ops', 'dave', 'short', clock))).toMatch(/^InvalidInput: passwords must be at least 8/);
    await setUserPasswordIn(store, 'ops', 'dave', 'dave-new-password', clock);
    const hash = (await store.principals.getByName('dave')).passwordHash;
    expect(await verifyPassword('dave-new-password', hash)).toBe(true);
    expect(await verifyPassword('dave-password-1', hash)).toBe(false);
    const audit = (await store.audit.list({ limit: 50 })).find((a) => a.action === 'user.passwd')!;
    expect([audit.actor, audit.target]).toEqual(['ops', 'dave']);
    expect(JSON.stringify(audit)).not.toMatch(/dave-new-password|scrypt/);
  });

  it('removes a user with its memberships, DACL entries and key pair, and a group but not its members', async () => {
    const dave = await store.principals.getByName('dave');
    await store.userKeys.insert({ principalId: dave.id, publicKeyPem: 'PEM', wrappedPrivateKey: 'opaque', createdAt: clock.now() });
    await changeDacl(store, 'admin', { action: 'grant', endpoint: '/_wmcs/licensing/license.asmx', principal: 'dave', right: 'Execute' }, clock);
    const preview = await previewUserRemovalIn(store, 'dave');
    expect(preview).toEqual({ name: 'dave', email: 'dave@example.test', source: 'local', groups: ['Editors'], daclEntries: 1, racKey: true });
    expect(await removeUserIn(store, 'ops', 'DAVE', clock)).toEqual(preview);
    expect(await store.principals.findByName('dave')).toBeUndefined();
    expect(await store.userKeys.find(dave.id)).toBeUndefined();
    expect((await store.dacl.list()).some((e) => e.principalId === dave.id)).toBe(false);

    expect(await failure(previewGroupRemovalIn(store, BUILTIN_GROUPS.serviceGroup))).toMatch(/built-in group/);
    expect(await failure(removeGroupIn(store, 'ops', BUILTIN_GROUPS.authenticatedUsers, clock))).toMatch(/is implicit/);
    expect(await removeGroupIn(store, 'ops', 'Editors', clock)).toEqual({ name: 'Editors', members: ['carol'], memberOf: ['Staff'], daclEntries: 0 });
    expect(await store.principals.findByName('carol')).toBeDefined();
    expect((await showGroupIn(store, 'Staff')).members).toEqual([]);
    expect((await store.audit.list({ limit: 50 })).filter((a) => /\.remove$/.test(a.action) && a.actor === 'ops').map((a) => [a.action, a.target])).toEqual([
      ['group.remove', 'Editors'],
      ['user.remove', 'dave'],
    ]);
  });
});
