import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DAY_MS, fixedClock, newBracedGuid, RmsError, type RmsErrorCode } from '@openrms/domain';
import { openStore, type Store } from '@openrms/store';
import { buildSlc, parseXrml, publicKeysEqual, readCertificate, signXrml, verifyChain } from '@openrms/xrml';
import { ClusterRuntime } from './cluster-runtime';
import { addUser } from './principal-admin';
import { provisionLicensingCluster, type RootClusterPort } from './provision-licensing';
import { provisionRootCluster } from './provision-root';
import { updateRootCredentials } from './root-credentials';
import { SETTINGS } from './settings';
import { isUnrecoverableJobError, renewSlcIfDue } from './slc-renewal';

const KEY_PASSWORD = 'cluster-key-password';
const T0 = new Date('2026-03-01T10:20:30.000Z');
const day = (n: number) => new Date(T0.getTime() + n * DAY_MS);
const dirs: string[] = [];
function dbUrl(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'openrms-renew-'));
  dirs.push(dir);
  return `sqlite:${path.join(dir, 'rms.db')}`;
}

async function failure(p: Promise<unknown>): Promise<RmsError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof RmsError)) throw new Error(`expected an RmsError, got ${String(e)}`);
  return e;
}

async function expectCode(p: Promise<unknown>, code: RmsErrorCode): Promise<RmsError> {
  const e = await failure(p);
  if (e.code !== code) throw new Error(`expected ${code}, got ${e.code}: ${e.message}`);
  return e;
}

async function provisionRoot(url: string, clock = fixedClock(T0)) {
  await provisionRootCluster({
    databaseUrl: url,
    clusterUrl: 'https://root.example.test',
    serviceAccount: 'rms-svc',
    admin: { name: 'admin', password: 'admin-password-1' },
    keyPassword: KEY_PASSWORD,
    revocation: { kind: 'standard' },
    serverName: 'root-1',
    clock,
  });
}

const counts = async (store: Store) => {
  const cluster = await store.clusters.get();
  return {
    chains: (await store.slcChains.list(cluster.id)).length,
    issuedSlc: await store.issued.count({ kind: 'SLC' }),
    renewAudits: (await store.audit.list({ limit: 100 })).filter((a) => a.action === 'slc.renew').length,
  };
};

afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('renewSlcIfDue on a root cluster', () => {
  const clock = fixedClock(T0);
  let url: string;
  let store: Store;

  beforeAll(async () => {
    url = dbUrl();
    await provisionRoot(url, clock);
    store = await openStore(url);
  });
  afterAll(() => store.close());

  it('does nothing while the SLC ends later than the window', async () => {
    clock.set(day(200));
    const before = await counts(store);
    const r = await renewSlcIfDue(store, { keyPassword: KEY_PASSWORD, clock });
    expect(r).toMatchObject({ renewed: false, reason: 'not-due' });
    expect(r.validUntil.toISOString()).toBe('2027-03-01T10:20:00.000Z');
    expect(await counts(store)).toEqual(before);
    // A wider window makes the same SLC due.
    expect((await renewSlcIfDue(store, { keyPassword: KEY_PASSWORD, clock, renewalWindowDays: 0 })).reason).toBe('not-due');
  });

  it('refuses a wrong key password as unrecoverable, writing nothing', async () => {
    clock.set(day(340));
    const before = await counts(store);
    const e = await expectCode(renewSlcIfDue(store, { keyPassword: 'wrong-password-123', clock }), 'KeyPasswordInvalid');
    expect(isUnrecoverableJobError(e)).toBe(true);
    expect(await counts(store)).toEqual(before);
  });

  it('re-signs its own SLC within the window: same key, GUID, name, scope and revocation, one more year; atomically swapped, recorded, audited', async () => {
    clock.set(day(340));
    const cluster = await store.clusters.get();
    const old = await store.slcChains.getActive(cluster.id);
    const oldLeaf = readCertificate(parseXrml(old.chain[0]!));
    const before = await counts(store);
    const r = await renewSlcIfDue(store, { keyPassword: KEY_PASSWORD, clock });
    expect(r).toMatchObject({ renewed: true, reason: 'renewed' });
    expect(r.previousValidUntil.toISOString()).toBe('2027-03-01T10:20:00.000Z');
    expect(r.validUntil.toISOString()).toBe('2028-02-04T10:20:00.000Z');
    const now = await store.slcChains.getActive(cluster.id);
    expect(now.id).not.toBe(old.id);
    expect(now.chain).toHaveLength(1);
    const [leaf] = verifyChain(now.chain, { trustedRootKeys: [oldLeaf.principal.publicKey], now: day(340) });
    expect(publicKeysEqual(leaf!.principal.publicKey, oldLeaf.principal.publicKey)).toBe(true);
    expect(leaf!.principal.id).toBe(oldLeaf.principal.id);
    expect(leaf!.principal.name).toBe(oldLeaf.principal.name);
    expect(leaf!.issueScope).toEqual(oldLeaf.issueScope);
    expect(leaf!.revocation?.authorities).toHaveLength(1);
    expect(leaf!.descriptorGuid).not.toBe(oldLeaf.descriptorGuid);
    // The old chain stays, inactive: what was issued under it carries it and still verifies.
    expect((await store.slcChains.get(old.id)).active).toBe(false);
    verifyChain(old.chain, { trustedRootKeys: [oldLeaf.principal.publicKey], now: day(341) });
    expect(await counts(store)).toEqual({ chains: before.chains + 1, issuedSlc: before.issuedSlc + 1, renewAudits: before.renewAudits + 1 });
    const audit = (await store.audit.list({ limit: 5 })).find((a) => a.action === 'slc.renew')!;
    expect(audit.actor).toBe('system');
    expect(audit.before).toMatchObject({ chainId: old.id, validUntil: '2027-03-01T10:20:00.000Z' });
    expect(audit.after).toMatchObject({ validUntil: r.validUntil.toISOString(), kind: 'root' });
    expect(await store.settings.get(SETTINGS.slcLastRenewal)).toEqual({ at: day(340).toISOString(), validUntil: r.validUntil.toISOString() });
    // A member serves it after its next refresh.
    const rt = await ClusterRuntime.open({ store, keyPassword: KEY_PASSWORD, serverName: 'root-1', clock, refreshMs: 0 });
    expect(rt.getLicensorCertificate()).toEqual(now.chain);
    await rt.close();
  });

  it('is idempotent: a second call right after does nothing', async () => {
    const before = await counts(store);
    const r = await renewSlcIfDue(store, { keyPassword: KEY_PASSWORD, clock });
    expect(r).toMatchObject({ renewed: false, reason: 'not-due' });
    expect(await counts(store)).toEqual(before);
  });

  it('renews once when two workers race on the same chain', async () => {
    clock.set(day(340 + 340));
    const before = await counts(store);
    const results = await Promise.all([1, 2, 3].map(() => renewSlcIfDue(store, { keyPassword: KEY_PASSWORD, clock })));
    expect(results.filter((r) => r.renewed)).toHaveLength(1);
    expect(results.filter((r) => !r.renewed).every((r) => r.reason === 'renewed-elsewhere' || r.reason === 'not-due')).toBe(true);
    expect(await counts(store)).toEqual({ chains: before.chains + 1, issuedSlc: before.issuedSlc + 1, renewAudits: before.renewAudits + 1 });
  });

  it('renews an SLC that has already expired', async () => {
    const url2 = dbUrl();
    await provisionRoot(url2);
    const s = await openStore(url2);
    try {
      const late = fixedClock(day(400));
      const r = await renewSlcIfDue(s, { keyPassword: KEY_PASSWORD, clock: late });
      expect(r.renewed).toBe(true);
      expect(r.validUntil.getTime()).toBeGreaterThan(day(760).getTime());
    } finally {
      await s.close();
    }
  });
});

