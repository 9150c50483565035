import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  scryptSync,
  sign as rsaSign,
  KeyObject,
} from 'node:crypto';
import { RmsError } from '@openrms/domain';
import { ContentKey } from './content-key';
import { decryptPkcs8, encryptPkcs8 } from './encrypted-pkcs8';
import { PublishingDomainKey } from './publishing-domain-key';
import { type KeySealPurpose, openSealed, seal, SECRET_PURPOSES, type SecretPurpose } from './sealing';

/** Anything that can produce an RSASSA-PKCS1-v1_5 SHA-256 signature without exposing its key. */
export interface Signer {
  readonly publicKey: KeyObject;
  sign(data: Buffer): Buffer;
}

const WRAP_FORMAT = 'openrms-key-v1';
// N=2^15, r=8 costs ~32 MiB and ~100 ms: once per process start, so brute force stays expensive.
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

interface WrappedKeyV1 {
  format: typeof WRAP_FORMAT;
  kdf: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  cipher: 'aes-256-gcm';
  iv: string;
  tag: string;
  ciphertext: string;
}

export const MIN_KEY_PASSWORD_LENGTH = 12;

function deriveKey(password: string, salt: Buffer, p: { N: number; r: number; p: number }): Buffer {
  return scryptSync(password.normalize('NFC'), salt, 32, { ...p, maxmem: SCRYPT.maxmem });
}

function unwrapPkcs8(wrapped: string, password: string | undefined, what: string): KeyObject {
  if (!password) throw new RmsError('KeyPasswordInvalid', `the ${what} password is missing`);
  let w: WrappedKeyV1;
  try {
    w = JSON.parse(wrapped) as WrappedKeyV1;
  } catch {
    throw new RmsError('InvalidInput', `the stored ${what} is not in a known format`);
  }
  if (w.format !== WRAP_FORMAT || w.kdf !== 'scrypt' || w.cipher !== 'aes-256-gcm') {
    throw new RmsError('InvalidInput', `the stored ${what} has an unknown format (${String(w.format)})`);
  }
  const key = deriveKey(password, Buffer.from(w.salt, 'base64'), w);
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(w.iv, 'base64'));
  decipher.setAAD(Buffer.from(WRAP_FORMAT));
  decipher.setAuthTag(Buffer.from(w.tag, 'base64'));
  let der: Buffer;
  try {
    der = Buffer.concat([decipher.update(Buffer.from(w.ciphertext, 'base64')), decipher.final()]);
  } catch {
    throw new RmsError('KeyPasswordInvalid', `the ${what} password is wrong`);
  }
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
    key.fill(0);
  }
}

function assertKeyPurpose(purpose: string): void {
  // The types already forbid it; this fence holds for callers that cast.
  if ((SECRET_PURPOSES as readonly string[]).includes(purpose) || purpose === 'content-key') {
    throw new RmsError('InvalidInput', `"${purpose}" blobs do not hold private keys`);
  }
}

/**
 * An RSA key pair whose private half lives only inside this object (a private field). It leaves
 * only encrypted: wrapped with a password, or sealed to another public key.
 */
export class RsaKeyPair implements Signer {
  readonly #privateKey: KeyObject;
  readonly publicKey: KeyObject;

