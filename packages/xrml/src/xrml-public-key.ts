import { createHash, createPublicKey, KeyObject } from 'node:crypto';
import { RmsError } from '@openrms/domain';
import { attrOf, childElements, requiredChild, requiredPath, textOf } from './xrml-dom';

/** A public RSA key as node:crypto holds it. Private KeyObjects are refused everywhere in this package. */
export type RsaPublicKey = KeyObject;

/** The content of an XrML `PUBLICKEY` element. */
export interface XrmlPublicKey {
  algorithm: 'RSA';
  /** XrML 1.2 allows only 65537. */
  exponent: 65537;
  /** Big-endian modulus, base64, no leading zero octet. */
  modulus: string;
  /** Modulus length in bits (the `size` attribute). */
  size: number;
}

const MIN_BITS = 1024;
const MAX_BITS = 16384;
const F4_B64URL = 'AQAB';

/**
 * One rule for every key we write or accept: RSA, e = 65537 (the only exponent XrML 1.2 allows),
 * 1024..16384 bits (1024 is Mode 1's size; larger than 16384 is only a way to make us do work).
 */
function assertRsaPublicKey(key: KeyObject): { n: Buffer; bits: number } {
  if (!(key instanceof KeyObject) || key.type !== 'public') {
    throw new RmsError('InvalidInput', 'expected a public KeyObject');
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new RmsError('InvalidInput', `expected an RSA key, got ${String(key.asymmetricKeyType)}`);
  }
  const jwk = key.export({ format: 'jwk' });
  if (jwk.e !== F4_B64URL || typeof jwk.n !== 'string') {
    throw new RmsError('InvalidInput', 'RSA public exponent must be 65537');
  }
  const n = stripLeadingZeros(Buffer.from(jwk.n, 'base64url'));
  const bits = bitLength(n);
  if (bits < MIN_BITS || bits > MAX_BITS) throw new RmsError('InvalidInput', `RSA key size ${bits} is outside ${MIN_BITS}..${MAX_BITS}`);
  return { n, bits };
}

/** KeyObjects are immutable: a key written into every licence (the SLC's) is converted once. */
const xrmlForms = new WeakMap<KeyObject, XrmlPublicKey>();

export function publicKeyToXrml(key: RsaPublicKey): XrmlPublicKey {
  const known = key instanceof KeyObject ? xrmlForms.get(key) : undefined;
  if (known) return { ...known };
  const { n, bits } = assertRsaPublicKey(key);
  const form: XrmlPublicKey = { algorithm: 'RSA', exponent: 65537, modulus: n.toString('base64'), size: bits };
  xrmlForms.set(key, form);
  return { ...form };
}

/**
 * Reads a `PUBLICKEY` element (or its already-extracted content) into a KeyObject.
 *
 * Byte order: we write and read the modulus big-endian, as every standard encoding does. Microsoft
 * tooling descends from CryptoAPI, whose blobs are little-endian; if captures show Windows writes
 * XrML moduli reversed, this is the one place to change.
 */
export function publicKeyFromXrml(source: Element | XrmlPublicKey): RsaPublicKey {
  const data = isElement(source) ? readPublicKeyElement(source) : source;
  if (data.algorithm !== 'RSA' || data.exponent !== 65537) {
    throw new RmsError('InvalidInput', 'PUBLICKEY must be RSA with exponent 65537');
  }
  const raw = strictBase64(data.modulus, 'PUBLICKEY modulus');
  const n = stripLeadingZeros(raw);
  const bits = bitLength(n);
  // Tolerate a size written as the octet length in bits (a modulus with a leading zero octet).
  if (data.size !== bits && data.size !== raw.length * 8) {
    throw new RmsError('InvalidInput', `PUBLICKEY size ${data.size} does not match a ${bits}-bit modulus`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: { kty: 'RSA', n: n.toString('base64url'), e: F4_B64URL }, format: 'jwk' });
  } catch (cause) {
    throw new RmsError('InvalidInput', 'PUBLICKEY is not a usable RSA key', { cause });
  }
  assertRsaPublicKey(key);
  return key;
}

