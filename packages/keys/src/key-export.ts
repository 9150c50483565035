import { createHash, verify, type KeyObject } from 'node:crypto';
import { RmsError } from '@openrms/domain';
import { RsaKeyPair } from './cluster-key';

/**
 * A cluster key export (`rmsctl key export`): one PEM file any tool can read.
 *
 *     -----BEGIN ENCRYPTED PRIVATE KEY-----      PKCS#8, PBES2 scrypt + AES-256-CBC (openssl pkey reads it)
 *     -----BEGIN OPENRMS CLUSTER IDENTITY-----   base64 JSON: format, cluster id/kind/name/url, key fingerprint
 *     -----BEGIN OPENRMS SLC-----                base64 of one XrML certificate, leaf first, one block each
 *     -----BEGIN OPENRMS EXPORT SIGNATURE-----   RSA-SHA256 by the exported key over identity and chain
 *
 * The signature binds the clear blocks to the encrypted key: a file whose identity or chain was
 * changed, or whose key block was swapped, is refused on import.
 */
export const KEY_EXPORT_FORMAT = 'openrms-cluster-key-export-v1';

const LABELS = { key: 'ENCRYPTED PRIVATE KEY', identity: 'OPENRMS CLUSTER IDENTITY', slc: 'OPENRMS SLC', signature: 'OPENRMS EXPORT SIGNATURE' } as const;
const MAX_EXPORT_BYTES = 1024 * 1024;
const MAX_CHAIN = 8;

function armour(label: string, body: Buffer): string {
  return `-----BEGIN ${label}-----\n${body.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END ${label}-----\n`;
}

function signedBytes(identity: Buffer, chain: readonly string[]): Buffer {
  const parts = [Buffer.from(KEY_EXPORT_FORMAT), identity, ...chain.map((c) => Buffer.from(c, 'utf8'))];
  return Buffer.concat(parts.flatMap((p) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(p.length);
    return [len, p];
  }));
}

export function publicKeySha256(key: KeyObject): string {
  return createHash('sha256').update(key.export({ format: 'der', type: 'spki' })).digest('hex');
}

/** What the identity block says, besides what callers put in it. */
export interface KeyExportIdentity {
  format: typeof KEY_EXPORT_FORMAT;
  publicKeySha256: string;
  chainLength: number;
  [field: string]: unknown;
}

/**
 * The export file for `key` under `password` (a new password, not the cluster key password), with
 * the SLC chain (leaf first) and whatever `identity` says about the cluster (public facts only).
 */
export function writeKeyExport(key: RsaKeyPair, password: string, identity: Record<string, string | number | boolean>, chain: readonly string[]): string {
  if (chain.length === 0 || chain.length > MAX_CHAIN) throw new RmsError('InvalidInput', `an SLC chain has 1 to ${MAX_CHAIN} certificates`);
  const id: KeyExportIdentity = { ...identity, format: KEY_EXPORT_FORMAT, publicKeySha256: publicKeySha256(key.publicKey), chainLength: chain.length };
  const idBytes = Buffer.from(JSON.stringify(id), 'utf8');
  const sig = key.sign(signedBytes(idBytes, chain));
  return [
    key.exportEncryptedPkcs8(password),
    armour(LABELS.identity, idBytes),
    ...chain.map((c) => armour(LABELS.slc, Buffer.from(c, 'utf8'))),
    armour(LABELS.signature, sig),
  ].join('');
}

/**
 * An export file opened with its password and checked: the key, what the file says about its
 * cluster, and its SLC chain. The key leaves only sealed to another public key.
 */
export class OpenedKeyExport {
  readonly #key: RsaKeyPair;
  readonly publicKey: KeyObject;

  /** @internal made by readKeyExport */
  constructor(
    key: RsaKeyPair,
    readonly identity: KeyExportIdentity,
    readonly chain: readonly string[],
  ) {
    this.#key = key;
    this.publicKey = key.publicKey;
  }

  /** The key sealed to `recipient` (this cluster's public key) as a trusted publishing domain key. */
  sealAsPublishingDomainKey(recipient: KeyObject): Buffer {
    return this.#key.sealPrivateKeyTo(recipient, 'publishing-domain-key');
  }

  toJSON(): { identity: KeyExportIdentity } {
    return { identity: this.identity };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `OpenedKeyExport<${this.identity.publicKeySha256.slice(0, 16)}…>`;
  }
}

/**
 * Opens an export file. A wrong password is KeyPasswordInvalid; a file that is not an export, or
 * whose blocks were altered or mixed from two exports, is InvalidInput.
 */
export function readKeyExport(text: string, password: string): OpenedKeyExport {
  const bad = (why: string): never => {
    throw new RmsError('InvalidInput', `not a usable cluster key export: ${why}`);
  };
  if (text.length > MAX_EXPORT_BYTES) bad('the file is too large');
  const blocks = [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]*?)-----END \1-----/g)].map((m) => ({ label: m[1]!, text: m[0], body: m[2]! }));
  if (blocks.length < 4) bad('it lacks the key, identity, SLC or signature block');
  const [keyBlock, idBlock, ...rest] = blocks;
  const sigBlock = rest.pop()!;
  if (keyBlock!.label !== LABELS.key) bad(`its first block must be ${LABELS.key}`);
  if (idBlock!.label !== LABELS.identity || sigBlock.label !== LABELS.signature || rest.some((b) => b.label !== LABELS.slc)) {
    bad('its blocks are not key, identity, SLC…, signature');
  }
  if (rest.length === 0 || rest.length > MAX_CHAIN) bad(`it must hold 1 to ${MAX_CHAIN} SLC certificates`);
  const idBytes = Buffer.from(idBlock!.body, 'base64');
  let identity: KeyExportIdentity;
  try {
    identity = JSON.parse(idBytes.toString('utf8')) as KeyExportIdentity;
  } catch {
    return bad('its identity block is not JSON');
  }
  if (identity?.format !== KEY_EXPORT_FORMAT) bad(`unknown format ${String(identity?.format)}`);
  const chain = rest.map((b) => Buffer.from(b.body, 'base64').toString('utf8'));
  // Opened before the signature is checked: only the key can check it.
  const key = RsaKeyPair.fromEncryptedPkcs8(`${keyBlock!.text}\n`, password, 'exported cluster key');
  if (!verify('sha256', signedBytes(idBytes, chain), key.publicKey, Buffer.from(sigBlock.body, 'base64'))) {
    bad('its identity or SLC chain was altered, or does not belong to its key');
  }
  // CBC has no MAC: a damaged key block can decrypt to a key that no longer works. Prove it does.
  const probe = signedBytes(Buffer.from('probe'), chain);
  if (!verify('sha256', probe, key.publicKey, key.sign(probe))) bad('its private key is damaged');
  if (identity.publicKeySha256 !== publicKeySha256(key.publicKey) || identity.chainLength !== chain.length) bad('its identity does not match its key or chain');
  return new OpenedKeyExport(key, identity, chain);
}
