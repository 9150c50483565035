import { fixedClock, isRmsError, parseGrantSpec, type RmsErrorCode } from '@openrms/domain';
import { ClusterRuntime } from './cluster-runtime';
import { decommissionCluster } from './decommission-cluster';
import type { Caller } from './licensing-service';
import { addUser } from './principal-admin';
import { callerNamed, certifiedClient, FakeClient } from './testing/fake-client';
import { provisionedSqlite, type ProvisionedSqlite } from './testing/provisioned-sqlite';

const clock = fixedClock(new Date());
let db: ProvisionedSqlite;
let other: ProvisionedSqlite;
let rt: ClusterRuntime;

const caller = (name: string): Promise<Caller> => callerNamed(db.store, name, `req-${name}-${Math.random()}`);

const certified = async (name: string): Promise<FakeClient> => certifiedClient(rt.licensing, await caller(name), clock.now());

async function codeOf(p: Promise<unknown>): Promise<RmsErrorCode | string> {
  try {
    await p;
    return 'no error';
  } catch (e) {
    return isRmsError(e) ? e.code : String(e);
  }
}

/** Published before decommissioning: an offline PL (with its CLC chain), one addressed to another cluster. */
let alice: FakeClient;
let offline: { chain: string[]; contentKey: ReturnType<FakeClient['publishOffline']>['contentKey']; contentId: string };
let online: { chain: string[]; contentKey: ReturnType<FakeClient['publishOffline']>['contentKey'] };
let foreign: string[];

beforeAll(async () => {
  db = await provisionedSqlite('decommission', clock);
  other = await provisionedSqlite('decommission-other', clock);
  for (const n of ['alice', 'bob']) await addUser(db.url, { name: n, email: `${n}@example.test`, password: `${n}-password-1`, groups: [] });
  rt = await ClusterRuntime.open({ store: db.store, keyPassword: db.keyPassword, serverName: 'm1', clock, refreshMs: 0 });
  alice = await certified('alice');
  const [clc] = await rt.licensing.getClientLicensorCert(await caller('alice'), [alice.racChain]);
  const grants = parseGrantSpec('bob@example.test:VIEW');
  const p = alice.publishOffline(clc!.chain, 'alice@example.test', grants, { now: clock.now() });
  offline = { chain: [p.pl, ...clc!.chain], contentKey: p.contentKey, contentId: p.contentId };
  const draft = alice.publishOffline(clc!.chain, 'alice@example.test', grants, { now: clock.now() });
  const [signed] = await rt.licensing.acquireIssuanceLicense(await caller('alice'), [draft.unsigned]);
  online = { chain: signed!.chain, contentKey: draft.contentKey };
  // Signed through our CLC, but its ISSUEDPRINCIPALS name another cluster's SLC.
  const otherSlc = (await other.store.slcChains.getActive((await other.store.clusters.get()).id)).chain[0]!;
  foreign = [alice.publishOffline(clc!.chain, 'alice@example.test', grants, { now: clock.now(), serverSlc: otherSlc }).pl, ...clc!.chain];
});

afterAll(async () => {
  await rt?.close();
  await db?.dispose();
  await other?.dispose();
});

