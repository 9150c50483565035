import { RmsClientError } from './rms-client-error';

/**
 * The protected-file container (README.md, "File format"):
 *
 *     "OPENRMS1" (8 ASCII bytes) ‖ header length (4, big-endian) ‖ header (UTF-8 JSON) ‖ encrypted content
 *
 * The encrypted content is `ContentKey.encrypt(content, aad)` (AES-256-GCM: IV 12 ‖ ciphertext ‖ tag
 * 16) with aad = "OpenRMS-content-v1" ‖ the exact header bytes, so any change to the header, however
 * harmless it looks as JSON, makes decryption fail. The header is not trusted for anything the
 * server decides: the licensing URL and the policy come from the signed publishing licence.
 */
export const PROTECTED_FILE_MAGIC = Buffer.from('OPENRMS1', 'ascii');
export const PROTECTED_FILE_FORMAT = 1;
export const CONTENT_AAD_PREFIX = Buffer.from('OpenRMS-content-v1', 'ascii');
/** A header holds a PL chain (a few tens of KiB); anything near this is not one of ours. */
export const MAX_HEADER_BYTES = 4 * 1024 * 1024;
/** The longest chain the protocol has is five members; a PL chain here is PL + CLC + SLC chain. */
export const MAX_PL_CHAIN_LENGTH = 10;
const LENGTH_BYTES = 4;
/** IV + GCM tag: the smallest possible encrypted part (empty content). */
export const MIN_ENCRYPTED_BYTES = 12 + 16;

/** Rights the publisher listed for one grantee (an e-mail address, `anyone` or `owner`). */
export interface DeclaredGrant {
  grantee: string;
  rights: string[];
}

export interface ProtectedFileHeader {
  format: 1;
  /** The signed publishing licence chain, leaf first: PL, CLC, SLC chain (offline) or PL, SLC chain (online). */
  plChain: string[];
  /** Informational copy of the PL's License-Acquisition-URL; readers take it from the signed PL. */
  licensingUrl: string;
  contentId: string;
  /** The publisher's e-mail address. */
  publisher: string;
  /** What the publisher says it granted; the server enforces the signed PL, not this list. */
  declaredGrants: DeclaredGrant[];
  /** The template name the content was protected with. */
  template?: string;
  /** A name the publisher gave the content (e.g. the original file name). */
  name?: string;
  /** ISO 8601. */
  createdAt: string;
}

export interface ProtectedFileParts {
  header: ProtectedFileHeader;
  /** The header exactly as stored: part of the content's associated data. */
  headerBytes: Buffer;
  encryptedContent: Buffer;
}

function malformed(why: string): RmsClientError {
  return new RmsClientError('format', `not a valid OpenRMS protected file: ${why}`);
}

/** The associated data the content is encrypted under: prefix ‖ exact header bytes. */
export function contentAad(headerBytes: Buffer): Buffer {
  return Buffer.concat([CONTENT_AAD_PREFIX, headerBytes]);
}

/** Serialises a header; checked with the same rules a reader applies, so we never write what we would refuse. */
export function encodeHeader(header: ProtectedFileHeader): Buffer {
  validateHeader(JSON.parse(JSON.stringify(header)) as unknown);
  const bytes = Buffer.from(JSON.stringify(header), 'utf8');
  if (bytes.length > MAX_HEADER_BYTES) throw new RmsClientError('input', `the file header would be ${bytes.length} bytes, more than ${MAX_HEADER_BYTES}`);
  return bytes;
}

/** magic ‖ length ‖ header ‖ encrypted content. */
export function assembleProtectedFile(headerBytes: Buffer, encryptedContent: Buffer): Buffer {
  const length = Buffer.alloc(LENGTH_BYTES);
  length.writeUInt32BE(headerBytes.length, 0);
  return Buffer.concat([PROTECTED_FILE_MAGIC, length, headerBytes, encryptedContent]);
}

