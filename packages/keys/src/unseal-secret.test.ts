import { isRmsError } from '@openrms/domain';
import { ClusterKey, RsaKeyPair } from './cluster-key';
import { ContentKey } from './content-key';
import { seal, type KeySealPurpose, type SecretPurpose } from './sealing';

describe('unsealSecret', () => {
  const cluster = ClusterKey.generate();
  const other = ClusterKey.generate();
  const secret = Buffer.from(JSON.stringify({ name: 'enroller', password: 'enroller-password-1' }));

  it('opens a secret sealed to the key for its purpose', () => {
    const blob = seal(cluster.publicKey, secret, 'root-credentials');
    expect(blob.includes(secret)).toBe(false);
    expect(cluster.unsealSecret(blob, 'root-credentials').equals(secret)).toBe(true);
  });

  it('does not open it with another key', () => {
    const blob = seal(cluster.publicKey, secret, 'root-credentials');
    expect(() => other.unsealSecret(blob, 'root-credentials')).toThrow(/sealed to another key/);
  });

  it('opens nothing sealed for another purpose, and secrets never open as keys', () => {
    const keyBlob = RsaKeyPair.generate().sealPrivateKeyTo(cluster.publicKey, 'user-key-at-rest');
    expect(() => cluster.unsealSecret(keyBlob, 'root-credentials')).toThrow(/another purpose/);
    const contentBlob = ContentKey.generate().sealTo(cluster.publicKey);
    expect(() => cluster.unsealSecret(contentBlob, 'root-credentials')).toThrow(/another purpose/);
    const secretBlob = seal(cluster.publicKey, secret, 'root-credentials');
    expect(() => cluster.unsealKeyPair(secretBlob, 'root-credentials' as unknown as KeySealPurpose)).toThrow(/do not hold private keys/);
    expect(() => cluster.unsealKeyPair(secretBlob, 'user-key-at-rest')).toThrow(/another purpose/);
    expect(() => cluster.unsealSecret(secretBlob, 'content-key' as unknown as SecretPurpose)).toThrow(/not a secret purpose/);
  });

  it('rejects a tampered blob', () => {
    const blob = seal(cluster.publicKey, secret, 'root-credentials');
    blob[blob.length - 20]! ^= 1;
    let err: unknown;
    try {
      cluster.unsealSecret(blob, 'root-credentials');
    } catch (e) {
      err = e;
    }
    expect(isRmsError(err)).toBe(true);
  });
});
