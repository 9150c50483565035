/**
 * The cluster key in a PKCS#11 token, against a real SoftHSM2 token of this test's own
 * (test/support/softhsm.ts): generated there, never extractable, signing and unsealing in the token.
 */
import { constants, generateKeyPairSync, privateDecrypt, publicEncrypt, randomBytes, verify } from 'node:crypto';
import { inspect } from 'node:util';
import * as pkcs11 from 'pkcs11js';
import { isRmsError, RmsError } from '@openrms/domain';
import { type SoftHsmToken, useSoftHsmInThisProcess } from '../../../test/support/softhsm';
import { ClusterKey, RsaKeyPair } from './cluster-key';
import { ContentKey } from './content-key';
import { writeKeyExport } from './key-export';
import { decodeOaepSha256 } from './oaep';
import { parsePkcs11Reference, Pkcs11PrivateKey } from './pkcs11-key';
import { seal } from './sealing';

function errorOf(fn: () => unknown): RmsError {
  try {
    fn();
  } catch (e) {
    if (e instanceof RmsError) return e;
    throw e;
  }
  throw new Error('expected an RmsError');
}

describe('decodeOaepSha256', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const raw = (block: Buffer) => privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, block);

  it('removes OAEP-SHA-256 padding as OpenSSL adds it', () => {
    for (const len of [0, 1, 32, 190]) {
      const m = randomBytes(len);
      const em = raw(publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, m));
      expect(decodeOaepSha256(em, 256)?.equals(m)).toBe(true);
      // A token that drops the leading zero byte gives the same.
      expect(decodeOaepSha256(em.subarray(1), 256)?.equals(m)).toBe(true);
    }
  });

  it('refuses other padding, another hash, a label and altered blocks, all alike', () => {
    const m = randomBytes(32);
    const sha1 = raw(publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, m));
    const labelled = raw(publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: Buffer.from('x') }, m));
    const pkcs1 = raw(publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, m));
    const good = raw(publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, m));
    const flipped = Buffer.from(good);
    flipped[100]! ^= 1;
    for (const em of [sha1, labelled, pkcs1, flipped, randomBytes(256), Buffer.alloc(256)]) expect(decodeOaepSha256(em, 256)).toBeUndefined();
    expect(decodeOaepSha256(Buffer.alloc(257), 256)).toBeUndefined();
  });
});

