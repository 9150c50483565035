import { RmsError } from '@openrms/domain';
import { attrOf, requiredChild, textOf } from './xrml-dom';
import { strictBase64 } from './xrml-public-key';
import type { XrmlSink } from './xrml-writer';

/**
 * ENABLINGBITS as OpenRMS writes them. The bytes are an opaque sealed blob made by the keys package
 * (RSA-OAEP + AES-GCM, docs/adr/0007); this package only carries them. `sealed-key` (v1) means
 * PKCS#1 v1.5 encryption, which we never use, so a document claiming it is refused.
 */
export const ENABLING_BITS_TYPE = 'sealed-key-v2';

/** Generous: a sealed RSA-16384 private key is under 12 KiB. */
const MAX_ENABLING_BITS_BYTES = 64 * 1024;

/** `<ENABLINGBITS type="sealed-key-v2"><VALUE encoding="base64" size="BITS">…</VALUE></ENABLINGBITS>` */
export function writeEnablingBits(parent: XrmlSink, blob: Buffer, what = 'enablingBits'): void {
  if (!Buffer.isBuffer(blob) || blob.length === 0) throw new RmsError('InvalidInput', `${what} must be a non-empty Buffer`);
  if (blob.length > MAX_ENABLING_BITS_BYTES) throw new RmsError('InvalidInput', `${what} is larger than ${MAX_ENABLING_BITS_BYTES} bytes`);
  parent
    .ele('ENABLINGBITS', { type: ENABLING_BITS_TYPE })
    .ele('VALUE', { encoding: 'base64', size: String(blob.length * 8) })
    .txt(blob.toString('base64'));
}

/** Reads the single ENABLINGBITS child of `parent`; anything but our exact shape is InvalidInput. */
export function readEnablingBits(parent: Element): Buffer {
  const bits = requiredChild(parent, 'ENABLINGBITS');
  const type = attrOf(bits, 'type');
  if (type !== ENABLING_BITS_TYPE) {
    throw new RmsError('InvalidInput', `ENABLINGBITS type ${JSON.stringify(type ?? null)} is not supported (expected ${ENABLING_BITS_TYPE})`);
  }
  const value = requiredChild(bits, 'VALUE');
  if (attrOf(value, 'encoding') !== 'base64') throw new RmsError('InvalidInput', 'ENABLINGBITS VALUE must have encoding="base64"');
  const blob = strictBase64(textOf(value), 'ENABLINGBITS VALUE');
  if (blob.length > MAX_ENABLING_BITS_BYTES) throw new RmsError('InvalidInput', `ENABLINGBITS VALUE is larger than ${MAX_ENABLING_BITS_BYTES} bytes`);
  const size = attrOf(value, 'size');
  if (size !== String(blob.length * 8)) {
    throw new RmsError('InvalidInput', `ENABLINGBITS VALUE size ${JSON.stringify(size ?? null)} does not match its ${blob.length * 8} bits`);
  }
  return blob;
}