describe('renewSlcIfDue on a licensing-only cluster', () => {
  const rootClock = fixedClock(T0);
  const licClock = fixedClock(day(10));
  let rootUrl: string;
  let licUrl: string;
  let rootStore: Store;
  let licStore: Store;
  let rootRt: ClusterRuntime;
  const calls = { getLicensorCertificate: 0, subEnroll: 0 };

  const rootPort: RootClusterPort = {
    async getLicensorCertificate() {
      calls.getLicensorCertificate++;
      return rootRt.getLicensorCertificate();
    },
    async subEnroll(req) {
      calls.subEnroll++;
      const p = await rootStore.principals.getByName('enroller');
      return (await rootRt.licensing.subEnroll({ requestId: 'renewal-test', principal: { id: p.id, name: p.name, email: p.email! } }, req)).chain;
    },
  };

  beforeAll(async () => {
    rootUrl = dbUrl();
    licUrl = dbUrl();
    await provisionRoot(rootUrl, rootClock);
    await addUser(rootUrl, { name: 'enroller', email: 'enroller@example.test', password: 'enroller-password-1', groups: [] });
    rootStore = await openStore(rootUrl);
    rootClock.set(day(10));
    rootRt = await ClusterRuntime.open({ store: rootStore, keyPassword: KEY_PASSWORD, serverName: 'root-1', clock: rootClock, refreshMs: 0 });
    await provisionLicensingCluster({
      rootUrl: 'https://root.example.test/_wmcs',
      root: rootPort,
      rootCredentials: { name: 'enroller', password: 'enroller-password-1' },
      databaseUrl: licUrl,
      clusterUrl: 'https://lic.example.test',
      serviceAccount: 'lic-svc',
      admin: { name: 'lic-admin', password: 'lic-admin-password' },
      keyPassword: KEY_PASSWORD,
      serverName: 'lic-1',
      clock: licClock,
    });
    licStore = await openStore(licUrl);
    calls.subEnroll = 0;
  });
  afterAll(async () => {
    await rootRt.close();
    await rootStore.close();
    await licStore.close();
  });

  it('keeps the root account sealed to the cluster key, never in clear', async () => {
    const stored = (await licStore.settings.get(SETTINGS.rootCredentials)) as { sealed: string; name: string };
    expect(stored.name).toBe('enroller');
    expect(Buffer.from(stored.sealed, 'base64').toString('latin1')).not.toContain('enroller-password-1');
    expect(JSON.stringify(stored)).not.toContain('enroller-password-1');
  });

  it('waits for the root while the root’s SLC ends no later than its own: a result, not a failure; no SubEnroll, nothing renewed, audited once', async () => {
    // Its SLC was capped at the root's end (T0 + 1 year); 25 days are left on both.
    licClock.set(day(340));
    rootClock.set(day(340));
    await rootRt.refresh();
    const cluster = await licStore.clusters.get();
    const active = await licStore.slcChains.getActive(cluster.id);
    const before = await counts(licStore);
    const waits = async () => (await licStore.audit.list({ limit: 100 })).filter((a) => a.action === 'slc.renew.waiting');
    const r = await renewSlcIfDue(licStore, { keyPassword: KEY_PASSWORD, clock: licClock, root: rootPort });
    expect(r).toMatchObject({ renewed: false, reason: 'waiting-for-root', firstNotice: true });
    expect(r.detail).toMatch(/root's SLC ends .* no later than ours/);
    expect(r.validUntil.toISOString()).toBe('2027-03-01T10:20:00.000Z');
    expect(r.rootValidUntil!.toISOString()).toBe(r.validUntil.toISOString());
    expect(calls.subEnroll).toBe(0);
    expect(await counts(licStore)).toEqual(before);
    expect((await licStore.slcChains.getActive(cluster.id)).id).toBe(active.id);
    expect(await waits()).toHaveLength(1);
    expect((await waits())[0]!.after).toEqual({ validUntil: r.validUntil.toISOString(), rootValidUntil: r.rootValidUntil!.toISOString() });

    // The next tick finds the same wait: reported again, audited no more.
    licClock.set(day(341));
    const again = await renewSlcIfDue(licStore, { keyPassword: KEY_PASSWORD, clock: licClock, root: rootPort });
    expect(again).toMatchObject({ renewed: false, reason: 'waiting-for-root', firstNotice: false });
    expect(calls.subEnroll).toBe(0);
    expect(await waits()).toHaveLength(1);
    licClock.set(day(340));
  });

  it('waits (rather than fails) when the root’s SLC has already expired with its own', async () => {
    const late = fixedClock(day(366));
    const r = await renewSlcIfDue(licStore, { keyPassword: KEY_PASSWORD, clock: late, root: rootPort });
    expect(r).toMatchObject({ renewed: false, reason: 'waiting-for-root' });
    expect(calls.subEnroll).toBe(0);
  });

  it('after the root renewed, sub-enrolls again with its own key and GUID through the stored credentials', async () => {
    expect((await renewSlcIfDue(rootStore, { keyPassword: KEY_PASSWORD, clock: rootClock })).renewed).toBe(true);
    await rootRt.refresh();
    const cluster = await licStore.clusters.get();
    const old = await licStore.slcChains.getActive(cluster.id);
    const oldLeaf = readCertificate(parseXrml(old.chain[0]!));
    const before = await counts(licStore);
    const seen: { url?: string; name?: string; password?: string } = {};
    const r = await renewSlcIfDue(licStore, {
      keyPassword: KEY_PASSWORD,
      clock: licClock,
      root: ({ url, credentials }) => {
        Object.assign(seen, { url, ...credentials });
        return rootPort;
      },
    });
    expect(seen).toEqual({ url: 'https://root.example.test/_wmcs', name: 'enroller', password: 'enroller-password-1' });
    expect(r).toMatchObject({ renewed: true, reason: 'renewed' });
    expect(calls.subEnroll).toBe(1);
    const now = await licStore.slcChains.getActive(cluster.id);
    expect(now.chain).toHaveLength(2);
    expect(now.chain[1]).toBe(rootRt.getLicensorCertificate()[0]);
    const rootKey = readCertificate(parseXrml(now.chain[1]!)).principal.publicKey;
    const [leaf] = verifyChain(now.chain, { trustedRootKeys: [rootKey], now: day(341) });
    expect(leaf!.principal.id).toBe(oldLeaf.principal.id);
    expect(publicKeysEqual(leaf!.principal.publicKey, oldLeaf.principal.publicKey)).toBe(true);
    expect(leaf!.validUntil!.getTime()).toBeGreaterThan(day(700).getTime());
    // The longest the root allows: one year from now, within the root's renewed SLC.
    expect(leaf!.validUntil!.getTime()).toBeGreaterThan(oldLeaf.validUntil!.getTime());
    expect(r.validUntil.getTime()).toBeGreaterThan(r.previousValidUntil.getTime());
    expect(leaf!.validUntil!.toISOString()).toBe(new Date(day(340).getTime() + 365 * DAY_MS).toISOString().replace(/:\d\d\.\d{3}Z$/, ':00.000Z'));
    expect(await counts(licStore)).toEqual({ chains: before.chains + 1, issuedSlc: before.issuedSlc + 1, renewAudits: before.renewAudits + 1 });
    // The root recorded the sub-enrollment too.
    expect(await rootStore.issued.count({ kind: 'SubSLC' })).toBe(2);
    // Not due any more.
    expect((await renewSlcIfDue(licStore, { keyPassword: KEY_PASSWORD, clock: licClock, root: rootPort })).reason).toBe('not-due');
    expect(calls.subEnroll).toBe(1);
  });

  it('fails unrecoverably when the root refuses, returns a foreign chain, or no credentials are stored', async () => {
    licClock.set(day(340 + 340));
    rootClock.set(day(340 + 340));
    await renewSlcIfDue(rootStore, { keyPassword: KEY_PASSWORD, clock: rootClock });
    await rootRt.refresh();
    const before = await counts(licStore);

    const refusing: RootClusterPort = {
      getLicensorCertificate: rootPort.getLicensorCertificate,
      subEnroll: async () => {
        throw new RmsError('AccessDenied', 'https://root.example.test/_wmcs/certification/SubEnrollService.asmx refused: UnauthorizedAccessException');
      },
    };
    const denied = await expectCode(renewSlcIfDue(licStore, { keyPassword: KEY_PASSWORD, clock: licClock, root: refusing }), 'AccessDenied');
    expect(isUnrecoverableJobError(denied)).toBe(true);
    // A fault no retry changes (the URL names a licensing cluster, say), as the SOAP client reports it.
    const notRoot: RootClusterPort = {
      getLicensorCertificate: rootPort.getLicensorCertificate,
      subEnroll: async () => {
        throw new RmsError('Unavailable', 'https://root.example.test/_wmcs/certification/SubEnrollService.asmx refused: System.InvalidOperationException: only the root certification cluster signs licensing-only clusters');
      },
    };
    const refused = await expectCode(renewSlcIfDue(licStore, { keyPassword: KEY_PASSWORD, clock: licClock, root: notRoot }), 'InvalidOperation');
    expect(isUnrecoverableJobError(refused)).toBe(true);

    // A chain the trusted root key does not verify (signed by a stranger with our key as subject).
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const foreign: RootClusterPort = {
      getLicensorCertificate: rootPort.getLicensorCertificate,
      subEnroll: async (req) => {
        const leaf = readCertificate(parseXrml((await licStore.slcChains.getActive((await licStore.clusters.get()).id)).chain[0]!));
        const signer = { publicKey: stranger.publicKey, sign: (d: Buffer) => sign('sha256', d, stranger.privateKey) };
        const slc = signXrml(
          buildSlc({
            descriptorGuid: newBracedGuid(),
            issuedTime: licClock.now(),
            validFrom: licClock.now(),
            validUntil: new Date(licClock.now().getTime() + 300 * DAY_MS),
            issuer: { id: '{00000000-0000-0000-0000-000000000001}', name: 'stranger', publicKey: stranger.publicKey },
            subject: { serverGuid: req.guid, url: req.url, publicKey: leaf.principal.publicKey, version: req.version, sku: req.sku },
          }),
          signer,
        );
        return [slc];
      },
    };
    const invalid = await expectCode(renewSlcIfDue(licStore, { keyPassword: KEY_PASSWORD, clock: licClock, root: foreign }), 'ChainInvalid');
    expect(isUnrecoverableJobError(invalid)).toBe(true);

    await licStore.settings.set(SETTINGS.rootCredentials, null);
    const missing = await expectCode(renewSlcIfDue(licStore, { keyPassword: KEY_PASSWORD, clock: licClock, root: () => rootPort }), 'NotProvisioned');
    expect(isUnrecoverableJobError(missing)).toBe(true);
    expect(await counts(licStore)).toEqual(before);

    // Stored again (as `rmsctl` would after a password change at the root), renewal works.
    await updateRootCredentials(licUrl, { name: 'enroller', password: 'enroller-password-1' }, 'test', licClock);
    expect((await renewSlcIfDue(licStore, { keyPassword: KEY_PASSWORD, clock: licClock, root: () => rootPort })).renewed).toBe(true);
    expect((await licStore.audit.list({ limit: 10 })).some((a) => a.action === 'root.credentials.update' && JSON.stringify(a).includes('enroller-password-1') === false)).toBe(true);
  });

  it('treats an unreachable root as retryable', async () => {
    const unreachable: RootClusterPort = {
      getLicensorCertificate: async () => {
        throw new RmsError('Unavailable', 'cannot reach https://root.example.test/_wmcs/certification/server.asmx: connect ECONNREFUSED');
      },
      subEnroll: async () => [],
    };
    licClock.set(day(340 * 3));
    const e = await expectCode(renewSlcIfDue(licStore, { keyPassword: KEY_PASSWORD, clock: licClock, root: unreachable }), 'Unavailable');
    expect(isUnrecoverableJobError(e)).toBe(false);
    expect(isUnrecoverableJobError(new Error('database is locked'))).toBe(false);
  });
});
