import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { parseXrml } from './parse-xrml';
import { requiredPath } from './xrml-dom';
import {
  fingerprintMatches,
  legacyPkcs1Fingerprint,
  pkcs1PublicKeyBase64,
  publicKeyFingerprint,
  publicKeyFromPkcs1Base64,
  publicKeyFromXrml,
  publicKeysEqual,
  publicKeyToXrml,
} from './xrml-public-key';
import { newKeyPair, unsignedSlc } from './test-fixtures';

const a = newKeyPair();
const b = newKeyPair();

describe('XrML public keys', () => {
  it('writes RSA, exponent 65537 and the big-endian modulus with its bit size', () => {
    const x = publicKeyToXrml(a.publicKey);
    expect(x).toMatchObject({ algorithm: 'RSA', exponent: 65537, size: 2048 });
    const n = Buffer.from(a.publicKey.export({ format: 'jwk' }).n!, 'base64url');
    expect(Buffer.from(x.modulus, 'base64').equals(n)).toBe(true);
  });

  it('round-trips through a PUBLICKEY element', () => {
    const doc = parseXrml(unsignedSlc(a.publicKey, b.publicKey));
    const subject = publicKeyFromXrml(requiredPath(doc.body, 'ISSUEDPRINCIPALS/PRINCIPAL/PUBLICKEY'));
    const issuer = publicKeyFromXrml(requiredPath(doc.body, 'ISSUER/PUBLICKEY'));
    expect(publicKeysEqual(subject, a.publicKey)).toBe(true);
    expect(publicKeysEqual(issuer, b.publicKey)).toBe(true);
    expect(publicKeysEqual(subject, issuer)).toBe(false);
  });

  it('round-trips through the data form', () => {
    expect(publicKeysEqual(publicKeyFromXrml(publicKeyToXrml(a.publicKey)), a.publicKey)).toBe(true);
  });

  it('fingerprints are stable per key and differ between keys', () => {
    const again = createPublicKey(a.publicKey.export({ type: 'spki', format: 'pem' }));
    expect(publicKeyFingerprint(again)).toBe(publicKeyFingerprint(a.publicKey));
    expect(publicKeyFingerprint(a.publicKey)).toMatch(/^[0-9a-f]{64}$/);
    expect(publicKeyFingerprint(a.publicKey)).not.toBe(publicKeyFingerprint(b.publicKey));
  });

  it('the fingerprint is SHA-256 of the SPKI DER (what openssl pkey -pubin -outform DER | sha256sum prints)', () => {
    const spki = a.publicKey.export({ type: 'spki', format: 'der' });
    expect(publicKeyFingerprint(a.publicKey)).toBe(createHash('sha256').update(spki).digest('hex'));
    const fromPkcs1 = createPublicKey({ key: a.publicKey.export({ type: 'pkcs1', format: 'der' }), format: 'der', type: 'pkcs1' });
    expect(publicKeyFingerprint(fromPkcs1)).toBe(publicKeyFingerprint(a.publicKey));
  });

  it('recognises a stored fingerprint in the legacy PKCS#1 form too, for that key only', () => {
    const legacy = createHash('sha256').update(a.publicKey.export({ type: 'pkcs1', format: 'der' })).digest('hex');
    expect(legacyPkcs1Fingerprint(a.publicKey)).toBe(legacy);
    expect(legacy).not.toBe(publicKeyFingerprint(a.publicKey));
    expect(fingerprintMatches(legacy, a.publicKey)).toBe(true);
    expect(fingerprintMatches(publicKeyFingerprint(a.publicKey).toUpperCase(), a.publicKey)).toBe(true);
    expect(fingerprintMatches(legacy, b.publicKey)).toBe(false);
    expect(fingerprintMatches(publicKeyFingerprint(b.publicKey), a.publicKey)).toBe(false);
  });

  it('PKCS#1 base64 round-trips and matches node:crypto', () => {
    const b64 = pkcs1PublicKeyBase64(a.publicKey);
    const native = createPublicKey({ key: Buffer.from(b64, 'base64'), format: 'der', type: 'pkcs1' });
    expect(publicKeysEqual(native, a.publicKey)).toBe(true);
    expect(publicKeysEqual(publicKeyFromPkcs1Base64(b64), a.publicKey)).toBe(true);
    expect(native.export({ type: 'pkcs1', format: 'der' }).toString('base64')).toBe(b64);
  });

  it('refuses junk PKCS#1 input', () => {
    expect(() => publicKeyFromPkcs1Base64('not base64!')).toThrow(expect.objectContaining({ code: 'InvalidInput' }));
    expect(() => publicKeyFromPkcs1Base64(Buffer.from('hello').toString('base64'))).toThrow(expect.objectContaining({ code: 'InvalidInput' }));
  });

  it('refuses private keys, non-65537 exponents, non-RSA and tiny keys', () => {
    expect(() => publicKeyToXrml(a.privateKey)).toThrow(expect.objectContaining({ code: 'InvalidInput' }));
    const e3 = generateKeyPairSync('rsa', { modulusLength: 1024, publicExponent: 3 }).publicKey;
    expect(() => publicKeyToXrml(e3)).toThrow(/65537/);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    expect(() => publicKeyToXrml(ec)).toThrow(/RSA/);
    const small = generateKeyPairSync('rsa', { modulusLength: 512 }).publicKey;
    expect(() => publicKeyToXrml(small)).toThrow(/outside/);
  });

  it('refuses a PUBLICKEY whose size does not match the modulus', () => {
    const x = publicKeyToXrml(a.publicKey);
    expect(() => publicKeyFromXrml({ ...x, size: 1024 })).toThrow(/size/);
    expect(() => publicKeyFromXrml({ ...x, modulus: `${x.modulus}#` })).toThrow(/base64/);
  });

  it('refuses a PUBLICKEY element with another exponent or algorithm', () => {
    const xml = unsignedSlc(a.publicKey, b.publicKey);
    const e3 = parseXrml(xml.replace('<VALUE encoding="integer32">65537</VALUE>', '<VALUE encoding="integer32">3</VALUE>'));
    expect(() => publicKeyFromXrml(requiredPath(e3.body, 'ISSUER/PUBLICKEY'))).toThrow(/65537/);
    const dsa = parseXrml(xml.replace('<ALGORITHM>RSA</ALGORITHM>', '<ALGORITHM>DSA</ALGORITHM>'));
    expect(() => publicKeyFromXrml(requiredPath(dsa.body, 'ISSUER/PUBLICKEY'))).toThrow(/RSA/);
  });
});