  protected constructor(privateKey: KeyObject) {
    if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'rsa') throw new RmsError('InvalidInput', 'key pairs must be RSA');
    this.#privateKey = privateKey;
    this.publicKey = createPublicKey(privateKey);
  }

  static generate(modulusLength = 2048): RsaKeyPair {
    return new RsaKeyPair(generateKeyPairSync('rsa', { modulusLength, publicExponent: 0x10001 }).privateKey);
  }

  /** Opens a key pair wrapped by `wrap`; a wrong password is KeyPasswordInvalid. */
  static unwrap(wrapped: string, password: string | undefined, what = 'key'): RsaKeyPair {
    return new RsaKeyPair(unwrapPkcs8(wrapped, password, what));
  }

  /**
   * Reads `-----BEGIN ENCRYPTED PRIVATE KEY-----` (what exportEncryptedPkcs8 writes, or any
   * OpenSSL-made one); a wrong password is KeyPasswordInvalid.
   */
  static fromEncryptedPkcs8(pem: string, password: string, what = 'private key'): RsaKeyPair {
    return new RsaKeyPair(decryptPkcs8(pem, password, what));
  }

  /**
   * The private key as encrypted PKCS#8 PEM (PBES2: scrypt, AES-256-CBC) that OpenSSL and other
   * tools read (`openssl pkey -in FILE -passin env:VAR`): for moving a cluster key elsewhere.
   */
  exportEncryptedPkcs8(password: string, minLength = MIN_KEY_PASSWORD_LENGTH): string {
    if (password.length < minLength) {
      throw new RmsError('InvalidInput', `the export password must be at least ${minLength} characters`);
    }
    return encryptPkcs8(this.#privateKey, password);
  }

  /** The private key encrypted with `password` (scrypt → AES-256-GCM), as a JSON string. */
  wrap(password: string, minLength = MIN_KEY_PASSWORD_LENGTH): string {
    if (password.length < minLength) {
      throw new RmsError('InvalidInput', `the key password must be at least ${minLength} characters`);
    }
    const salt = randomBytes(16);
    const iv = randomBytes(12);
    const key = deriveKey(password, salt, SCRYPT);
    const der = this.#privateKey.export({ format: 'der', type: 'pkcs8' });
    try {
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(WRAP_FORMAT));
      const ciphertext = Buffer.concat([cipher.update(der), cipher.final()]);
      const w: WrappedKeyV1 = {
        format: WRAP_FORMAT,
        kdf: 'scrypt',
        N: SCRYPT.N,
        r: SCRYPT.r,
        p: SCRYPT.p,
        salt: salt.toString('base64'),
        cipher: 'aes-256-gcm',
        iv: iv.toString('base64'),
        tag: cipher.getAuthTag().toString('base64'),
        ciphertext: ciphertext.toString('base64'),
      };
      return JSON.stringify(w);
    } finally {
      der.fill(0);
      key.fill(0);
    }
  }

  /** The private key sealed to `recipient` (ENABLINGBITS of a RAC or CLC, or a user key at rest). */
  sealPrivateKeyTo(recipient: KeyObject, purpose: KeySealPurpose): Buffer {
    assertKeyPurpose(purpose);
    const der = this.#privateKey.export({ format: 'der', type: 'pkcs8' });
    try {
      return seal(recipient, der, purpose);
    } finally {
      der.fill(0);
    }
  }

  /** Opens a content key sealed to this key pair. */
  unsealContentKey(blob: Buffer): ContentKey {
    const bytes = openSealed(this.#privateKey, blob, 'content-key');
    try {
      return ContentKey.fromBytes(bytes);
    } finally {
      bytes.fill(0);
    }
  }

  /** Opens a private key sealed to this key pair (a RAC key sealed to a machine, a user key at rest). */
  unsealKeyPair(blob: Buffer, purpose: KeySealPurpose): RsaKeyPair {
    assertKeyPurpose(purpose);
    // Imported publishing domain keys open only as PublishingDomainKey, which cannot sign.
    if (purpose === 'publishing-domain-key') throw new RmsError('InvalidInput', 'publishing domain keys open with openPublishingDomainKey');
    const der = openSealed(this.#privateKey, blob, purpose);
    try {
      return new RsaKeyPair(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
    } catch (e) {
      if (e instanceof RmsError) throw e;
      throw new RmsError('InvalidInput', `the sealed ${purpose} is not a private key`);
    } finally {
      der.fill(0);
    }
  }

  /** Opens another cluster's key imported as a trusted publishing domain (sealed to this key pair). */
  openPublishingDomainKey(blob: Buffer): PublishingDomainKey {
    const der = openSealed(this.#privateKey, blob, 'publishing-domain-key');
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    } catch {
      throw new RmsError('InvalidInput', 'the sealed publishing domain key is not a private key');
    } finally {
      der.fill(0);
    }
    return new PublishingDomainKey(key);
  }

  /**
   * Opens a secret sealed to this key pair for `purpose` (the root account a licensing-only
   * cluster renews its SLC with, say). The purpose is bound into the blob: a blob sealed for
   * anything else (a content key, a private key) does not open here, and this returns no keys.
   * The caller owns the returned bytes and should zero them when done.
   */
  unsealSecret(blob: Buffer, purpose: SecretPurpose): Buffer {
    if (!SECRET_PURPOSES.includes(purpose)) throw new RmsError('InvalidInput', `"${String(purpose)}" is not a secret purpose`);
    return openSealed(this.#privateKey, blob, purpose);
  }

  get publicKeyPem(): string {
    return this.publicKey.export({ format: 'pem', type: 'spki' }).toString();
  }

  get modulusBits(): number {
    return this.publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
  }

  sign(data: Buffer): Buffer {
    return rsaSign('sha256', data, this.#privateKey);
  }

  // Keep the private key out of logs and accidental serialisation.
  toJSON(): { publicKeyPem: string } {
    return { publicKeyPem: this.publicKeyPem };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `${this.constructor.name}<RSA-${this.modulusBits}>`;
  }
}

/**
 * The cluster's key pair: stored wrapped with the cluster key password in the configuration
 * database, so every member of the cluster can load it.
 */
export class ClusterKey extends RsaKeyPair {
  static override generate(modulusLength = 2048): ClusterKey {
    return new ClusterKey(generateKeyPairSync('rsa', { modulusLength, publicExponent: 0x10001 }).privateKey);
  }

  /** A wrong or missing password is KeyPasswordInvalid, never a half-loaded key. */
  static override unwrap(wrapped: string, password: string | undefined): ClusterKey {
    return new ClusterKey(unwrapPkcs8(wrapped, password, 'cluster key'));
  }

  override wrap(password: string): string {
    if (password.length < MIN_KEY_PASSWORD_LENGTH) {
      throw new RmsError('InvalidInput', `the cluster key password must be at least ${MIN_KEY_PASSWORD_LENGTH} characters`);
    }
    return super.wrap(password);
  }
}
