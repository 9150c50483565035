import { randomBytes } from 'node:crypto';
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { MAX_XML_DEPTH } from './parse-xml-securely';

/**
 * The elements whose XrML child is a document of its own: the members of every ArrayOfXmlNode
 * (`<Certificate>`) and the licences EditIssuanceLicense and AcquireIssuanceLicense carry.
 */
const HOLDERS = new Set(['Certificate', 'UnsignedIssuanceLicense', 'SignedIssuanceLicense']);

/**
 * Names the placeholder left where a document was lifted out. The suffix is random per process,
 * so no request can forge a placeholder pointing at a document it did not carry in that place.
 */
const MARKER = `openrms-lifted-${randomBytes(8).toString('hex')}`;

export interface LiftedEnvelope {
  /** The request text with each lifted XrML element replaced by an empty placeholder element. */
  skeleton: string;
  /** The lifted documents, in document order, each exactly as received (less a root `xmlns=""`). */
  documents: string[];
}

/** The lifted documents of each parsed skeleton. */
const liftedByDocument = new WeakMap<Document, readonly string[]>();

/** Ties the documents lifted out of a request to the DOM parsed from its skeleton. */
export function attachLiftedDocuments(document: Document, documents: readonly string[]): void {
  liftedByDocument.set(document, documents);
}

/**
 * The exact text of the document whose placeholder `el` is (`<XrML xmlns="" MARKER="i"/>`, in no
 * namespace like the original), or undefined for any other element.
 */
export function liftedDocumentOf(el: Element): string | undefined {
  if (!el.hasAttribute(MARKER) || !el.ownerDocument) return undefined;
  const i = Number(el.getAttribute(MARKER));
  return Number.isSafeInteger(i) ? liftedByDocument.get(el.ownerDocument)?.[i] : undefined;
}

class NotLifted extends Error {}

/**
 * One streaming pass (saxes, no DOM) over a request that finds the exact text of every XrML
 * document a holder element carries, so that a certificate is handed on as the bytes the client
 * sent (its digest keys the verified-document cache) and is parsed, if at all, only once, by the
 * use-case that verifies it. The rest of the envelope, with a small placeholder where each document
 * was, is what the SOAP layer parses into a DOM.
 *
 * A document is lifted only when its text stands alone with the same meaning: an XrML element in
 * no namespace, directly inside a holder (and not inside ApplicationData), using no namespace
 * prefix declared outside itself. The
 * root's `xmlns=""` (which only undoes the envelope's default namespace) is dropped, as
 * certificateNodes always did. Anything else stays in the skeleton and takes the DOM path.
 *
 * Answers undefined when the text is anything but plain well-formed XML with namespaces (saxes
 * refuses it, a DTD, a processing instruction, nesting beyond MAX_XML_DEPTH): the caller then parses
 * the whole text as before, so every refusal keeps the secure parser's answer and message.
 */
export function liftXrmlDocuments(text: string): LiftedEnvelope | undefined {
  if (!text.includes('XrML')) return undefined;
  const parser = new SaxesParser({ xmlns: true, position: true });
  const cuts: { start: number; startTagEnd: number; end: number }[] = [];
  const names: string[] = [];
  // The document being lifted: where it starts, its depth, the prefixes declared inside it.
  let current: Lifting | undefined;
  // ApplicationData is the client's own XML, counted against its size limit as it stands: never lifted from.
  let inApplicationData = 0;

  parser.on('doctype', refuse);
  parser.on('processinginstruction', refuse);
  parser.on('opentag', (tag) => {
    const depth = names.length + 1;
    if (depth > MAX_XML_DEPTH) throw new NotLifted();
    const parent = names[names.length - 1];
    names.push(tag.local);
    if (tag.local === 'ApplicationData') inApplicationData++;
    if (current) {
      enter(current, tag);
    } else if (tag.local === 'XrML' && tag.uri === '' && parent !== undefined && HOLDERS.has(parent) && inApplicationData === 0) {
      const startTagEnd = parser.position;
      // A start tag holds no '<' (attribute values cannot), so the last one before its end is its start.
      current = { start: text.lastIndexOf('<', startTagEnd - 1), startTagEnd, depth, declared: [], inScope: new Map(), standalone: true };
      enter(current, tag);
    }
  });
  parser.on('closetag', () => {
    const depth = names.length;
    if (names.pop() === 'ApplicationData') inApplicationData--;
    if (!current) return;
    leave(current);
    if (depth !== current.depth) return;
    if (current.standalone) cuts.push({ start: current.start, startTagEnd: current.startTagEnd, end: parser.position });
    current = undefined;
  });

  try {
    parser.write(text).close();
  } catch {
    return undefined;
  }
  if (cuts.length === 0) return undefined;

  const pieces: string[] = [];
  const documents: string[] = [];
  let at = 0;
  cuts.forEach((c, i) => {
    pieces.push(text.slice(at, c.start), `<XrML xmlns="" ${MARKER}="${i}"/>`);
    documents.push(withoutEmptyDefaultNamespace(text.slice(c.start, c.startTagEnd)) + text.slice(c.startTagEnd, c.end));
    at = c.end;
  });
  pieces.push(text.slice(at));
  return { skeleton: pieces.join(''), documents };
}

function refuse(): never {
  throw new NotLifted();
}

interface Lifting {
  start: number;
  startTagEnd: number;
  depth: number;
  /** Per open element of the document, the prefixes it declares (undefined: none). */
  declared: (string[] | undefined)[];
  /** How many open elements of the document declare each prefix. */
  inScope: Map<string, number>;
  /** Every prefix used so far is declared inside the document. */
  standalone: boolean;
}

/** An element of the document opens: its declarations come into scope, its prefixes must be bound by them. */
function enter(l: Lifting, tag: SaxesTagNS): void {
  const attributes = tag.attributes;
  let declared: string[] | undefined;
  for (const name in attributes) {
    const a = attributes[name]!;
    if (a.prefix === 'xmlns') {
      (declared ??= []).push(a.local);
      l.inScope.set(a.local, (l.inScope.get(a.local) ?? 0) + 1);
    }
  }
  l.declared.push(declared);
  if (!l.standalone) return;
  if (!boundInside(l, tag.prefix)) l.standalone = false;
  for (const name in attributes) if (!boundInside(l, attributes[name]!.prefix)) l.standalone = false;
}

function leave(l: Lifting): void {
  const declared = l.declared.pop();
  if (declared) for (const p of declared) l.inScope.set(p, l.inScope.get(p)! - 1);
}

function boundInside(l: Lifting, prefix: string): boolean {
  return prefix === '' || prefix === 'xml' || prefix === 'xmlns' || (l.inScope.get(prefix) ?? 0) > 0;
}

// One attribute of a well-formed start tag (saxes has checked it): name, '=', a quoted value.
const ATTRIBUTE = /\s+([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/y;

/** The start tag without an `xmlns=""` attribute; the text is otherwise untouched. */
function withoutEmptyDefaultNamespace(startTag: string): string {
  ATTRIBUTE.lastIndex = startTag.search(/[\s/>]/);
  for (let m = ATTRIBUTE.exec(startTag); m; m = ATTRIBUTE.exec(startTag)) {
    if (m[1] === 'xmlns' && (m[2] ?? m[3]) === '') return startTag.slice(0, m.index) + startTag.slice(ATTRIBUTE.lastIndex);
  }
  return startTag;
}
