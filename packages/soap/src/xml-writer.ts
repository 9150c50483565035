import { NS } from './namespaces';

/** Anything that can render the content of an operation's Result element. */
export interface ResultWriter {
  toXml(): string;
}

export type XmlAttributes = Readonly<Record<string, string | number | boolean | undefined>>;
export type XmlLeafValue = string | number | boolean | null | undefined;

// ASCII subset of QName: every name in the RMS schemas and XrML fits, and nothing else gets in.
const XML_NAME = /^[A-Za-z_][A-Za-z0-9._-]*(?::[A-Za-z_][A-Za-z0-9._-]*)?$/;
// Characters XML 1.0 cannot carry at all; replaced rather than thrown so a client-supplied string
// echoed in a fault message can never make the envelope unparseable.
const INVALID_XML_CHARS = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

export function escapeXmlText(value: string): string {
  return value
    .replace(INVALID_XML_CHARS, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

export function escapeXmlAttribute(value: string): string {
  // Tabs and line breaks are escaped so attribute-value normalisation cannot change them.
  return escapeXmlText(value)
    .replace(/"/g, '&quot;')
    .replace(/\t/g, '&#x9;')
    .replace(/\n/g, '&#xA;')
    .replace(/\r/g, '&#xD;');
}

function checkName(name: string): string {
  if (!XML_NAME.test(name)) throw new Error(`not an XML name: ${JSON.stringify(name)}`);
  return name;
}

function formatValue(value: string | number | boolean): string {
  if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`cannot write ${value} as XML`);
  return String(value);
}

function renderAttributes(attrs: XmlAttributes | undefined): string {
  if (!attrs) return '';
  let out = '';
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined) continue;
    out += ` ${checkName(name)}="${escapeXmlAttribute(formatValue(value))}"`;
  }
  return out;
}

/**
 * Prepares one XrML document for the inside of a `<Certificate>` element. The strings come from our
 * own signer or from documents already verified, so they are inserted as markup, not re-serialized:
 * the XML declaration goes (illegal mid-document) and a root without a default-namespace
 * declaration gets `xmlns=""`, or it would inherit the service namespace of the response wrapper.
 * Exclusive c14n ignores that declaration on the signed root, so the signature is unaffected.
 */
export function certificateFragment(xrml: string): string {
  const body = xrml.replace(/^\uFEFF/, '').replace(/^\s*<\?xml\s[\s\S]*?\?>/, '').trim();
  if (/<!DOCTYPE|<!ENTITY/i.test(body)) throw new Error('certificate XML must not contain a DTD');
  const startTag = /^<([A-Za-z_][A-Za-z0-9._-]*(?::[A-Za-z_][A-Za-z0-9._-]*)?)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*\/?>/.exec(body);
  if (!startTag) throw new Error('certificate XML must start with its root element');
  const name = startTag[1]!;
  if (name.includes(':') || /\sxmlns\s*=/.test(startTag[2] ?? '')) return body;
  return `<${name} xmlns=""${body.slice(name.length + 1)}`;
}

/**
 * A small forward-only XML builder for operation results. Element and attribute names are checked,
 * text and attribute values escaped; the only way to insert markup is `certificate`, which takes
 * signed XrML.
 */
export class XmlWriter implements ResultWriter {
  private readonly parts: string[] = [];
  private readonly open: string[] = [];

  /** Opens an element; close it with `end()`. */
  start(name: string, attrs?: XmlAttributes): this {
    this.parts.push(`<${checkName(name)}${renderAttributes(attrs)}>`);
    this.open.push(name);
    return this;
  }

  end(): this {
    const name = this.open.pop();
    if (name === undefined) throw new Error('XmlWriter.end() without an open element');
    this.parts.push(`</${name}>`);
    return this;
  }

  /** `<name>` … `</name>` around whatever `body` writes. */
  element(name: string, body?: (w: this) => void, attrs?: XmlAttributes): this {
    this.start(name, attrs);
    body?.(this);
    return this.end();
  }

  /** An element with simple content; `undefined` or `null` writes nothing (minOccurs="0" members). */
  leaf(name: string, value: XmlLeafValue, attrs?: XmlAttributes): this {
    if (value === undefined || value === null) return this;
    this.parts.push(`<${checkName(name)}${renderAttributes(attrs)}>${escapeXmlText(formatValue(value))}</${name}>`);
    return this;
  }

  /** `<name/>`, e.g. an empty ReferenceCertificates array. */
  empty(name: string, attrs?: XmlAttributes): this {
    this.parts.push(`<${checkName(name)}${renderAttributes(attrs)} />`);
    return this;
  }

  /** `<name xsi:nil="true"/>` for a nillable member that is null, e.g. an unknown template. */
  nil(name: string): this {
    this.parts.push(`<${checkName(name)} xsi:nil="true" xmlns:xsi="${NS.xsi}" />`);
    return this;
  }

  text(value: string | number | boolean): this {
    this.parts.push(escapeXmlText(formatValue(value)));
    return this;
  }

  /** One signed XrML document as markup, without a wrapper (e.g. inside ServerLicensorCertificateChain). */
  xrml(xrml: string): this {
    this.parts.push(certificateFragment(xrml));
    return this;
  }

  /** `<Certificate>` holding one signed XrML document (see certificateFragment). */
  certificate(xrml: string): this {
    this.parts.push(`<Certificate>${certificateFragment(xrml)}</Certificate>`);
    return this;
  }

  /** An ArrayOfXmlNode member such as CertificateChain, leaf first as given. */
  certificateArray(name: string, xrmls: readonly string[]): this {
    this.start(name);
    for (const x of xrmls) this.certificate(x);
    return this.end();
  }

  toXml(): string {
    if (this.open.length > 0) throw new Error(`XmlWriter has unclosed elements: ${this.open.join(', ')}`);
    return this.parts.join('');
  }
}
