import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fixedClock, isRmsError, parseGrantSpec, type RmsErrorCode } from '@openrms/domain';
import { openStore, type Store } from '@openrms/store';
import { parseXrml, publicKeysEqual, readCertificate, readPublishingLicense, readRac, readRevocationList, verifyXrmlSignature } from '@openrms/xrml';
import { ClusterRuntime } from './cluster-runtime';
import type { Caller } from './licensing-service';
import { addUser } from './principal-admin';
import { provisionRootCluster } from './provision-root';
import { revocationListUrl } from './revocation-list';
import { listRevocationsIn, revokeIn, unrevokeIn } from './revoke';
import { callerNamed, certifiedClient, type FakeClient } from './testing/fake-client';

const KEY_PASSWORD = 'cluster-key-password';
const clock = fixedClock(new Date());
let dir: string;
let store: Store;
let rt: ClusterRuntime;
const caller = (name: string): Promise<Caller> => callerNamed(store, name);

async function code(p: Promise<unknown>): Promise<RmsErrorCode | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (isRmsError(e)) return e.code;
    throw e;
  }
}

const clients = new Map<string, FakeClient>();
async function certified(name: string): Promise<FakeClient> {
  if (!clients.has(name)) clients.set(name, await certifiedClient(rt.licensing, await caller(name), clock.now()));
  return clients.get(name)!;
}

/** AcquireLicense for `name` (with `rac`, default their own) on `plChain`: 'ok' or the item's fault code. */
async function acquire(name: string, plChain: string[], rac?: string): Promise<string> {
  const [item] = await rt.licensing.acquireLicense(await caller(name), [{ licenseeCerts: [rac ?? (await certified(name)).racChain[0]!], issuanceLicense: plChain }]);
  return 'chain' in item! ? 'ok' : isRmsError(item!.error) ? item!.error.code : String(item!.error);
}

async function publish(owner: string, grants: string | string[]) {
  const c = await certified(owner);
  const [clc] = await rt.licensing.getClientLicensorCert(await caller(owner), [c.racChain]);
  const out = c.publishOffline(clc!.chain, `${owner}@example.test`, [grants].flat().flatMap(parseGrantSpec), { now: clock.now() });
  return { plChain: [out.pl, ...clc!.chain], clcChain: clc!.chain };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'openrms-revoke-'));
  const url = `sqlite:${path.join(dir, 'rms.db')}`;
  await provisionRootCluster({
    databaseUrl: url,
    clusterUrl: 'https://rms.example.test',
    serviceAccount: 'rms-svc',
    admin: { name: 'admin', password: 'admin-password-1' },
    keyPassword: KEY_PASSWORD,
    revocation: { kind: 'standard' },
  });
  for (const n of ['alice', 'bob', 'carol']) await addUser(url, { name: n, email: `${n}@example.test`, password: `${n}-password-1`, groups: [] });
  store = await openStore(url);
  rt = await ClusterRuntime.open({ store, keyPassword: KEY_PASSWORD, serverName: 'm1', clock, refreshMs: 0 });
});

