/**
 * The runtime keeps the local tables' answers about people for up to its refresh interval
 * (identities.ts): a request does not read the same person and groups again and again. What
 * changes access still takes effect: within the refresh interval for licences, at once for
 * sign-on (the password check reads the account's row), and a new or re-enabled account is never
 * refused because of an earlier answer. No timings are asserted: changes are awaited with a deadline.
 */
import { fixedClock, isRmsError, parseGrantSpec } from '@openrms/domain';
import { ClusterRuntime } from './cluster-runtime';
import type { Caller } from './licensing-service';
import { addUser, removeUser, setUserDisabled, setUserPassword } from './principal-admin';
import { callerNamed, certifiedClient, type FakeClient } from './testing/fake-client';
import { provisionedSqlite, type ProvisionedSqlite } from './testing/provisioned-sqlite';

const clock = fixedClock(new Date());
let db: ProvisionedSqlite;
let rt: ClusterRuntime;

const caller = (name: string): Promise<Caller> => callerNamed(db.store, name);

async function eventually(what: string, check: () => Promise<boolean>, deadlineMs = 30_000): Promise<void> {
  const until = performance.now() + deadlineMs;
  while (!(await check())) {
    if (performance.now() > until) throw new Error(`not within ${deadlineMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let alice: FakeClient;
let pl: string[];

async function licenceFor(client: FakeClient, name: string): Promise<'licence' | string> {
  const [out] = await rt.licensing.acquireLicense(await caller(name), [{ licenseeCerts: client.racChain, issuanceLicense: pl }]);
  if (out && 'chain' in out) return 'licence';
  return isRmsError(out?.error) ? out.error.code : String(out?.error);
}

beforeAll(async () => {
  db = await provisionedSqlite('principal-cache', clock);
  for (const n of ['alice', 'bob', 'carol']) await addUser(db.url, { name: n, email: `${n}@example.test`, password: `${n}-password-1`, groups: [] });
  // A refresh loop is what turns the cache on; a short one keeps the test quick.
  rt = await ClusterRuntime.open({ store: db.store, keyPassword: db.keyPassword, serverName: 'm1', clock, refreshMs: 400 });
  alice = await certifiedClient(rt.licensing, await caller('alice'), clock.now());
  const [clc] = await rt.licensing.getClientLicensorCert(await caller('alice'), [alice.racChain]);
  const offline = alice.publishOffline(clc!.chain, 'alice@example.test', ['bob@example.test:VIEW', 'carol@example.test:VIEW'].flatMap(parseGrantSpec), { now: clock.now() });
  pl = [offline.pl, ...clc!.chain];
});

afterAll(async () => {
  await rt?.close();
  await db?.dispose();
});

describe('principal cache', () => {
  it('a disabled user is refused licences within the refresh interval though cached, and sign-on at once', async () => {
    const bob = await certifiedClient(rt.licensing, await caller('bob'), clock.now());
    // Warm: bob is now in the cache, as every repeated request finds him.
    expect(await licenceFor(bob, 'bob')).toBe('licence');
    expect(await licenceFor(bob, 'bob')).toBe('licence');
    expect(await rt.authenticate('bob', 'bob-password-1')).toBeDefined();

    await setUserDisabled(db.url, 'admin', 'bob', true, clock);
    expect(await rt.authenticate('bob', 'bob-password-1')).toBeUndefined();
    await eventually('bob is refused a licence', async () => (await licenceFor(bob, 'bob')) === 'NoRightsForRequestedPrincipal');

    // Enabled again: sign-on at once (a disabled account is never kept), licences within the interval.
    await setUserDisabled(db.url, 'admin', 'bob', false, clock);
    expect(await rt.authenticate('bob', 'bob-password-1')).toBeDefined();
    await eventually('bob gets licences again', async () => (await licenceFor(bob, 'bob')) === 'licence');
  });

  it('a removed user is refused at sign-on at once and licences within the refresh interval', async () => {
    const carol = await certifiedClient(rt.licensing, await caller('carol'), clock.now());
    expect(await licenceFor(carol, 'alice')).toBe('licence');
    expect(await rt.authenticate('carol', 'carol-password-1')).toBeDefined();
    await removeUser(db.url, 'admin', 'carol', clock);
    expect(await rt.authenticate('carol', 'carol-password-1')).toBeUndefined();
    await eventually('carol is refused a licence', async () => (await licenceFor(carol, 'alice')) === 'NoRightsForRequestedPrincipal');
  });

  it('a changed password is refused at once though a sign-on with it was remembered', async () => {
    await addUser(db.url, { name: 'erin', email: 'erin@example.test', password: 'erin-password-1', groups: [] });
    // Twice: the second sign-on is answered from the remembered check (no scrypt).
    expect(await rt.authenticate('erin', 'erin-password-1')).toBeDefined();
    expect(await rt.authenticate('erin', 'erin-password-1')).toBeDefined();
    await setUserPassword(db.url, 'admin', 'erin', 'erin-password-2', clock);
    expect(await rt.authenticate('erin', 'erin-password-1')).toBeUndefined();
    expect(await rt.authenticate('erin', 'erin-password-2')).toBeDefined();
    await setUserDisabled(db.url, 'admin', 'erin', true, clock);
    expect(await rt.authenticate('erin', 'erin-password-2')).toBeUndefined();
  });

  it('an account created after a failed sign-on signs on at once', async () => {
    expect(await rt.authenticate('dora', 'dora-password-1')).toBeUndefined();
    await addUser(db.url, { name: 'dora', email: 'dora@example.test', password: 'dora-password-1', groups: [] });
    expect(await rt.authenticate('dora', 'dora-password-1')).toBeDefined();
  });
});
