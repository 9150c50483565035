import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fixedClock, isRmsError } from '@openrms/domain';
import { openStore } from '@openrms/store';
import { parseXrml, publicKeysEqual, readCertificate, verifyChain } from '@openrms/xrml';
import { provisionRootCluster, type ProvisionRootInput } from './provision-root';
import { ClusterRuntime } from './cluster-runtime';

const dirs: string[] = [];
function dbUrl(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'openrms-prov-'));
  dirs.push(dir);
  return `sqlite:${path.join(dir, 'rms.db')}`;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const at = new Date('2026-03-01T10:20:30.000Z');
const base = (databaseUrl: string): ProvisionRootInput => ({
  databaseUrl,
  clusterUrl: 'https://rms.example.test',
  serviceAccount: 'rms-svc',
  admin: { name: 'alice', password: 'alice-password-1' },
  keyPassword: 'cluster-key-password',
  revocation: { kind: 'standard' },
  serverName: 'member-1',
  clock: fixedClock(at),
});

describe('provisionRootCluster', () => {
  it('writes a self-signed SLC valid one year with the issuer as revocation authority', async () => {
    const url = dbUrl();
    const r = await provisionRootCluster(base(url));
    expect(r.slc.validFrom.toISOString()).toBe('2026-03-01T10:20:00.000Z');
    expect(r.slc.validUntil.toISOString()).toBe('2027-03-01T10:20:00.000Z');
    const store = await openStore(url);
    try {
      const cluster = await store.clusters.get();
      const chain = (await store.slcChains.getActive(cluster.id)).chain;
      const info = readCertificate(parseXrml(chain[0]!));
      expect(publicKeysEqual(info.issuer.publicKey, info.principal.publicKey)).toBe(true);
      expect(info.issueScope).toEqual(['RAC', 'CLC', 'PL', 'UL', 'SLC']);
      expect(info.revocation?.authorities).toHaveLength(1);
      expect(publicKeysEqual(info.revocation!.authorities[0]!.publicKey, info.issuer.publicKey)).toBe(true);
      verifyChain(chain, { trustedRootKeys: [info.principal.publicKey], now: new Date('2026-06-01T00:00:00Z') });
      expect(() => verifyChain(chain, { trustedRootKeys: [info.principal.publicKey], now: new Date('2027-03-01T10:20:00Z') })).toThrow(/expired/);
      // The stored key is wrapped: no PEM private key anywhere in the row.
      const key = await store.keys.getActive(cluster.id, 'cluster');
      expect(key.wrappedPrivateKey).not.toMatch(/PRIVATE KEY/);
      const admins = await store.principals.groupsOf((await store.principals.getByName('alice')).id);
      expect(admins.map((g) => g.name)).toEqual(['RMS Administrators']);
    } finally {
      await store.close();
    }
    // A member opens it with the password, and refuses a wrong one.
    const store2 = await openStore(url);
    try {
      const rt = await ClusterRuntime.open({ store: store2, keyPassword: 'cluster-key-password', serverName: 'member-1', clock: fixedClock(new Date('2026-06-01T00:00:00Z')), refreshMs: 0 });
      expect(rt.getLicensorCertificate()).toHaveLength(1);
      rt.close();
      await expect(ClusterRuntime.open({ store: store2, keyPassword: 'wrong-password-123', serverName: 'm', refreshMs: 0 })).rejects.toMatchObject({ code: 'KeyPasswordInvalid' });
    } finally {
      await store2.close();
    }
  });

  it('writes each custom revocation authority key into the SLC', async () => {
    const authority = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const url = dbUrl();
    await provisionRootCluster({ ...base(url), revocation: { kind: 'custom', authorityKeysPem: [authority.export({ format: 'pem', type: 'spki' }).toString()] } });
    const store = await openStore(url);
    try {
      const chain = (await store.slcChains.getActive((await store.clusters.get()).id)).chain;
      const info = readCertificate(parseXrml(chain[0]!));
      expect(info.revocation?.authorities).toHaveLength(2);
      expect(info.revocation!.authorities.some((a) => publicKeysEqual(a.publicKey, authority))).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('rejects a revocation authority that is not an RSA public key, before writing anything', async () => {
    const url = dbUrl();
    const err = await provisionRootCluster({ ...base(url), revocation: { kind: 'custom', authorityKeysPem: ['not a key'] } }).catch((e: unknown) => e);
    expect(isRmsError(err, 'InvalidInput')).toBe(true);
    const store = await openStore(url, { migrate: true });
    expect(await store.clusters.find()).toBeUndefined();
    await store.close();
  });

  it('rolls everything back when a step fails half-way', async () => {
    const url = dbUrl();
    // The administrator's name collides with a built-in group created in the same transaction.
    const err = await provisionRootCluster({ ...base(url), admin: { name: 'Everyone', email: 'everyone@example.test', password: 'alice-password-1' } }).catch((e: unknown) => e);
    expect(isRmsError(err, 'AlreadyExists')).toBe(true);
    const store = await openStore(url);
    try {
      expect(await store.clusters.find()).toBeUndefined();
      expect(await store.principals.list()).toEqual([]);
      expect(await store.dacl.list()).toEqual([]);
    } finally {
      await store.close();
    }
    // And the same database can then be provisioned properly.
    await expect(provisionRootCluster(base(url))).resolves.toMatchObject({ adminName: 'alice' });
  });
});
