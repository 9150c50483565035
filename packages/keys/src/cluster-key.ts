import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  scryptSync,
  sign as rsaSign,
  verify as rsaVerify,
  KeyObject,
} from 'node:crypto';
import { RmsError } from '@openrms/domain';
import { ContentKey } from './content-key';
import { decryptPkcs8, encryptPkcs8 } from './encrypted-pkcs8';
import { parsePkcs11Reference, type Pkcs11Location, Pkcs11PrivateKey, type UnsealMechanism } from './pkcs11-key';
import { PublishingDomainKey } from './publishing-domain-key';
import { rsaPrivateKeyPkcs8Der } from './rsa-pkcs8';
import { type KeySealPurpose, type OaepDecrypt, openSealed, seal, SECRET_PURPOSES, type SecretPurpose } from './sealing';

/** Anything that can produce an RSASSA-PKCS1-v1_5 SHA-256 signature without exposing its key. */
export interface Signer {
  readonly publicKey: KeyObject;
  sign(data: Buffer): Buffer;
}

/**
 * Where a key pair's private half is kept: in this process (wrapped with a password when stored),
 * or in a PKCS#11 token it never leaves. Public facts only: never a password or a PIN.
 */
export type KeyProtection =
  | { kind: 'password' }
  | { kind: 'pkcs11'; module: string; token: string; keyLabel: string; keyId: string; unsealMechanism?: UnsealMechanism };

/** What the admin pages and `rmsctl key show` say of the cluster key. */
export interface KeyStatus {
  protection: KeyProtection;
  /** A test signature verified with the public key. */
  reachable: boolean;
  /** Why not, when not reachable (never a secret). */
  error?: string;
}

