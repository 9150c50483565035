import { createCipheriv, createDecipheriv, randomBytes, type KeyObject } from 'node:crypto';
import { RmsError } from '@openrms/domain';
import { seal } from './sealing';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * A symmetric AES-256 content key. The key bytes stay inside; it can be sealed to a public key
 * (ENABLINGBITS) and it encrypts content and rights data with AES-256-GCM.
 */
export class ContentKey {
  readonly #key: Buffer;

  private constructor(key: Buffer) {
    if (key.length !== 32) throw new RmsError('CryptoUnsupportedSymKey', `content keys are AES-256 (32 bytes), got ${key.length}`);
    this.#key = Buffer.from(key);
  }

  static generate(): ContentKey {
    return new ContentKey(randomBytes(32));
  }

  /** Used by this package's unseal paths only. */
  static fromBytes(bytes: Buffer): ContentKey {
    return new ContentKey(bytes);
  }

  sealTo(recipient: KeyObject): Buffer {
    return seal(recipient, this.#key, 'content-key');
  }

  /** AES-256-GCM; the result is IV ‖ ciphertext ‖ tag. `aad` binds the ciphertext to its context. */
  encrypt(plaintext: Buffer, aad: Buffer): Buffer {
    const iv = randomBytes(IV_BYTES);
    const c = createCipheriv('aes-256-gcm', this.#key, iv);
    c.setAAD(aad);
    return Buffer.concat([iv, c.update(plaintext), c.final(), c.getAuthTag()]);
  }

  decrypt(blob: Buffer, aad: Buffer): Buffer {
    if (blob.length < IV_BYTES + TAG_BYTES) throw new RmsError('InvalidInput', 'encrypted data is truncated');
    const d = createDecipheriv('aes-256-gcm', this.#key, blob.subarray(0, IV_BYTES));
    d.setAAD(aad);
    d.setAuthTag(blob.subarray(blob.length - TAG_BYTES));
    try {
      return Buffer.concat([d.update(blob.subarray(IV_BYTES, blob.length - TAG_BYTES)), d.final()]);
    } catch {
      throw new RmsError('InvalidInput', 'encrypted data was altered or belongs to another key');
    }
  }

  /**
   * The raw key bytes. Only AcquireContentKey on a decommissioned cluster hands a key out
   * unsealed ([MS-RMSI] 3.2, docs/adr/0013-decommissioning.md); every other path seals it.
   */
  releaseForDecommissioning(): Buffer {
    return Buffer.from(this.#key);
  }

  /** True when both objects hold the same key (constant-time enough for tests and checks). */
  equals(other: ContentKey): boolean {
    return other.#key.equals(this.#key);
  }

  toJSON(): string {
    return 'ContentKey<AES-256>';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'ContentKey<AES-256>';
  }
}