describe('decommissioning', () => {
  it('refuses AcquireContentKey before the cluster is decommissioned, and audits the refusal', async () => {
    expect(await codeOf(rt.licensing.acquireContentKey(await caller('alice'), offline.chain))).toBe('ClusterNotDecommissioned');
    const [last] = await db.store.audit.list({ limit: 1 });
    expect(last).toMatchObject({ action: 'content-key.release.refused', actor: 'alice', after: { reason: 'ClusterNotDecommissioned' } });
  });

  it('needs --confirm, then sets the flag once in an audited transaction', async () => {
    expect(await codeOf(decommissionCluster({ databaseUrl: db.url, confirm: false }))).toBe('InvalidInput');
    expect((await db.store.clusters.get()).decommissioned).toBe(false);
    const first = await decommissionCluster({ databaseUrl: db.url, confirm: true, actor: 'ops', clock });
    expect(first.changed).toBe(true);
    const again = await decommissionCluster({ databaseUrl: db.url, confirm: true, actor: 'ops', clock });
    expect(again.changed).toBe(false);
    const entries = (await db.store.audit.list({ limit: 50 })).filter((a) => a.action === 'cluster.decommission');
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ actor: 'ops', target: first.clusterId, after: { decommissioned: true } });
    await rt.refresh();
  });

  it('then faults every certificate and licence operation with ClusterDecommissioned', async () => {
    const bob = await caller('bob');
    const fresh = new FakeClient(clock.now());
    expect(await codeOf(rt.licensing.certify(bob, { machineChain: [fresh.spc], persistent: true }))).toBe('ClusterDecommissioned');
    expect(await codeOf(rt.licensing.acquireLicense(bob, [{ licenseeCerts: alice.racChain, issuanceLicense: offline.chain }]))).toBe('ClusterDecommissioned');
    expect(await codeOf(rt.licensing.getClientLicensorCert(bob, [alice.racChain]))).toBe('ClusterDecommissioned');
    expect(await codeOf(rt.licensing.acquireIssuanceLicense(bob, []))).toBe('ClusterDecommissioned');
    expect(await codeOf(rt.licensing.precertify(bob, { userName: 'bob@example.test' }))).toBe('ClusterDecommissioned');
    expect(await codeOf(rt.licensing.acquirePreLicense(bob, []))).toBe('ClusterDecommissioned');
    expect(await codeOf(rt.licensing.templateInformation(bob))).toBe('ClusterDecommissioned');
    expect(await codeOf(rt.licensing.templates(bob, []))).toBe('ClusterDecommissioned');
    expect(await codeOf(Promise.resolve().then(() => rt.getLicensorCertificate()))).toBe('ClusterDecommissioned');
  });

  it('then releases the content key of an offline or online PL, the same key that encrypted the content', async () => {
    const plain = Buffer.from('decommissioned memo');
    const sealed = offline.contentKey.encrypt(plain, Buffer.from('aad'));
    const r = await rt.licensing.acquireContentKey(await caller('bob'), offline.chain);
    expect(r.contentKeyType).toBe('AES');
    expect(r.contentKey).toEqual(offline.contentKey.releaseForDecommissioning());
    const { createDecipheriv } = await import('node:crypto');
    const d = createDecipheriv('aes-256-gcm', r.contentKey, sealed.subarray(0, 12));
    d.setAAD(Buffer.from('aad'));
    d.setAuthTag(sealed.subarray(sealed.length - 16));
    expect(Buffer.concat([d.update(sealed.subarray(12, sealed.length - 16)), d.final()])).toEqual(plain);

    const onlineKey = await rt.licensing.acquireContentKey(await caller('bob'), online.chain);
    expect(onlineKey.contentKey).toEqual(online.contentKey.releaseForDecommissioning());
  });

  it('audits each release with the caller and the content id, never the key', async () => {
    await rt.licensing.acquireContentKey(await caller('alice'), offline.chain);
    const [last] = await db.store.audit.list({ limit: 1 });
    expect(last).toMatchObject({ action: 'content-key.release', actor: 'alice', target: offline.contentId, after: { contentId: offline.contentId, keyType: 'AES' } });
    const keyB64 = offline.contentKey.releaseForDecommissioning().toString('base64');
    const keyHex = offline.contentKey.releaseForDecommissioning().toString('hex');
    const all = JSON.stringify(await db.store.audit.list({ limit: 200 }));
    expect(all).not.toContain(keyB64);
    expect(all).not.toContain(keyHex);
  });

  it('refuses a PL published for another cluster and a PL that does not verify', async () => {
    expect(await codeOf(rt.licensing.acquireContentKey(await caller('bob'), foreign))).toBe('ContentKeyNoMatchingIssuedPrincipal');
    // Decided by ISSUEDPRINCIPALS before the signature ([MS-RMSI] 3.2.4.1): the foreign PL's leaf alone says the same.
    expect(await codeOf(rt.licensing.acquireContentKey(await caller('bob'), [foreign[0]!]))).toBe('ContentKeyNoMatchingIssuedPrincipal');
    expect(await codeOf(rt.licensing.acquireContentKey(await caller('bob'), ['<XrML version="1.2"><BODY/></XrML>']))).toBe('InvalidRightsLabelSignature');
    expect(await codeOf(rt.licensing.acquireContentKey(await caller('bob'), [offline.chain[0]!]))).toBe('InvalidRightsLabelSignature');
    expect(await codeOf(rt.licensing.acquireContentKey(await caller('bob'), []))).toBe('ArgumentNull');
  });
});
