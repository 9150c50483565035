import { BUILTIN_GROUPS, fixedClock, isRmsError } from '@openrms/domain';
import type { Store } from '@openrms/store';
import {
  addGroupIn,
  addUserIn,
  changeMembershipIn,
  listPrincipalsIn,
  readJobStateIn,
  searchRequestLogIn,
} from './admin-queries';
import { changePolicyIn } from './policy-admin';
import { clusterStatusIn } from './cluster-admin';
import { readPolicies } from './policies';
import { provisionedSqlite, type ProvisionedSqlite } from './testing/provisioned-sqlite';

const T0 = new Date('2026-03-01T10:00:00.000Z');
const clock = fixedClock(T0);
let db: ProvisionedSqlite;
let store: Store;

const code = (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (isRmsError(e) ? e.code : String(e)));

beforeAll(async () => {
  db = await provisionedSqlite('admin-queries', clock);
  store = db.store;
});
afterAll(async () => {
  await db?.dispose();
});

describe('admin queries on an open store', () => {
  it('summarises the cluster with its members and service account', async () => {
    const o = await clusterStatusIn(store, clock);
    expect(o.cluster.kind).toBe('root');
    expect(o.slc.daysLeft).toBeGreaterThanOrEqual(364);
    expect(o.members.map((m) => m.name)).toEqual(['root-1']);
    expect(o.serviceAccounts).toEqual(['rms-svc']);
    expect(o.databaseDisplayUrl).toMatch(/^sqlite:/);
  });

  it('adds users and groups under the actor, and writes nothing when one part is wrong', async () => {
    await addGroupIn(store, 'admin', { name: 'Editors' }, clock);
    await addUserIn(store, 'admin', { name: 'carol', email: 'carol@example.test', password: 'carol-password-1', groups: ['Editors'] }, clock);
    expect(await code(addUserIn(store, 'admin', { name: 'dave', email: 'dave@example.test', password: 'dave-password-1', groups: ['Editors', 'No Such Group'] }, clock))).toBe('NotFound');
    expect(await code(addUserIn(store, 'admin', { name: 'erin', email: 'erin@example.test', password: 'short', groups: [] }, clock))).toBe('InvalidInput');
    expect(await code(addUserIn(store, 'admin', { name: 'carol2', email: 'CAROL@example.test', password: 'carol-password-1', groups: [] }, clock))).toBe('AlreadyExists');
    expect(await code(addGroupIn(store, 'admin', { name: 'editors' }, clock))).toBe('AlreadyExists');
    expect(await code(addUserIn(store, 'admin', { name: 'Everyone', email: 'e@example.test', password: 'everyone-password', groups: [] }, clock))).toBe('AlreadyExists');
    const { users, groups } = await listPrincipalsIn(store);
    expect(users.map((u) => u.name)).toEqual(['admin', 'carol', 'rms-svc']);
    expect(users.find((u) => u.name === 'carol')?.groups).toEqual(['Editors']);
    expect(groups.find((g) => g.name === 'Editors')?.members).toEqual(['carol']);
    expect(groups.find((g) => g.name === BUILTIN_GROUPS.everyone)?.implicit).toBe(true);
    const audit = await store.audit.list({ limit: 5 });
    expect(audit.filter((a) => a.actor === 'admin').map((a) => a.action)).toEqual(expect.arrayContaining(['user.add', 'group.add']));
  });

  it('changes membership, refusing cycles and implicit groups', async () => {
    await addGroupIn(store, 'admin', { name: 'Staff' }, clock);
    expect(await changeMembershipIn(store, 'admin', { action: 'add', group: 'Staff', member: 'Editors' }, clock)).toEqual({ changed: true });
    expect(await changeMembershipIn(store, 'admin', { action: 'add', group: 'Staff', member: 'Editors' }, clock)).toEqual({ changed: false });
    expect(await code(changeMembershipIn(store, 'admin', { action: 'add', group: 'Editors', member: 'Staff' }, clock))).toBe('InvalidInput');
    expect(await code(changeMembershipIn(store, 'admin', { action: 'add', group: BUILTIN_GROUPS.everyone, member: 'carol' }, clock))).toBe('InvalidInput');
    expect(await code(changeMembershipIn(store, 'admin', { action: 'add', group: 'Staff', member: 'nobody' }, clock))).toBe('InvalidInput');
    expect(await code(changeMembershipIn(store, 'admin', { action: 'remove', group: 'Staff', member: 'carol' }, clock))).toBe('NotFound');
    expect(await changeMembershipIn(store, 'admin', { action: 'remove', group: 'Staff', member: 'Editors' }, clock)).toEqual({ changed: true });
  });

  it('enables super users and excludes and includes users by e-mail', async () => {
    expect(await code(changePolicyIn(store, 'admin', { kind: 'super-users', enabled: true, group: BUILTIN_GROUPS.authenticatedUsers }, clock))).toBe('InvalidInput');
    expect(await code(changePolicyIn(store, 'admin', { kind: 'super-users', enabled: true, group: 'carol' }, clock))).toBe('NotFound');
    await changePolicyIn(store, 'admin', { kind: 'super-users', enabled: true, group: 'editors' }, clock);
    await changePolicyIn(store, 'admin', { kind: 'exclude-user', email: 'Mallory@Example.test' }, clock);
    let p = await readPolicies(store);
    expect(p.superUsers).toEqual({ enabled: true, group: 'Editors' });
    expect(p.excludedUsers).toEqual([{ email: 'mallory@example.test' }]);
    expect(await code(changePolicyIn(store, 'admin', { kind: 'include-user', email: 'nobody@example.test' }, clock))).toBe('NotFound');
    await changePolicyIn(store, 'admin', { kind: 'include-user', email: 'MALLORY@example.test' }, clock);
    await changePolicyIn(store, 'admin', { kind: 'super-users', enabled: false }, clock);
    p = await readPolicies(store);
    expect(p.excludedUsers).toEqual([]);
    expect(p.superUsers).toEqual({ enabled: false, group: 'Editors' });
  });

  it('filters the newest request-log entries by user, operation, result and time, newest first', async () => {
    const at = (min: number) => new Date(T0.getTime() + min * 60_000);
    await store.requestLog.appendMany([
      { at: at(1), operation: 'Certify', endpoint: '/_wmcs/certification/certification.asmx', principal: 'carol', result: 'ok', durationMs: 5 },
      { at: at(2), operation: 'AcquireLicense', endpoint: '/_wmcs/licensing/license.asmx', principal: 'Carol', result: 'System.UnauthorizedAccessException', durationMs: 1 },
      { at: at(3), operation: 'AcquireLicense', endpoint: '/_wmcs/licensing/license.asmx', principal: 'dave', result: 'ok', durationMs: 2 },
      { at: at(4), operation: 'GetLicensorCertificate', endpoint: '/_wmcs/licensing/publish.asmx', principal: null, result: 'ok', durationMs: 2 },
    ]);
    const ops = async (f: Parameters<typeof searchRequestLogIn>[1]) => (await searchRequestLogIn(store, f)).entries.map((e) => `${e.principal}:${e.operation}`);
    expect(await ops({ user: 'CAROL' })).toEqual(['Carol:AcquireLicense', 'carol:Certify']);
    expect(await ops({ operation: 'license' })).toEqual(['dave:AcquireLicense', 'Carol:AcquireLicense']);
    expect(await ops({ operation: 'LICENSOR' })).toEqual(['null:GetLicensorCertificate']);
    expect(await ops({ result: 'error' })).toEqual(['Carol:AcquireLicense']);
    expect(await ops({ result: 'ok', from: at(2), to: at(3) })).toEqual(['dave:AcquireLicense']);
    const limited = await searchRequestLogIn(store, { limit: 1 });
    expect(limited).toMatchObject({ scanned: 4, more: true });
    expect(limited.entries).toHaveLength(1);
    // Only the newest `scan` entries are searched.
    expect((await searchRequestLogIn(store, { user: 'carol', scan: 2 })).entries).toEqual([]);
  });

  it('reports what the jobs wrote, or nothing', async () => {
    const s = await readJobStateIn(store);
    expect(s.settings.map((x) => x.key)).toEqual(expect.arrayContaining(['slc.lastRenewal', 'slc.warned']));
    expect(s.settings.every((x) => x.value === undefined)).toBe(true);
    await store.settings.set('slc.lastRenewal', { at: T0.toISOString(), validUntil: T0.toISOString() });
    expect((await readJobStateIn(store)).settings.find((x) => x.key === 'slc.lastRenewal')?.value).toEqual({ at: T0.toISOString(), validUntil: T0.toISOString() });
  });
});