/** A new cluster key: kept in this process until wrapped with `password`, or generated in a token. */
export type NewKeyProtection = { kind: 'password'; password: string } | ({ kind: 'pkcs11'; label: string } & Pkcs11Location);

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
  /** The private key in this process, or undefined when a PKCS#11 token keeps it (#token). */
  readonly #privateKey: KeyObject | undefined;
  readonly #token: Pkcs11PrivateKey | undefined;
  readonly #decrypt: KeyObject | OaepDecrypt;
  readonly publicKey: KeyObject;

  protected constructor(privateKey: KeyObject | Pkcs11PrivateKey) {
    if (privateKey instanceof Pkcs11PrivateKey) {
      this.#token = privateKey;
      this.#decrypt = (block) => privateKey.decryptOaep(block);
      this.publicKey = privateKey.publicKey;
      return;
    }
    if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'rsa') throw new RmsError('InvalidInput', 'key pairs must be RSA');
    this.#privateKey = privateKey;
    this.#decrypt = privateKey;
    this.publicKey = createPublicKey(privateKey);
  }

  /** The private key, for the operations that move it elsewhere encrypted; a token's key refuses. */
  #exportable(action: string): KeyObject {
    if (this.#privateKey) return this.#privateKey;
    const ref = this.#token!.reference;
    throw new RmsError(
      'InvalidInput',
      `the key is kept in the PKCS#11 token "${ref.token}" (label "${ref.label}") and never leaves it, so it cannot be ${action}; back the token up with its own tools (docs/operations.md, "Keeping the cluster key in an HSM")`,
    );
  }

  /** Where the private key is kept (no secrets). */
  get protection(): KeyProtection {
    if (!this.#token) return { kind: 'password' };
    const r = this.#token.reference;
    return { kind: 'pkcs11', module: r.module, token: r.token, keyLabel: r.label, keyId: r.id, unsealMechanism: this.#token.unsealMechanism };
  }

  /** Signs a random probe and verifies it: for a token, proves it is there, logged in and holds the key. */
  status(): KeyStatus {
    const protection = this.protection;
    try {
      const probe = randomBytes(32);
      if (!rsaVerify('sha256', probe, this.publicKey, this.sign(probe))) return { protection, reachable: false, error: 'the signature does not verify with the public key' };
      return { protection, reachable: true };
    } catch (e) {
      return { protection, reachable: false, error: e instanceof RmsError ? e.message : 'the key did not sign' };
    }
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
    return encryptPkcs8(this.#exportable('exported'), password);
  }

  /** The private key encrypted with `password` (scrypt → AES-256-GCM), as a JSON string. */
  wrap(password: string, minLength = MIN_KEY_PASSWORD_LENGTH): string {
    if (password.length < minLength) {
      throw new RmsError('InvalidInput', `the key password must be at least ${minLength} characters`);
    }
    const salt = randomBytes(16);
    const iv = randomBytes(12);
    const key = deriveKey(password, salt, SCRYPT);
    const der = this.#exportable('wrapped with a password').export({ format: 'der', type: 'pkcs8' });
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
    const der = rsaPrivateKeyPkcs8Der(this.#exportable('sealed to another key'));
    try {
      return seal(recipient, der, purpose);
    } finally {
      der.fill(0);
    }
  }

  /** Opens a content key sealed to this key pair. */
  unsealContentKey(blob: Buffer): ContentKey {
    const bytes = openSealed(this.#decrypt, blob, 'content-key');
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
    const der = openSealed(this.#decrypt, blob, purpose);
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
    const der = openSealed(this.#decrypt, blob, 'publishing-domain-key');
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
    return openSealed(this.#decrypt, blob, purpose);
  }

  get publicKeyPem(): string {
    return this.publicKey.export({ format: 'pem', type: 'spki' }).toString();
  }

  get modulusBits(): number {
    return this.publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
  }

  sign(data: Buffer): Buffer {
    return this.#token ? this.#token.sign(data) : rsaSign('sha256', data, this.#privateKey!);
  }

  // Keep the private key out of logs and accidental serialisation.
  toJSON(): { publicKeyPem: string } {
    return { publicKeyPem: this.publicKeyPem };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `${this.constructor.name}<RSA-${this.modulusBits}${this.#token ? `, PKCS#11 "${this.#token.reference.token}"` : ''}>`;
  }

  /** @internal the token key of a cluster key, for ClusterKey.discard */
  protected get tokenKey(): Pkcs11PrivateKey | undefined {
    return this.#token;
  }
}

/**
 * The cluster's key pair, as the configuration database holds it for every member: wrapped with the
 * cluster key password (docs/adr/0005-cluster-key-storage.md), or kept in a PKCS#11 token, the
 * database holding only where (docs/adr/0016-pkcs11-key-protection.md). Callers sign and unseal
 * the same way whichever it is.
 */
export class ClusterKey extends RsaKeyPair {
  static override generate(modulusLength = 2048): ClusterKey {
    return new ClusterKey(generateKeyPairSync('rsa', { modulusLength, publicExponent: 0x10001 }).privateKey);
  }

  /**
   * A new cluster key and the text the database stores for it: the key wrapped with the password,
   * or generated inside the token (never extractable) and the reference to it.
   */
  static create(protection: NewKeyProtection, modulusLength = 2048): { key: ClusterKey; stored: string } {
    if (protection.kind === 'password') {
      const key = ClusterKey.generate(modulusLength);
      return { key, stored: key.wrap(protection.password) };
    }
    const tokenKey = Pkcs11PrivateKey.generate(protection, protection.label, modulusLength);
    return { key: new ClusterKey(tokenKey), stored: JSON.stringify(tokenKey.reference) };
  }

  /**
   * Opens the stored cluster key with its secret: the cluster key password, or the user PIN of the
   * token that keeps it. A wrong or missing secret is KeyPasswordInvalid, never a half-loaded key;
   * a token or key that is not there is NotFound, a module that does not load InvalidInput.
   */
  static override unwrap(stored: string, secret: string | undefined): ClusterKey {
    const ref = parsePkcs11Reference(stored);
    if (ref) return new ClusterKey(Pkcs11PrivateKey.open(ref, secret ?? ''));
    return new ClusterKey(unwrapPkcs8(stored, secret, 'cluster key'));
  }

  /** Where a stored cluster key is kept, read without opening it (no secret needed). */
  static describeStored(stored: string): KeyProtection {
    const ref = parsePkcs11Reference(stored);
    return ref ? { kind: 'pkcs11', module: ref.module, token: ref.token, keyLabel: ref.label, keyId: ref.id } : { kind: 'password' };
  }

  /**
   * Removes a key just generated in a token from it again (provisioning failed after generating
   * it, so nothing refers to it). A password-wrapped key has nothing to remove.
   */
  discard(): void {
    this.tokenKey?.destroy();
  }

  override wrap(password: string): string {
    if (this.protection.kind === 'pkcs11') {
      const p = this.protection;
      throw new RmsError('InvalidInput', `the cluster key is kept in the PKCS#11 token "${p.token}" and has no password; change the token's user PIN with the token's own tools (softhsm2-util, pkcs11-tool --change-pin or the HSM's)`);
    }
    if (password.length < MIN_KEY_PASSWORD_LENGTH) {
      throw new RmsError('InvalidInput', `the cluster key password must be at least ${MIN_KEY_PASSWORD_LENGTH} characters`);
    }
    return super.wrap(password);
  }
}
