import { DOMParser } from '@xmldom/xmldom';
import { RmsError } from '@openrms/domain';
import { DEFAULT_MAX_XRML_BYTES, DEFAULT_MAX_XRML_DEPTH, DSIG_NS } from './xrml-constants';

export interface ParseXmlOptions {
  /** UTF-8 size cap; default 1 MiB. */
  maxBytes?: number;
  /** Element nesting cap; default 64. */
  maxDepth?: number;
}

export interface SecureXmlParse {
  document: Document;
  root: Element;
  /** Every `ds:Signature` element, in document order. */
  dsigSignatures: Element[];
}

/**
 * Attribute names treated as XML IDs. XML-DSig resolves `URI="#x"` against these, so two elements
 * sharing a value is the classic set-up for signature wrapping.
 */
const ID_ATTRIBUTE_NAMES = new Set(['Id', 'ID', 'id']);

// Anything XML 1.0 cannot carry, even as a character reference.
const INVALID_XML_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const NODE = {
  ELEMENT: 1,
  TEXT: 3,
  CDATA: 4,
  ENTITY_REFERENCE: 5,
  ENTITY: 6,
  PROCESSING_INSTRUCTION: 7,
  COMMENT: 8,
  DOCUMENT_TYPE: 10,
  NOTATION: 12,
} as const;

export function stripBom(xml: string): string {
  return xml.charCodeAt(0) === 0xfeff ? xml.slice(1) : xml;
}

/**
 * Parses untrusted XML with xmldom, refusing everything a certificate never needs and an attacker
 * might use: DTDs and entity declarations (entity expansion, external entities), processing
 * instructions, unbound prefixes, characters XML forbids, duplicate ID values, extreme nesting, and
 * anything xmldom itself only warns about (it is lenient by default and would repair bad markup,
 * so a signer and a verifier could disagree about what the document says).
 */
