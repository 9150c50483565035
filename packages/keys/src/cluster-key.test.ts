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

describe('sealing', () => {
  const { ContentKey, RsaKeyPair, seal } = jest.requireActual('./index') as typeof import('./index');
  const server = RsaKeyPair.generate();
  const user = RsaKeyPair.generate();

  it('seals a content key to a public key and opens it only with the matching private key', () => {
    const k = ContentKey.generate();
    const blob = k.sealTo(server.publicKey);
    expect(server.unsealContentKey(blob).equals(k)).toBe(true);
    expect(() => user.unsealContentKey(blob)).toThrow(/sealed to another key/);
    const tampered = Buffer.from(blob);
    tampered[tampered.length - 20] = tampered[tampered.length - 20]! ^ 1;
    expect(() => server.unsealContentKey(tampered)).toThrow(/altered/);
  });

  it('binds the purpose: a sealed private key cannot be opened as a content key', () => {
    const blob = user.sealPrivateKeyTo(server.publicKey, 'rac-private-key');
    const opened = server.unsealKeyPair(blob, 'rac-private-key');
    expect(opened.publicKeyPem).toBe(user.publicKeyPem);
    expect(() => server.unsealContentKey(blob)).toThrow(/altered or sealed for another purpose/);
    expect(() => server.unsealKeyPair(blob, 'clc-private-key')).toThrow(/another purpose/);
    expect(() => server.unsealKeyPair(seal(server.publicKey, Buffer.from('not a key'), 'rac-private-key'), 'rac-private-key')).toThrow(/not a private key/);
  });

  it('encrypts with a content key using AES-256-GCM bound to its context', () => {
    const k = ContentKey.generate();
    const ct = k.encrypt(Buffer.from('secret rights data'), Buffer.from('erd'));
    expect(k.decrypt(ct, Buffer.from('erd')).toString()).toBe('secret rights data');
    expect(() => k.decrypt(ct, Buffer.from('other'))).toThrow(/altered/);
    expect(() => ContentKey.generate().decrypt(ct, Buffer.from('erd'))).toThrow(/altered/);
    expect(JSON.stringify({ k })).not.toMatch(/[A-Za-z0-9+/]{40}/);
  });

  it('wraps any key pair with a password, as the client keeps its machine key', () => {
    const w = user.wrap('user-password', 8);
    expect(RsaKeyPair.unwrap(w, 'user-password').publicKeyPem).toBe(user.publicKeyPem);
    expect(() => RsaKeyPair.unwrap(w, 'nope-nope')).toThrow(/password is wrong/);
  });
});
