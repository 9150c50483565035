import { constants, createCipheriv, createDecipheriv, privateDecrypt, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { RmsError } from '@openrms/domain';

/**
 * What a sealed blob protects. It is bound into the AES-GCM associated data, so a blob sealed as
 * one thing can never be opened as another (a content key presented as a private key, say).
 */
export type SealPurpose = 'content-key' | 'rac-private-key' | 'clc-private-key' | 'user-key-at-rest' | 'publishing-domain-key' | SecretPurpose;

/** Purposes whose payload is an opaque secret (bytes), never a key: opened with `unsealSecret` only. */
export type SecretPurpose = 'root-credentials' | 'directory-credentials' | 'peer-credentials' | 'admin-form-secret';

/** Purposes whose payload is a private key (PKCS#8 DER). */
export type KeySealPurpose = Exclude<SealPurpose, 'content-key' | SecretPurpose>;

export const SECRET_PURPOSES: readonly SecretPurpose[] = ['root-credentials', 'directory-credentials', 'peer-credentials', 'admin-form-secret'];

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

function aad(purpose: SealPurpose): Buffer {
  return Buffer.from(`OpenRMS-seal-v${VERSION}:${purpose}`);
}

/**
 * Hybrid sealing (docs/adr/0007-enabling-bits.md): a fresh AES-256 key, RSA-OAEP(SHA-256)-encrypted
 * to the recipient, then AES-256-GCM over the payload.
 * Layout: version (1) ‖ RSA block length (2, big-endian) ‖ RSA block ‖ IV (12) ‖ ciphertext ‖ tag (16).
 * Only the public key is needed, so anyone may seal; opening needs a private key held in this package.
 */
export function seal(recipient: KeyObject, payload: Buffer, purpose: SealPurpose): Buffer {
  if (recipient.type !== 'public' || recipient.asymmetricKeyType !== 'rsa') throw new RmsError('InvalidInput', 'seal needs an RSA public key');
  const ks = randomBytes(32);
  const iv = randomBytes(IV_BYTES);
  try {
    const rsa = publicEncrypt({ key: recipient, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, ks);
    const c = createCipheriv('aes-256-gcm', ks, iv);
    c.setAAD(aad(purpose));
    const ct = Buffer.concat([c.update(payload), c.final()]);
    const head = Buffer.alloc(3);
    head.writeUInt8(VERSION, 0);
    head.writeUInt16BE(rsa.length, 1);
    return Buffer.concat([head, rsa, iv, ct, c.getAuthTag()]);
  } finally {
    ks.fill(0);
  }
}

/**
 * The RSA-OAEP (SHA-256) decryption of one block with a private key wherever it is kept: a
 * KeyObject in this process, or a PKCS#11 token (`undefined` when the block does not open there).
 */
export type OaepDecrypt = (block: Buffer) => Buffer | undefined;

/**
 * Opens a sealed blob with a private key (or a function that decrypts with one). Internal: callers
 * get key objects, never these bytes. A token that does not answer is its own Unavailable error,
 * not "sealed to another key".
 */
export function openSealed(privateKey: KeyObject | OaepDecrypt, blob: Buffer, purpose: SealPurpose): Buffer {
  const fail = (why: string) => new RmsError('EnablingBitsHashDoesNotMatch', `the sealed ${purpose} cannot be opened: ${why}`);
  if (blob.length < 3 + IV_BYTES + TAG_BYTES || blob.readUInt8(0) !== VERSION) throw fail('unknown format');
  const rsaLen = blob.readUInt16BE(1);
  if (blob.length < 3 + rsaLen + IV_BYTES + TAG_BYTES) throw fail('truncated');
  let ks: Buffer | undefined;
  const block = blob.subarray(3, 3 + rsaLen);
  try {
    ks = typeof privateKey === 'function' ? privateKey(block) : privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, block);
  } catch (e) {
    if (e instanceof RmsError && e.code === 'Unavailable') throw e;
    ks = undefined;
  }
  if (!ks) throw fail('it was sealed to another key');
  try {
    const iv = blob.subarray(3 + rsaLen, 3 + rsaLen + IV_BYTES);
    const d = createDecipheriv('aes-256-gcm', ks, iv);
    d.setAAD(aad(purpose));
    d.setAuthTag(blob.subarray(blob.length - TAG_BYTES));
    return Buffer.concat([d.update(blob.subarray(3 + rsaLen + IV_BYTES, blob.length - TAG_BYTES)), d.final()]);
  } catch {
    throw fail('it was altered or sealed for another purpose');
  } finally {
    ks.fill(0);
  }
}
