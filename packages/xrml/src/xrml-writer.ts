import { normalizeGuid, RmsError } from '@openrms/domain';
import { publicKeyToXrml, type RsaPublicKey } from './xrml-public-key';
import { formatXrmlTime } from './xrml-time';

/**
 * Writers for the XrML parts every certificate and licence shares (OBJECT, PUBLICKEY, SECURITYLEVEL,
 * time ranges). Values always go through the sink, which escapes them; the checks here exist
 * because escaping is not enough: xmlbuilder2 silently drops characters XML cannot carry, and CR,
 * LF and TAB in attributes are normalised by the next parser, so the value read back would differ
 * from the value written (and signed).
 */

/**
 * Where the writers below append: xmlbuilder2's builder (most documents) or the canonical writer
 * (canonical-xml.ts: the use licence and the RAC, which are signed without a second parse).
 */
export interface XrmlSink {
  ele(name: string, attributes?: Record<string, string>): XrmlSink;
  txt(content: string): XrmlSink;
}

export interface XrmlSecurityLevel {
  name: string;
  value: string;
}

export interface XrmlObjectFields {
  /** `OBJECT/@type`; omitted when undefined (PL and template descriptors have untyped OBJECTs). */
  objectType?: string;
  idType: string;
  id: string;
  name?: string;
  /** `ADDRESS type="URL"`. */
  url?: string;
}

// C0 controls (including TAB, LF, CR), U+FFFE/U+FFFF and unpaired surrogates.
const FORBIDDEN_CHARS = /[\u0000-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Every string we put in a document passes here first. */
export function xmlValue(value: string, what: string): string {
  if (typeof value !== 'string') throw new RmsError('InvalidInput', `${what} must be a string`);
  if (FORBIDDEN_CHARS.test(value)) throw new RmsError('InvalidInput', `${what} contains characters that cannot be written to XrML`);
  return value;
}

export function nonEmptyXmlValue(value: string, what: string): string {
  xmlValue(value, what);
  if (value.trim() === '') throw new RmsError('InvalidInput', `${what} must not be empty`);
  return value;
}

/**
 * A value readers get back through `textOf`, which trims: edge whitespace would not survive the
 * round trip, so it is refused instead of silently changed (e-mail addresses, identity IDs).
 */
export function trimmedXmlValue(value: string, what: string): string {
  nonEmptyXmlValue(value, what);
  if (value !== value.trim()) throw new RmsError('InvalidInput', `${what} must not start or end with whitespace`);
  return value;
}

/** GUIDs are written braced and lower-case, the form normalizeGuid produces. */
export function guidValue(value: string, what: string): string {
  const g = normalizeGuid(value);
  if (!g) throw new RmsError('InvalidInput', `${what} is not a GUID`);
  return g;
}

export function httpUrlValue(value: string, what: string): string {
  nonEmptyXmlValue(value, what);
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new RmsError('InvalidInput', `${what} is not a URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new RmsError('InvalidInput', `${what} must be an http(s) URL`);
  return value;
}

/** `<OBJECT type="…"><ID type="…">…</ID>[<NAME>…</NAME>][<ADDRESS type="URL">…</ADDRESS>]</OBJECT>` */
export function writeObject(parent: XrmlSink, o: XrmlObjectFields): void {
  const obj = parent.ele('OBJECT', o.objectType === undefined ? {} : { type: nonEmptyXmlValue(o.objectType, 'OBJECT type') });
  const id = o.idType === 'MS-GUID' ? guidValue(o.id, 'MS-GUID ID') : nonEmptyXmlValue(o.id, 'ID');
  obj.ele('ID', { type: nonEmptyXmlValue(o.idType, 'ID type') }).txt(id);
  if (o.name !== undefined) obj.ele('NAME').txt(nonEmptyXmlValue(o.name, 'NAME'));
  if (o.url !== undefined) obj.ele('ADDRESS', { type: 'URL' }).txt(httpUrlValue(o.url, 'ADDRESS'));
}

export function writePublicKey(parent: XrmlSink, key: RsaPublicKey): void {
  const k = publicKeyToXrml(key);
  const pk = parent.ele('PUBLICKEY');
  pk.ele('ALGORITHM').txt(k.algorithm);
  pk.ele('PARAMETER', { name: 'public-exponent' }).ele('VALUE', { encoding: 'integer32' }).txt(String(k.exponent));
  pk.ele('PARAMETER', { name: 'modulus' }).ele('VALUE', { encoding: 'base64', size: String(k.size) }).txt(k.modulus);
}

export function writeSecurityLevel(parent: XrmlSink, level: XrmlSecurityLevel): void {
  parent.ele('SECURITYLEVEL', {
    name: nonEmptyXmlValue(level.name, 'SECURITYLEVEL name'),
    value: xmlValue(level.value, `SECURITYLEVEL ${level.name}`),
  });
}

/** VALIDITYTIME and RANGETIME share this shape. */
export function writeTimeRange(parent: XrmlSink, elementName: 'VALIDITYTIME' | 'RANGETIME', from: Date, until: Date): void {
  const from_ = formatXrmlTime(from);
  const until_ = formatXrmlTime(until);
  // Compared after minute rounding: that is the interval the document will actually state.
  if (!(from_ < until_)) throw new RmsError('InvalidInput', `${elementName} FROM ${from_} is not before UNTIL ${until_}`);
  const range = parent.ele(elementName);
  range.ele('FROM').txt(from_);
  range.ele('UNTIL').txt(until_);
}

/** `<INTERVALTIME days=… hours=… …/>`; zero-valued attributes are omitted, as the spec asks. */
export function writeIntervalTime(
  parent: XrmlSink,
  interval: { days?: number; hours?: number; minutes?: number; seconds?: number },
): void {
  const attrs: Record<string, string> = {};
  for (const unit of ['days', 'hours', 'minutes', 'seconds'] as const) {
    const v = interval[unit];
    if (v === undefined || v === 0) continue;
    if (!Number.isSafeInteger(v) || v < 0) throw new RmsError('InvalidInput', `INTERVALTIME ${unit} must be a non-negative integer`);
    attrs[unit] = String(v);
  }
  if (Object.keys(attrs).length === 0) throw new RmsError('InvalidInput', 'INTERVALTIME must not be zero');
  parent.ele('INTERVALTIME', attrs);
}

/** `{ [key]: value }` when value is defined, `{}` otherwise: for optional fields under exactOptionalPropertyTypes-style code. */
export function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
