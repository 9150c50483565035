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

/**
 * The cluster's RSA key pair. The private half lives only inside this object (a private field) and
 * leaves it only encrypted with the cluster key password, so every cluster member can load it from
 * the shared configuration database.
 */
export class ClusterKey implements Signer {
  readonly #privateKey: KeyObject;
  readonly publicKey: KeyObject;

  private constructor(privateKey: KeyObject) {
    if (privateKey.asymmetricKeyType !== 'rsa') throw new RmsError('InvalidInput', 'cluster keys must be RSA');
    this.#privateKey = privateKey;
    this.publicKey = createPublicKey(privateKey);
  }

  static generate(modulusLength = 2048): ClusterKey {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength, publicExponent: 0x10001 });
    return new ClusterKey(privateKey);
  }

  /** Opens a key wrapped by `wrap`; a wrong password is a KeyPasswordInvalid error, never a half-loaded key. */
  static unwrap(wrapped: string, password: string | undefined): ClusterKey {
    if (!password) throw new RmsError('KeyPasswordInvalid', 'the cluster key password is missing');
    let w: WrappedKeyV1;
    try {
      w = JSON.parse(wrapped) as WrappedKeyV1;
    } catch {
      throw new RmsError('InvalidInput', 'the stored cluster key is not in a known format');
    }
    if (w.format !== WRAP_FORMAT || w.kdf !== 'scrypt' || w.cipher !== 'aes-256-gcm') {
      throw new RmsError('InvalidInput', `the stored cluster key has an unknown format (${String(w.format)})`);
    }
    const key = deriveKey(password, Buffer.from(w.salt, 'base64'), w);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(w.iv, 'base64'));
    decipher.setAAD(Buffer.from(WRAP_FORMAT));
    decipher.setAuthTag(Buffer.from(w.tag, 'base64'));
    let der: Buffer;
    try {
      der = Buffer.concat([decipher.update(Buffer.from(w.ciphertext, 'base64')), decipher.final()]);
    } catch {
      throw new RmsError('KeyPasswordInvalid', 'the cluster key password is wrong');
    }
    try {
      return new ClusterKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
    } finally {
      der.fill(0);
      key.fill(0);
    }
  }

  /** The private key encrypted with `password` (scrypt → AES-256-GCM), as a JSON string for the database. */
  wrap(password: string): string {
    if (password.length < MIN_KEY_PASSWORD_LENGTH) {
      throw new RmsError('InvalidInput', `the cluster key password must be at least ${MIN_KEY_PASSWORD_LENGTH} characters`);
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
    return `ClusterKey<RSA-${this.modulusBits}>`;
  }
}
