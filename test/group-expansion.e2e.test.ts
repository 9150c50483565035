import path from 'node:path';
import { RmsClient } from '@openrms/client';
import { addGroup, changeDacl, peerAdmin, withProvisionedStore } from '@openrms/issuance';
import type { RunningServer } from '@openrms/server';
import { isPrincipalMemberOf } from '@openrms/soap';
import { addPeople, freePort, person, provisionRoot, startMember } from './support/clusters';
import { sqliteDatabase, tempDir, type TestDatabase } from './support/databases';

/*
 * Group expansion ([MS-RMPRS] IsPrincipalMemberOf) between two organisations: cluster A licenses
 * content granted to a group that only cluster B's directory holds, by asking B.
 */
describe('group expansion between two clusters (real HTTP on loopback)', () => {
  const alice = person('alice');
  const bob = person('bob');
  const carol = person('carol');
  const peer = { name: 'a-peer', email: 'a-peer@b.test', password: 'a-peer-password-1' };
  let dbA: TestDatabase;
  let dbB: TestDatabase;
  let a: RunningServer;
  let b: RunningServer;
  let state: string;

  beforeAll(async () => {
    dbA = sqliteDatabase();
    dbB = sqliteDatabase();
    state = tempDir('gx-e2e');
    const [portA, portB] = [await freePort(), await freePort()];
    await provisionRoot(dbA, portA);
    const baseB = await provisionRoot(dbB, portB);
    await addPeople(dbA, [alice, bob, carol]);
    // In B's directory, partners@b.test holds a contact with bob's address (a foreign principal).
    await addGroup(dbB.url, { name: 'partners', email: 'partners@b.test' });
    await addPeople(dbB, [{ name: 'bob-of-a', email: bob.email, password: 'bob-of-a-password-1' }], ['partners']);
    await addPeople(dbB, [peer]);
    await peerAdmin.add(dbA.url, { domain: 'b.test', url: baseB, name: peer.name, password: peer.password });
    [a, b] = await Promise.all([startMember(dbA, portA, 'a1'), startMember(dbB, portB, 'b1')]);
  }, 120_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    dbA?.dispose();
    dbB?.dispose();
  });

  const client = (p: { name: string; password: string }) => new RmsClient({ serverUrl: a.url, user: p.name, password: p.password, stateDir: path.join(state, p.name) });
  const ask = (creds: { name: string; password: string }, principalName: string, groups: string[], counter = 0) =>
    isPrincipalMemberOf(`${b.url}/_wmcs`, creds, { principalName, targetGroups: groups, crossForestCallsSoFar: counter }, { timeoutMs: 10_000 });

  test('GroupExpansion.asmx is closed to everyone until an administrator grants the peer account', async () => {
    await expect(ask(peer, bob.email, ['partners@b.test'])).rejects.toMatchObject({ code: 'AccessDenied' });
    await withProvisionedStore(dbB.url, (s) => changeDacl(s, 'test', { action: 'grant', endpoint: '/_wmcs/groupexpansion/GroupExpansion.asmx', principal: peer.name, right: 'Execute' }));
    await b.runtime.refresh();
    expect(await ask(peer, bob.email, ['partners@b.test'])).toBe(true);
    expect(await ask(peer, bob.email, ['someone-else@b.test'])).toBe(false);
    expect(await ask(peer, 'nobody@example.test', ['partners@b.test'])).toBe(false);
    expect(await ask(peer, bob.email, [])).toBe(false);
    // A wrong password is refused before anything is answered.
    await expect(ask({ name: peer.name, password: 'wrong-password-1' }, bob.email, ['partners@b.test'])).rejects.toMatchObject({ code: 'AccessDenied' });
  });

  test('the responder faults once the cross-forest counter reaches its limit', async () => {
    await expect(ask(peer, bob.email, ['partners@b.test'], 10)).rejects.toThrow(/10|crossForest/i);
  });

  test('bob, a member of partners@b.test only in B, opens what alice granted to that group; carol does not', async () => {
    const file = await client(alice).protect(Buffer.from('joint venture terms'), { grants: [{ right: 'VIEW', grantee: { kind: 'email', email: 'partners@b.test' } }] });
    expect((await client(bob).open(file)).content.toString()).toBe('joint venture terms');
    await expect(client(carol).open(file)).rejects.toMatchObject({ faultName: expect.stringContaining('NoRightsForRequestedPrincipalException') });
  });

  test('with the peer down, no rights are granted on a guess and A keeps serving', async () => {
    const file = await client(alice).protect(Buffer.from('second draft'), { grants: [{ right: 'VIEW', grantee: { kind: 'email', email: 'partners@b.test' } }] });
    await b.close();
    await expect(client(bob).open(file)).rejects.toMatchObject({ faultName: expect.stringContaining('NoRightsForRequestedPrincipalException') });
    expect((await fetch(`${a.url}/healthz`)).status).toBe(200);
  });
});