/** Splits and validates a protected file; anything malformed is an RmsClientError of kind `format`. */
export function parseProtectedFile(file: Buffer): ProtectedFileParts {
  if (!Buffer.isBuffer(file)) throw malformed('expected bytes');
  if (file.length < PROTECTED_FILE_MAGIC.length || !file.subarray(0, PROTECTED_FILE_MAGIC.length).equals(PROTECTED_FILE_MAGIC)) {
    throw malformed('it does not start with OPENRMS1');
  }
  const lengthAt = PROTECTED_FILE_MAGIC.length;
  if (file.length < lengthAt + LENGTH_BYTES) throw malformed('it ends before the header length');
  const headerLength = file.readUInt32BE(lengthAt);
  if (headerLength === 0) throw malformed('the header is empty');
  if (headerLength > MAX_HEADER_BYTES) throw malformed(`the header claims ${headerLength} bytes, more than ${MAX_HEADER_BYTES}`);
  const headerStart = lengthAt + LENGTH_BYTES;
  const headerEnd = headerStart + headerLength;
  if (file.length < headerEnd) throw malformed(`the header claims ${headerLength} bytes but the file ends before that`);
  if (file.length - headerEnd < MIN_ENCRYPTED_BYTES) throw malformed('the encrypted content is missing or truncated');
  const headerBytes = file.subarray(headerStart, headerEnd);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(headerBytes);
  } catch {
    throw malformed('the header is not UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw malformed('the header is not JSON');
  }
  return { header: validateHeader(json), headerBytes: Buffer.from(headerBytes), encryptedContent: Buffer.from(file.subarray(headerEnd)) };
}

const REQUIRED = ['format', 'plChain', 'licensingUrl', 'contentId', 'publisher', 'declaredGrants', 'createdAt'] as const;
const OPTIONAL = ['template', 'name'] as const;
const MAX_TEXT = 4096;

function validateHeader(json: unknown): ProtectedFileHeader {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw malformed('the header is not a JSON object');
  const h = json as Record<string, unknown>;
  for (const key of Object.keys(h)) {
    if (!(REQUIRED as readonly string[]).includes(key) && !(OPTIONAL as readonly string[]).includes(key)) throw malformed(`unknown header field "${key}"`);
  }
  for (const key of REQUIRED) if (!(key in h)) throw malformed(`the header lacks "${key}"`);
  if (h.format !== PROTECTED_FILE_FORMAT) throw malformed(`header format ${JSON.stringify(h.format)} is not supported (expected ${PROTECTED_FILE_FORMAT})`);
  const chain = h.plChain;
  if (!Array.isArray(chain) || chain.length < 2 || chain.length > MAX_PL_CHAIN_LENGTH) {
    throw malformed(`plChain must be a list of 2 to ${MAX_PL_CHAIN_LENGTH} XrML documents`);
  }
  chain.forEach((c, i) => {
    if (typeof c !== 'string' || !/^\s*</.test(c)) throw malformed(`plChain member ${i} is not an XrML document`);
  });
  const text = (key: string, optional = false) => {
    const v = h[key];
    if (v === undefined && optional) return;
    if (typeof v !== 'string' || v.length === 0 || v.length > MAX_TEXT) throw malformed(`"${key}" must be a non-empty string of at most ${MAX_TEXT} characters`);
  };
  text('licensingUrl');
  text('contentId');
  text('publisher');
  text('createdAt');
  text('template', true);
  text('name', true);
  if (Number.isNaN(Date.parse(h.createdAt as string))) throw malformed('"createdAt" is not a date');
  const grants = h.declaredGrants;
  if (!Array.isArray(grants) || grants.length > 1000) throw malformed('"declaredGrants" must be a list');
  grants.forEach((g, i) => {
    if (typeof g !== 'object' || g === null || Array.isArray(g)) throw malformed(`declaredGrants[${i}] is not an object`);
    const o = g as Record<string, unknown>;
    if (Object.keys(o).some((k) => k !== 'grantee' && k !== 'rights')) throw malformed(`declaredGrants[${i}] has unknown fields`);
    if (typeof o.grantee !== 'string' || o.grantee.length === 0 || o.grantee.length > 320) throw malformed(`declaredGrants[${i}].grantee is not a string`);
    if (!Array.isArray(o.rights) || o.rights.length === 0 || o.rights.some((r) => typeof r !== 'string' || r.length === 0 || r.length > 64)) {
      throw malformed(`declaredGrants[${i}].rights must be a non-empty list of right names`);
    }
  });
  return h as unknown as ProtectedFileHeader;
}