afterAll(async () => {
  await rt?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('revocation', () => {
  it('the SLC names the list URL; a member publishes an empty, signed list at start', async () => {
    const url = revocationListUrl(rt.cluster);
    expect(url).toBe(`https://rms.example.test/_wmcs/licensing/revocation/${rt.cluster.id}.xml`);
    expect(rt.slc.revocation?.authorities[0]?.url).toBe(url);
    const list = rt.revocationList!;
    const info = readRevocationList(verifyXrmlSignature(list.xml, rt.slc.principal.publicKey));
    expect(info.entries).toEqual([]);
    expect(info.issuer.id).toBe(rt.slc.principal.id);
    expect(info.validity!.until.getTime()).toBeGreaterThan(info.issuedTime.getTime());
  });

  it('a revoked RAC is refused by AcquireLicense and GetClientLicensorCert once the member refreshes; lifting it restores it', async () => {
    const { plChain } = await publish('alice', 'bob@example.test:VIEW');
    const bob = await certified('bob');
    expect(await acquire('bob', plChain)).toBe('ok');

    const r = await revokeIn(store, 'admin', { target: { kind: 'RAC', file: bob.racChain[0]! }, reason: 'laptop stolen' }, clock);
    expect(r).toMatchObject({ kind: 'RAC', match: 'id', value: readRac(parseXrml(bob.racChain[0]!)).descriptorGuid, subject: 'bob@example.test', revokedBy: 'admin' });
    // Enforcement waits for nothing but the refresh; nothing about the verified document is kept.
    expect(await acquire('bob', plChain)).toBe('ok');
    await rt.refresh();
    expect(await acquire('bob', plChain)).toBe('UnexpectedPersonaCert');
    expect(await code(rt.licensing.getClientLicensorCert(await caller('bob'), [bob.racChain]))).toBe('UnexpectedPersonaCert');
    // The same RAC twice is AlreadyExists.
    expect(await code(revokeIn(store, 'admin', { target: { kind: 'RAC', id: r.value } }, clock))).toBe('AlreadyExists');

    // The list was signed again with the entry in it.
    const listed = readRevocationList(verifyXrmlSignature(rt.revocationList!.xml, rt.slc.principal.publicKey));
    expect(listed.entries).toEqual([{ type: 'license-id', idType: 'MS-GUID', id: r.value }]);
    expect(rt.revocationList!.xml).not.toContain('bob@example.test');

    await unrevokeIn(store, 'admin', r.id.slice(0, 8), clock);
    await rt.refresh();
    expect(await acquire('bob', plChain)).toBe('ok');
    const audit = (await store.audit.list({ limit: 50 })).filter((e) => e.action.startsWith('revocation.'));
    expect(audit.map((e) => e.action).sort()).toEqual(['revocation.add', 'revocation.remove']);
  });

  it('a RAC key revoked: every RAC with it is refused, and Certify issues none until lifted', async () => {
    const carol = await certified('carol');
    const { plChain } = await publish('alice', ['carol@example.test:VIEW', 'bob@example.test:VIEW']);
    const key = readRac(parseXrml(carol.racChain[0]!)).publicKey;
    const r = await revokeIn(store, 'admin', { target: { kind: 'RAC', keyPem: key.export({ type: 'spki', format: 'pem' }).toString() } }, clock);
    await rt.refresh();
    expect(await acquire('carol', plChain)).toBe('UnexpectedPersonaCert');
    expect(await code(certifiedClient(rt.licensing, await caller('carol'), clock.now()))).toBe('UnauthorizedAccess');
    // Nor is she pre-licensed with it: her entry carries the fault, the others' their licence.
    const [pre] = await rt.licensing.acquirePreLicense(await caller('alice'), [{ licenseeIdentities: ['carol@example.test', 'bob@example.test'], issuanceLicense: plChain }]);
    const [forCarol, forBob] = pre!.licenses;
    expect(forCarol && 'error' in forCarol && isRmsError(forCarol.error) ? forCarol.error.code : forCarol).toBe('UnexpectedPersonaCert');
    expect(forBob && 'license' in forBob ? 'license' : forBob).toBe('license');
    await unrevokeIn(store, 'admin', r.id, clock);
    await rt.refresh();
    expect(await acquire('carol', plChain)).toBe('ok');
  });

  it('a PL revoked by content ID, and a CLC by its ID, refuse the issuance licence', async () => {
    const a = await publish('alice', 'bob@example.test:VIEW');
    const contentId = readPublishingLicense(parseXrml(a.plChain[0]!)).contentId;
    const pl = await revokeIn(store, 'admin', { target: { kind: 'PL', contentId: contentId.toUpperCase() } }, clock);
    expect(pl.value).toBe(contentId);
    await rt.refresh();
    expect(await acquire('bob', a.plChain)).toBe('InvalidRightsLabelSignature');
    await unrevokeIn(store, 'admin', pl.id, clock);

    const b = await publish('alice', 'bob@example.test:VIEW');
    const clc = await revokeIn(store, 'admin', { target: { kind: 'CLC', file: JSON.stringify(b.clcChain) } }, clock);
    expect(clc.value).toBe(readCertificate(parseXrml(b.clcChain[0]!)).descriptorGuid);
    await rt.refresh();
    expect(await acquire('bob', b.plChain)).toBe('InvalidRightsLabelSignature');
    // Another CLC of the same person still publishes.
    const c = await publish('alice', 'bob@example.test:VIEW');
    expect(await acquire('bob', c.plChain)).toBe('ok');
    await unrevokeIn(store, 'admin', clc.id, clock);
    await rt.refresh();
    expect(await acquire('bob', b.plChain)).toBe('ok');
  });

  it('refuses what it cannot revoke, with a clear InvalidInput', async () => {
    const own = rt.getLicensorCertificate()[0]!;
    expect(await code(revokeIn(store, 'admin', { target: { kind: 'SLC', file: own } }, clock))).toBe('InvalidInput');
    expect(await code(revokeIn(store, 'admin', { target: { kind: 'SLC', serverId: rt.cluster.id } }, clock))).toBe('InvalidInput');
    expect(await code(revokeIn(store, 'admin', { target: { kind: 'RAC', id: 'not-a-guid' } }, clock))).toBe('InvalidInput');
    expect(await code(revokeIn(store, 'admin', { target: { kind: 'RAC' } }, clock))).toBe('InvalidInput');
    expect(await code(revokeIn(store, 'admin', { target: { kind: 'RAC', file: own } }, clock))).toBe('InvalidInput');
    expect(await code(revokeIn(store, 'admin', { target: { kind: 'CLC', keyPem: 'not a key' } }, clock))).toBe('InvalidInput');
    expect(await code(revokeIn(store, 'admin', { target: { kind: 'PL', file: '<nothing/>' } }, clock))).toBe('InvalidInput');
    expect(await code(unrevokeIn(store, 'admin', 'ffffffff-none', clock))).toBe('NotFound');
    expect(await listRevocationsIn(store)).toEqual([]);
  });

  it('an SLC (another cluster’s) revoked by its file: its key and server ID are listed', async () => {
    const other = await import('@openrms/keys');
    const key = other.ClusterKey.generate(2048);
    const { buildRootSlc } = await import('./provision-root');
    const slc = buildRootSlc(key, { serverGuid: '{0f0f0f0f-1111-4222-8333-444444444444}', name: 'partner', url: 'https://partner.example.test/_wmcs', issueScope: ['CLC', 'PL', 'UL'], revocation: { kind: 'standard' }, now: clock.now() });
    const r = await revokeIn(store, 'admin', { target: { kind: 'SLC', file: slc } }, clock);
    expect(r).toMatchObject({ kind: 'SLC', match: 'id', value: '{0f0f0f0f-1111-4222-8333-444444444444}' });
    await rt.refresh();
    expect(rt.revocations.serverRevoked({ publicKey: key.publicKey })).toBe(true);
    const entries = readRevocationList(verifyXrmlSignature(rt.revocationList!.xml, rt.slc.principal.publicKey)).entries;
    expect(entries.map((e) => e.type)).toEqual(['principal-id', 'principal-key']);
    const k = entries[1]!;
    expect(k.type === 'principal-key' && publicKeysEqual(k.publicKey, key.publicKey)).toBe(true);
    await unrevokeIn(store, 'admin', r.id, clock);
  });
});
