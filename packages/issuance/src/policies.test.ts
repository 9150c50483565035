import { createHash, generateKeyPairSync } from 'node:crypto';
import { publicKeyFingerprint } from '@openrms/xrml';
import { DEFAULT_POLICIES, fingerprintOfPem, isExcluded, type Policies } from './policies';

describe('excluded users by RAC key fingerprint', () => {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
  const excluding = (keyFingerprint: string): Policies => ({ ...DEFAULT_POLICIES, excludedUsers: [{ keyFingerprint }] });

  it('stores the one fingerprint (SHA-256 of the SPKI DER) for a PEM key', () => {
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    expect(fingerprintOfPem(publicKey.export({ type: 'spki', format: 'pem' }).toString())).toBe(createHash('sha256').update(spki).digest('hex'));
  });

  it('matches entries in the current form and the legacy PKCS#1 form written by older versions', () => {
    const legacy = createHash('sha256').update(publicKey.export({ type: 'pkcs1', format: 'der' })).digest('hex');
    expect(isExcluded(excluding(publicKeyFingerprint(publicKey)), 'a@example.test', publicKey)).toBe(true);
    expect(isExcluded(excluding(legacy), 'a@example.test', publicKey)).toBe(true);
    expect(isExcluded(excluding(legacy), 'a@example.test', other)).toBe(false);
    expect(isExcluded(excluding(publicKeyFingerprint(other)), 'a@example.test', publicKey)).toBe(false);
  });
});