export function parseSecureXml(input: string, opts: ParseXmlOptions = {}): SecureXmlParse {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_XRML_BYTES;
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_XRML_DEPTH;
  if (typeof input !== 'string') throw new RmsError('MalformedRequest', 'XML input must be a string');
  // The cheap length test first so a huge string is refused without a UTF-8 scan of it.
  if (input.length > maxBytes || Buffer.byteLength(input, 'utf8') > maxBytes) {
    throw new RmsError('RequestTooLarge', `XML document exceeds ${maxBytes} bytes`);
  }
  const xml = stripBom(input);
  // Refused on the raw text, before any parser sees it: a DTD is never legitimate here and no
  // parser bug or setting can then expand what was never parsed. `<!` is otherwise only the start
  // of a comment or CDATA section.
  if (/<!DOCTYPE/i.test(xml) || /<!ENTITY/i.test(xml) || /<!(?!--|\[CDATA\[)/.test(xml)) {
    throw new RmsError('MalformedRequest', 'XML document contains a DTD or declaration');
  }
  if (INVALID_XML_CHARS.test(xml)) throw new RmsError('MalformedRequest', 'XML document contains characters XML does not allow');

  const problems: string[] = [];
  const parser = new DOMParser({
    errorHandler: {
      warning: (m: unknown) => problems.push(String(m)),
      error: (m: unknown) => problems.push(String(m)),
      fatalError: (m: unknown) => problems.push(String(m)),
    },
  });
  let document: Document;
  try {
    document = parser.parseFromString(xml, 'text/xml');
  } catch (cause) {
    throw new RmsError('MalformedRequest', 'XML document is not well-formed', { cause });
  }
  if (problems.length > 0) {
    throw new RmsError('MalformedRequest', `XML document is not well-formed: ${firstLine(problems[0] ?? '')}`);
  }
  const root = document?.documentElement;
  if (!root) throw new RmsError('MalformedRequest', 'XML document has no root element');

  checkDocumentChildren(document, xml);
  const dsigSignatures = checkTree(root, maxDepth);
  return { document, root, dsigSignatures };
}

function checkDocumentChildren(document: Document, xml: string): void {
  let elements = 0;
  let index = 0;
  for (let n = document.firstChild; n; n = n.nextSibling, index++) {
    switch (n.nodeType) {
      case NODE.ELEMENT:
        elements++;
        break;
      case NODE.COMMENT:
        break;
      case NODE.TEXT:
        // xmldom keeps text outside the root instead of failing; only whitespace is legal there.
        if (!/^[ \t\r\n]*$/.test((n as Text).data)) throw new RmsError('MalformedRequest', 'text outside the root element');
        break;
      case NODE.PROCESSING_INSTRUCTION:
        // xmldom surfaces the XML declaration as a PI named "xml"; it is legal only at the very start.
        if (!(index === 0 && (n as ProcessingInstruction).target === 'xml' && xml.startsWith('<?xml'))) {
          throw new RmsError('MalformedRequest', 'XML document contains a processing instruction');
        }
        break;
      default:
        throw new RmsError('MalformedRequest', `XML document contains a forbidden node (type ${n.nodeType})`);
    }
  }
  if (elements !== 1) throw new RmsError('MalformedRequest', 'XML document must have exactly one root element');
}

/** Iterative walk (no recursion to exhaust) over the whole tree. */
function checkTree(root: Element, maxDepth: number): Element[] {
  const ids = new Set<string>();
  const signatures: Element[] = [];
  const stack: Array<{ node: Node; depth: number }> = [{ node: root, depth: 1 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    switch (node.nodeType) {
      case NODE.ELEMENT: {
        const el = node as Element;
        if (depth > maxDepth) throw new RmsError('MalformedRequest', `XML nesting deeper than ${maxDepth}`);
        if (el.prefix && !el.namespaceURI) throw new RmsError('MalformedRequest', `unbound namespace prefix on <${el.nodeName}>`);
        if (el.localName === 'Signature' && el.namespaceURI === DSIG_NS) signatures.push(el);
        checkAttributes(el, ids);
        for (let c = el.lastChild; c; c = c.previousSibling) stack.push({ node: c, depth: depth + 1 });
        break;
      }
      case NODE.TEXT:
      case NODE.CDATA:
        // Character references (&#1;) get past the raw-text check; the decoded data does not.
        if (INVALID_XML_CHARS.test((node as CharacterData).data)) {
          throw new RmsError('MalformedRequest', 'XML text contains characters XML does not allow');
        }
        break;
      case NODE.COMMENT:
        // Comments are legal and not signed (URI="" dereferencing drops them), so they can never
        // change what a verified document says; see verifyXrmlSignature.
        break;
      case NODE.PROCESSING_INSTRUCTION:
        throw new RmsError('MalformedRequest', 'XML document contains a processing instruction');
      case NODE.ENTITY_REFERENCE:
      case NODE.ENTITY:
      case NODE.DOCUMENT_TYPE:
      case NODE.NOTATION:
        throw new RmsError('MalformedRequest', 'XML document contains entity or DTD nodes');
      default:
        throw new RmsError('MalformedRequest', `XML document contains a forbidden node (type ${node.nodeType})`);
    }
  }
  return signatures;
}

function checkAttributes(el: Element, ids: Set<string>): void {
  const attrs = el.attributes;
  for (let i = 0; i < attrs.length; i++) {
    const a = attrs.item(i);
    if (!a) continue;
    if (a.prefix && a.prefix !== 'xmlns' && !a.namespaceURI) {
      throw new RmsError('MalformedRequest', `unbound namespace prefix on attribute ${a.name}`);
    }
    if (INVALID_XML_CHARS.test(a.value)) throw new RmsError('MalformedRequest', 'XML attribute contains characters XML does not allow');
    const local = a.localName ?? a.name;
    if (!ID_ATTRIBUTE_NAMES.has(local) || isXrmlCategoryId(el, a)) continue;
    if (ids.has(a.value)) throw new RmsError('MalformedRequest', `duplicate ID value ${JSON.stringify(a.value.slice(0, 40))}`);
    ids.add(a.value);
  }
}

/**
 * XrML's `AUTHENTICATEDDATA/@id` is a category tag, not an identifier: an ERD legitimately has
 * several `id="APPSPECIFIC"` entries. It is exempt from the uniqueness rule; that is safe because our
 * signatures only ever reference the whole document (URI=""), never an ID.
 */
function isXrmlCategoryId(el: Element, a: Attr): boolean {
  return !el.namespaceURI && el.localName === 'AUTHENTICATEDDATA' && a.name === 'id';
}

function firstLine(s: string): string {
  return (s.split('\n')[0] ?? '').replace(/^\[xmldom \w+\]\s*/, '').slice(0, 200);
}
