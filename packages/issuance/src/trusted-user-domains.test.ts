import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fixedClock } from '@openrms/domain';
import { openStore } from '@openrms/store';
import { publicKeyFingerprint } from '@openrms/xrml';
import { ClusterRuntime } from './cluster-runtime';
import { provisionRootCluster } from './provision-root';
import { SETTINGS } from './settings';
import { addUserDomain, listUserDomains, readTrustedRacIssuerKeys, removeUserDomain } from './trusted-user-domains';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const clock = fixedClock(new Date('2026-03-01T10:20:30.000Z'));
const pemKey = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;

async function cluster(): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'openrms-tud-'));
  dirs.push(dir);
  const databaseUrl = `sqlite:${path.join(dir, 'rms.db')}`;
  await provisionRootCluster({
    databaseUrl,
    clusterUrl: 'https://rms.example.test',
    serviceAccount: 'rms-svc',
    admin: { name: 'admin', password: 'admin-password-1' },
    keyPassword: 'cluster-key-password',
    revocation: { kind: 'standard' },
    serverName: 'm1',
    clock,
  });
  return databaseUrl;
}

describe('trusted user domains', () => {
  it('keeps the root key a licensing-only cluster stores in trust.racIssuersPem: listed, loaded, never removed', async () => {
    const databaseUrl = await cluster();
    const rootKey = pemKey();
    const rootPem = rootKey.export({ format: 'pem', type: 'spki' }).toString();
    const store = await openStore(databaseUrl);
    try {
      // What provision-licensing writes today.
      await store.settings.set(SETTINGS.trustedRacIssuersPem, [rootPem]);
    } finally {
      await store.close();
    }
    const other = pemKey();
    const added = await addUserDomain({ databaseUrl, text: other.export({ format: 'pem', type: 'spki' }).toString(), name: 'partner', clock });
    expect(added).toMatchObject({ name: 'partner', fingerprint: publicKeyFingerprint(other), kind: 'imported' });
    expect((await listUserDomains(databaseUrl)).map((d) => [d.kind, d.fingerprint])).toEqual([
      ['root', publicKeyFingerprint(rootKey)],
      ['imported', publicKeyFingerprint(other)],
    ]);

    const s = await openStore(databaseUrl);
    try {
      // What a member adds to its own SLC key as RAC issuers at every load.
      expect((await readTrustedRacIssuerKeys(s)).map(publicKeyFingerprint)).toEqual([publicKeyFingerprint(rootKey), publicKeyFingerprint(other)]);
      const rt = await ClusterRuntime.open({ store: s, keyPassword: 'cluster-key-password', serverName: 'm1', clock, refreshMs: 0 });
      await rt.close();
    } finally {
      await s.close();
    }

    await expect(removeUserDomain({ databaseUrl, which: publicKeyFingerprint(rootKey) })).rejects.toMatchObject({ code: 'InvalidInput', message: expect.stringMatching(/root cluster.*cannot be removed/) });
    await expect(removeUserDomain({ databaseUrl, which: 'root cluster' })).rejects.toMatchObject({ code: 'NotFound' });
    await expect(addUserDomain({ databaseUrl, text: rootPem, name: 'again' })).rejects.toMatchObject({ code: 'AlreadyExists' });
    await removeUserDomain({ databaseUrl, which: 'PARTNER' });
    expect((await listUserDomains(databaseUrl)).map((d) => d.kind)).toEqual(['root']);
  });

  it('refuses what is neither a PEM key nor an SLC', async () => {
    const databaseUrl = await cluster();
    await expect(addUserDomain({ databaseUrl, text: 'hello' })).rejects.toMatchObject({ code: 'InvalidInput' });
    await expect(addUserDomain({ databaseUrl, text: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n' })).rejects.toMatchObject({ code: 'InvalidInput' });
  });
});