describe('ClusterKey in a PKCS#11 token (SoftHSM2)', () => {
  let hsm: ReturnType<typeof useSoftHsmInThisProcess>;
  let token: SoftHsmToken;
  let other: SoftHsmToken;
  let key: ClusterKey;
  let stored: string;

  beforeAll(() => {
    // Every token exists before the module first loads in this process.
    hsm = useSoftHsmInThisProcess();
    token = hsm.createToken({ label: 'cluster-token' });
    other = hsm.createToken({ label: 'second-token' });
    ({ key, stored } = ClusterKey.create({ kind: 'pkcs11', module: token.module, token: token.label, pin: token.pinEnvValue, label: 'openrms-cluster-test' }));
  });
  afterAll(() => hsm.dispose());

  it('stores where the key is, never the PIN or key material', () => {
    const ref = parsePkcs11Reference(stored)!;
    expect(ref).toMatchObject({ format: 'openrms-pkcs11-v1', module: token.module, token: 'cluster-token', label: 'openrms-cluster-test' });
    expect(ref.id).toMatch(/^[0-9a-f]{32}$/);
    expect(stored).not.toContain(token.pinEnvValue);
    expect(stored).not.toMatch(/PRIVATE|ciphertext/);
    expect(ClusterKey.describeStored(stored)).toEqual({ kind: 'pkcs11', module: token.module, token: 'cluster-token', keyLabel: 'openrms-cluster-test', keyId: ref.id });
    expect(ClusterKey.describeStored(ClusterKey.generate().wrap('a long enough password'))).toEqual({ kind: 'password' });
    expect(inspect(key)).toBe('ClusterKey<RSA-2048, PKCS#11 "cluster-token">');
    expect(JSON.stringify(key)).not.toContain(token.pinEnvValue);
  });

  it('signs RSA-SHA256 in the token, verified with the public key', () => {
    const data = Buffer.from('<SignedInfo>…</SignedInfo>');
    const sig = key.sign(data);
    expect(sig.length).toBe(256);
    expect(verify('sha256', data, key.publicKey, sig)).toBe(true);
    expect(key.modulusBits).toBe(2048);
    expect(key.status()).toMatchObject({ reachable: true, protection: { kind: 'pkcs11', token: 'cluster-token', keyLabel: 'openrms-cluster-test' } });
  });

  it('keeps the private key sensitive, never extractable, on the token', () => {
    const opened = Pkcs11PrivateKey.open(parsePkcs11Reference(stored)!, token.pinEnvValue);
    expect(opened.attributes()).toEqual({ sensitive: true, extractable: false, token: true, neverExtractable: true, alwaysSensitive: true });
    // C_GetAttributeValue of CKA_PRIVATE_EXPONENT, CKA_PRIME_1 and CKA_VALUE is refused.
    expect(opened.refusesExport()).toBe(true);
  });

  it('unseals content keys, sealed keys and secrets in the token', () => {
    const again = ClusterKey.unwrap(stored, token.pinEnvValue);
    expect(again.publicKeyPem).toBe(key.publicKeyPem);
    expect(['CKM_RSA_PKCS_OAEP', 'CKM_RSA_X_509']).toContain((again.protection as { unsealMechanism: string }).unsealMechanism);
    const ck = ContentKey.generate();
    expect(again.unsealContentKey(ck.sealTo(key.publicKey)).equals(ck)).toBe(true);
    const user = RsaKeyPair.generate();
    expect(again.unsealKeyPair(user.sealPrivateKeyTo(key.publicKey, 'user-key-at-rest'), 'user-key-at-rest').publicKeyPem).toBe(user.publicKeyPem);
    const secret = Buffer.from('root account password');
    expect(again.unsealSecret(seal(key.publicKey, secret, 'root-credentials'), 'root-credentials').equals(secret)).toBe(true);
    // Sealed to another key, or for another purpose: refused as with a password-wrapped key.
    expect(() => again.unsealContentKey(ContentKey.generate().sealTo(RsaKeyPair.generate().publicKey))).toThrow(/sealed to another key/);
    expect(() => again.unsealSecret(ck.sealTo(key.publicKey), 'root-credentials')).toThrow(/another purpose/);
  });

  it('refuses to export, wrap or re-seal a token key, saying why', () => {
    expect(errorOf(() => key.exportEncryptedPkcs8('an export password')).message).toMatch(/kept in the PKCS#11 token "cluster-token" .* never leaves it, so it cannot be exported/);
    expect(errorOf(() => writeKeyExport(key, 'an export password', { clusterId: 'x' }, ['<XrML/>'])).code).toBe('InvalidInput');
    expect(errorOf(() => key.wrap('a new cluster key password')).message).toMatch(/has no password; change the token's user PIN/);
    expect(() => key.sealPrivateKeyTo(RsaKeyPair.generate().publicKey, 'publishing-domain-key')).toThrow(/never leaves it/);
  });

  it('refuses a wrong PIN as KeyPasswordInvalid, from the token and once logged in', () => {
    const ref = parsePkcs11Reference(stored)!;
    // The second token was never opened here: the token itself says CKR_PIN_INCORRECT.
    const e = errorOf(() => ClusterKey.unwrap(JSON.stringify({ ...ref, token: other.label }), 'not-the-pin'));
    expect(isRmsError(e, 'KeyPasswordInvalid')).toBe(true);
    expect(e.message).toBe('the PIN of the PKCS#11 token "second-token" is wrong');
    // The first token is logged in: another PIN is still a wrong one.
    expect(isRmsError(errorOf(() => ClusterKey.unwrap(stored, 'not-the-pin')), 'KeyPasswordInvalid')).toBe(true);
    expect(errorOf(() => ClusterKey.unwrap(stored, undefined)).message).toMatch(/PIN .* is wrong|missing/);
  });

  it('names a missing token, key or module in one line', () => {
    const ref = parsePkcs11Reference(stored)!;
    const noToken = errorOf(() => ClusterKey.unwrap(JSON.stringify({ ...ref, token: 'no-such-token' }), 'x'));
    expect(noToken.code).toBe('NotFound');
    expect(noToken.message).toMatch(/^no token labelled "no-such-token" in the PKCS#11 module .*libsofthsm2\.so \(it has "cluster-token", "second-token"\)$/);
    const noKey = errorOf(() => ClusterKey.unwrap(JSON.stringify({ ...ref, id: '00'.repeat(16) }), token.pinEnvValue));
    expect(noKey.code).toBe('NotFound');
    expect(noKey.message).toMatch(/holds no private key with id 0+ \(label "openrms-cluster-test"\)/);
    const noModule = errorOf(() => ClusterKey.unwrap(JSON.stringify({ ...ref, module: '/nonexistent/libpkcs11.so' }), 'x'));
    expect(noModule.code).toBe('InvalidInput');
    expect(noModule.message).toMatch(/^cannot load the PKCS#11 module \/nonexistent\/libpkcs11\.so: /);
    expect(noModule.message).not.toContain('\n');
    const wrongKey = errorOf(() => ClusterKey.unwrap(JSON.stringify({ ...ref, publicKeySha256: '11'.repeat(32) }), token.pinEnvValue));
    expect(wrongKey.message).toMatch(/is not this cluster's key/);
    expect(() => parsePkcs11Reference('{"format":"openrms-pkcs11-v1","module":"/m"}')).toThrow(/lacks token/);
  });

  it('refuses a label the token already holds, and discards a key nobody refers to', () => {
    const loc = { kind: 'pkcs11' as const, module: token.module, token: token.label, pin: token.pinEnvValue };
    expect(isRmsError(errorOf(() => ClusterKey.create({ ...loc, label: 'openrms-cluster-test' })), 'AlreadyExists')).toBe(true);
    const spare = ClusterKey.create({ ...loc, label: 'spare' });
    spare.key.discard();
    expect(errorOf(() => ClusterKey.unwrap(spare.stored, token.pinEnvValue)).code).toBe('NotFound');
  });

  it('logs in again when the token drops its sessions', () => {
    const m = new pkcs11.PKCS11();
    m.load(token.module);
    const slot = m.C_GetSlotList(true).find((s) => m.C_GetTokenInfo(s).label.trim() === token.label)!;
    // Every session of this process ends, as when a network HSM restarts.
    m.C_CloseAllSessions(slot);
    const data = Buffer.from('after the token came back');
    expect(verify('sha256', data, key.publicKey, key.sign(data))).toBe(true);
    const ck = ContentKey.generate();
    m.C_CloseAllSessions(slot);
    expect(key.unsealContentKey(ck.sealTo(key.publicKey)).equals(ck)).toBe(true);
  });

  it('works the same for a password-wrapped cluster key made by create', () => {
    const { key: k, stored: s } = ClusterKey.create({ kind: 'password', password: 'a long enough password' });
    expect(k.protection).toEqual({ kind: 'password' });
    expect(ClusterKey.unwrap(s, 'a long enough password').publicKeyPem).toBe(k.publicKeyPem);
    expect(k.status()).toEqual({ protection: { kind: 'password' }, reachable: true });
  });
});