function readPublicKeyElement(el: Element): XrmlPublicKey {
  if (el.localName !== 'PUBLICKEY' || !!el.namespaceURI) {
    throw new RmsError('InvalidInput', `expected <PUBLICKEY>, got <${el.nodeName}>`);
  }
  const algorithm = textOf(requiredChild(el, 'ALGORITHM'));
  if (algorithm !== 'RSA') throw new RmsError('InvalidInput', `PUBLICKEY ALGORITHM ${JSON.stringify(algorithm)} is not RSA`);
  const params = new Map<string, Element>();
  for (const p of childElements(el, 'PARAMETER')) {
    const name = attrOf(p, 'name');
    if (name === undefined || params.has(name)) throw new RmsError('InvalidInput', 'PUBLICKEY has an unnamed or repeated PARAMETER');
    params.set(name, requiredChild(p, 'VALUE'));
  }
  const expEl = params.get('public-exponent');
  const modEl = params.get('modulus');
  if (!expEl || !modEl) throw new RmsError('InvalidInput', 'PUBLICKEY lacks public-exponent or modulus');
  if (textOf(expEl) !== '65537') throw new RmsError('InvalidInput', 'PUBLICKEY public-exponent must be 65537');
  if ((attrOf(modEl, 'encoding') ?? 'base64') !== 'base64') throw new RmsError('InvalidInput', 'PUBLICKEY modulus must be base64');
  const sizeText = attrOf(modEl, 'size');
  const size = sizeText !== undefined && /^\d{1,6}$/.test(sizeText) ? Number(sizeText) : NaN;
  if (!Number.isInteger(size)) throw new RmsError('InvalidInput', 'PUBLICKEY modulus lacks a numeric size');
  return { algorithm: 'RSA', exponent: 65537, modulus: textOf(modEl), size };
}

/** Convenience for callers holding the parent element (ISSUER, PRINCIPAL, DISTRIBUTIONPOINT). */
export function publicKeyOf(parent: Element): RsaPublicKey {
  return publicKeyFromXrml(requiredPath(parent, 'PUBLICKEY'));
}

/**
 * The one key fingerprint OpenRMS prints and stores (`rms`, `rmsctl slc show`, the admin pages,
 * the client's trust file, excluded-user policies): SHA-256 of the key's SubjectPublicKeyInfo DER,
 * as 64 lowercase hex digits without separators. SPKI is what `openssl pkey -pubin -outform DER |
 * sha256sum` and most tools hash, so anyone can check it from `rmsctl slc show --pem`; node exports
 * it canonically, so two encodings of the same key give the same fingerprint.
 */
export function publicKeyFingerprint(key: RsaPublicKey): string {
  assertRsaPublicKey(key);
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');
}

/**
 * What versions up to 0.1 called the fingerprint: SHA-256 of the PKCS#1 RSAPublicKey DER. Only to
 * recognise values they stored (client trust files, excluded-user policies); never print it.
 */
export function legacyPkcs1Fingerprint(key: RsaPublicKey): string {
  return createHash('sha256').update(pkcs1Der(key)).digest('hex');
}

/** Whether a stored fingerprint names this key, in the current form or the legacy PKCS#1 one. */
export function fingerprintMatches(stored: string, key: RsaPublicKey): boolean {
  const s = stored.trim().toLowerCase();
  return s === publicKeyFingerprint(key) || s === legacyPkcs1Fingerprint(key);
}

export function publicKeysEqual(a: RsaPublicKey, b: RsaPublicKey): boolean {
  return pkcs1Der(a).equals(pkcs1Der(b));
}

/** SubEnroll and AcquireTemplateInformation carry keys as base64 PKCS#1 RSAPublicKey DER. */
export function pkcs1PublicKeyBase64(key: RsaPublicKey): string {
  return pkcs1Der(key).toString('base64');
}

export function publicKeyFromPkcs1Base64(b64: string): RsaPublicKey {
  const der = strictBase64(b64, 'PKCS#1 public key');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: der, format: 'der', type: 'pkcs1' });
  } catch (cause) {
    throw new RmsError('InvalidInput', 'not a PKCS#1 RSA public key', { cause });
  }
  assertRsaPublicKey(key);
  return key;
}

function pkcs1Der(key: KeyObject): Buffer {
  assertRsaPublicKey(key);
  return key.export({ type: 'pkcs1', format: 'der' });
}

/** Buffer.from(…, 'base64') skips junk silently; signed material deserves a strict decoder. */
export function strictBase64(s: string, what: string): Buffer {
  const compact = s.replace(/[\t\n\r ]/g, '');
  if (compact.length === 0 || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
    throw new RmsError('InvalidInput', `${what} is not valid base64`);
  }
  return Buffer.from(compact, 'base64');
}

function stripLeadingZeros(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

function bitLength(b: Buffer): number {
  const first = b[0] ?? 0;
  return first === 0 ? 0 : (b.length - 1) * 8 + (32 - Math.clz32(first));
}

function isElement(x: Element | XrmlPublicKey): x is Element {
  return typeof (x as Element).nodeType === 'number';
}
