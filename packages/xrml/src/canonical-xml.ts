import { RmsError } from '@openrms/domain';
import { ExclusiveCanonicalization } from 'xml-crypto';
import type { XrmlSink } from './xrml-writer';

/**
 * A writer that emits a namespace-free document already in exclusive-c14n form (W3C exc-c14n of
 * the parsed result is the text itself): attributes sorted by name, start and end tags for empty
 * elements, text escaped as `&amp; &lt; &gt; &#xD;`, attribute values as `&amp; &lt; &quot; &#x9;
 * &#xA; &#xD;`, no XML declaration, no whitespace outside the root. The use licence and the RAC,
 * the documents issued on every request, are written with it so the signer can digest the text as
 * it is (sign-xrml.ts recognises canonical input) instead of parsing and canonicalising it again.
 *
 * Values reach it through the xrml-writer checks; it still refuses characters XML cannot carry
 * rather than dropping them, so what is written is what is signed.
 */

// XML names we write: ASCII, no colon (no namespaces), not starting with "xml".
const NAME = /^(?![Xx][Mm][Ll])[A-Za-z_][A-Za-z0-9._-]*$/;
// Anything XML 1.0 cannot carry, even as a character reference.
const INVALID_XML_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const TEXT_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#xD;' };
const ATTR_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '"': '&quot;', '\t': '&#x9;', '\n': '&#xA;', '\r': '&#xD;' };

function checkChars(value: string, what: string): void {
  if (typeof value !== 'string') throw new RmsError('InvalidInput', `${what} must be a string`);
  if (INVALID_XML_CHARS.test(value)) throw new RmsError('InvalidInput', `${what} contains characters that cannot be written to XrML`);
}

/** exc-c14n text escaping (§ Text Nodes of Canonical XML 1.0). */
export function canonicalText(value: string): string {
  checkChars(value, 'text');
  return /[&<>\r]/.test(value) ? value.replace(/[&<>\r]/g, (c) => TEXT_ESCAPES[c]!) : value;
}

/** exc-c14n attribute value escaping (§ Attribute Nodes of Canonical XML 1.0). */
export function canonicalAttributeValue(value: string): string {
  checkChars(value, 'attribute value');
  return /[&<"\t\n\r]/.test(value) ? value.replace(/[&<"\t\n\r]/g, (c) => ATTR_ESCAPES[c]!) : value;
}

function checkName(name: string): string {
  if (typeof name !== 'string' || !NAME.test(name)) throw new RmsError('InvalidInput', `${JSON.stringify(String(name))} is not an XrML name`);
  return name;
}

type Child = CanonicalElement | { text: string };

/** One element of a canonical document; `ele` and `txt` chain like xmlbuilder2's. */
export class CanonicalElement implements XrmlSink {
  readonly #name: string;
  readonly #startTag: string;
  readonly #children: Child[] = [];

  constructor(name: string, attributes: Record<string, string> = {}) {
    this.#name = checkName(name);
    const names = Object.keys(attributes).sort();
    let tag = `<${name}`;
    for (const a of names) tag += ` ${checkName(a)}="${canonicalAttributeValue(attributes[a]!)}"`;
    this.#startTag = `${tag}>`;
  }

  ele(name: string, attributes?: Record<string, string>): CanonicalElement {
    const child = new CanonicalElement(name, attributes);
    this.#children.push(child);
    return child;
  }

  txt(content: string): this {
    this.#children.push({ text: canonicalText(content) });
    return this;
  }

  /**
   * Appends an element another document holds (the RAC principal in a UL, the SPC machine OBJECT
   * in a RAC), rendered with canonicalElement; `before` is the index among this element's children.
   */
  importCanonical(canonical: CanonicalFragment, before?: number): this {
    const node = { text: canonical.xml };
    if (before === undefined) this.#children.push(node);
    else this.#children.splice(before, 0, node);
    return this;
  }

  toString(): string {
    const out: string[] = [];
    this.#write(out);
    return out.join('');
  }

  #write(out: string[]): void {
    out.push(this.#startTag);
    for (const c of this.#children) {
      if (c instanceof CanonicalElement) c.#write(out);
      else out.push(c.text);
    }
    out.push(`</${this.#name}>`);
  }
}

/** A document root; `end()` gives the canonical text (the root element only, nothing around it). */
export class CanonicalDocument {
  #root: CanonicalElement | undefined;

  ele(name: string, attributes?: Record<string, string>): CanonicalElement {
    if (this.#root) throw new RmsError('InvalidInput', 'a document has one root element');
    this.#root = new CanonicalElement(name, attributes);
    return this.#root;
  }

  end(): string {
    if (!this.#root) throw new RmsError('InvalidInput', 'the document has no root element');
    return this.#root.toString();
  }
}

/** The exc-c14n form of an element copied from another document; made only by canonicalElement. */
export interface CanonicalFragment {
  readonly xml: string;
}

/**
 * The exc-c14n rendering of `el` as it appears inside one of our namespace-free documents. Every
 * ancestor it gets there (XrML, BODY, …) is in no namespace and declares none, so the rendering of
 * the subtree inside the document equals its rendering as the apex of its own node-set: xml-crypto's
 * canonicaliser (the one relying parties' verifiers match) renders it once, namespaces and all.
 */
export function canonicalElement(el: Element): CanonicalFragment {
  const xml = new ExclusiveCanonicalization().process(el, { ancestorNamespaces: [], defaultNs: '' }).toString();
  return { xml };
}
