import { verify } from 'node:crypto';
import { inspect } from 'node:util';
import { isRmsError } from '@openrms/domain';
import { ClusterKey } from './cluster-key';

describe('ClusterKey', () => {
  const key = ClusterKey.generate();
  const password = 'correct horse battery staple';
  const wrapped = key.wrap(password);

  it('signs with RSA-SHA256 that the public key verifies', () => {
    const data = Buffer.from('signed info');
    const sig = key.sign(data);
    expect(sig.length).toBe(256);
    expect(verify('sha256', data, key.publicKey, sig)).toBe(true);
    expect(verify('sha256', Buffer.from('other'), key.publicKey, sig)).toBe(false);
  });

  it('round-trips through wrap/unwrap with the same public key and signing ability', () => {
    const again = ClusterKey.unwrap(wrapped, password);
    expect(again.publicKeyPem).toBe(key.publicKeyPem);
    const sig = again.sign(Buffer.from('x'));
    expect(verify('sha256', Buffer.from('x'), key.publicKey, sig)).toBe(true);
  });

  it('stores no plaintext key material in the wrapped form', () => {
    const parsed = JSON.parse(wrapped) as Record<string, unknown>;
    expect(parsed.format).toBe('openrms-key-v1');
    expect(wrapped).not.toContain('PRIVATE KEY');
    // The same key wrapped twice gives different ciphertexts (fresh salt and IV).
    expect(key.wrap(password)).not.toBe(wrapped);
  });

  it('refuses a wrong or missing password with KeyPasswordInvalid', () => {
    for (const bad of ['wrong password!!', undefined, '']) {
      let err: unknown;
      try {
        ClusterKey.unwrap(wrapped, bad);
      } catch (e) {
        err = e;
      }
      expect(isRmsError(err, 'KeyPasswordInvalid')).toBe(true);
    }
  });

  it('detects a tampered ciphertext', () => {
    const w = JSON.parse(wrapped) as { ciphertext: string };
    const ct = Buffer.from(w.ciphertext, 'base64');
    ct[10] = ct[10]! ^ 1;
    const tampered = JSON.stringify({ ...w, ciphertext: ct.toString('base64') });
    expect(() => ClusterKey.unwrap(tampered, password)).toThrow(/password is wrong/);
  });

  it('rejects short passwords and unknown formats', () => {
    expect(() => key.wrap('short')).toThrow(/at least 12/);
    expect(() => ClusterKey.unwrap('{"format":"x"}', password)).toThrow(/unknown format/);
    expect(() => ClusterKey.unwrap('not json', password)).toThrow(/not in a known format/);
  });

  it('never shows the private key when logged or serialised', () => {
    expect(inspect(key)).toBe('ClusterKey<RSA-2048>');
    expect(JSON.stringify(key)).not.toContain('PRIVATE');
  });
});
