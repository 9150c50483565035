import { RmsError, isRmsError } from '@openrms/domain';
import { XMLSerializer } from '@xmldom/xmldom';
import { parseSecureXml } from './parse-secure-xml';
import { parseXrml, type XrmlDocument } from './parse-xrml';
import { ELEMENT_NODE } from './xrml-dom';

/**
 * Copying an element of one signed document into another (the SPC machine OBJECT into a RAC, the
 * RAC principal into a UL) goes through the DOM, never string concatenation: the source text is
 * parsed with the secure parser, checked, imported as a node, and the target serialised as a whole.
 * The copy is then byte-identical to `serializeElement` of the source element.
 */

const MAX_FRAGMENT_BYTES = 64 * 1024;
const MAX_FRAGMENT_DEPTH = 16;

/** The exact serialisation of an element, as builders write it when they import it elsewhere. */
export function serializeElement(el: Element): string {
  return new XMLSerializer().serializeToString(el);
}

/**
 * Parses a copied element: one element named `localName` in no namespace, no DTD, comment, PI or
 * signature. Any failure is InvalidInput naming `what` (the caller passed a bad field).
 */
export function parseElementFragment(xml: string, localName: string, what: string): Element {
  if (typeof xml !== 'string') throw new RmsError('InvalidInput', `${what} must be a string`);
  let parsed;
  try {
    parsed = parseSecureXml(xml, { maxBytes: MAX_FRAGMENT_BYTES, maxDepth: MAX_FRAGMENT_DEPTH });
  } catch (cause) {
    const reason = isRmsError(cause) ? cause.message : 'not well-formed';
    throw new RmsError('InvalidInput', `${what} is not an acceptable XML element: ${reason}`, { cause });
  }
  const root = parsed.root;
  if (root.localName !== localName || !!root.namespaceURI || root.prefix) {
    throw new RmsError('InvalidInput', `${what} must be a <${localName}> element, got <${root.nodeName}>`);
  }
  if (parsed.dsigSignatures.length > 0) throw new RmsError('InvalidInput', `${what} contains a signature`);
  if (xml.trimStart().startsWith('<?')) throw new RmsError('InvalidInput', `${what} must be a bare element, without an XML declaration`);
  for (let n = parsed.document.firstChild; n; n = n.nextSibling) {
    if (n !== root && n.nodeType !== 3) throw new RmsError('InvalidInput', `${what} must hold only the <${localName}> element`);
  }
  const stack: Node[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node.nodeType === 8) throw new RmsError('InvalidInput', `${what} contains a comment`);
    if (node.nodeType === ELEMENT_NODE) for (let c = node.firstChild; c; c = c.nextSibling) stack.push(c);
  }
  return root;
}

/**
 * Parses our own builder output, lets `edit` import foreign elements into it, and serialises the
 * result. The result is parsed again so a copied element cannot smuggle in what parseXrml refuses
 * (a duplicate ID, say).
 */
export function finishWithImports(xml: string, edit: (doc: XrmlDocument) => void): string {
  const doc = parseXrml(xml);
  edit(doc);
  const out = new XMLSerializer().serializeToString(doc.document);
  try {
    parseXrml(out);
  } catch (cause) {
    const reason = isRmsError(cause) ? cause.message : String(cause);
    throw new RmsError('InvalidInput', `the copied element makes the document invalid: ${reason}`, { cause });
  }
  return out;
}

/** Imports `source` (from another document) and inserts it under `parent`, before `before` or last. */
export function importElement(doc: XrmlDocument, parent: Element, source: Element, before?: Node | null): Element {
  const copy = doc.document.importNode(source, true) as Element;
  parent.insertBefore(copy, before ?? null);
  return copy;
}

/**
 * A bounded memo of what a builder made of a copied element's text (checked and rendered
 * canonically). The result depends on nothing but the text, so a hit is as good as the work; the
 * oldest entry goes when the bound is reached.
 */
export class FragmentCache<T> {
  readonly #entries = new Map<string, T>();
  constructor(private readonly max: number) {}

  get(xml: string, make: () => T): T {
    if (typeof xml !== 'string') return make();
    const hit = this.#entries.get(xml);
    if (hit !== undefined) {
      // Most recently used last, so eviction takes the least recently used.
      this.#entries.delete(xml);
      this.#entries.set(xml, hit);
      return hit;
    }
    const made = make();
    if (xml.length <= MAX_FRAGMENT_BYTES) {
      this.#entries.set(xml, made);
      if (this.#entries.size > this.max) this.#entries.delete(this.#entries.keys().next().value as string);
    }
    return made;
  }
}
