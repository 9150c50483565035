import { DOMParser } from '@xmldom/xmldom';
import { RmsError } from '@openrms/domain';

/**
 * xmldom 0.8 drops an end tag that does not match the open element without reporting it, and closes
 * whatever is still open at the end of input. Its DOM builder (exported, if undocumented) tracks the
 * open element, so building through our own instance lets us see a document that never closed.
 */
interface DomBuilder {
  doc?: Document;
  currentElement?: Node | null;
}
const { __DOMHandler: DOMHandler } = require('@xmldom/xmldom/lib/dom-parser') as { __DOMHandler?: new () => DomBuilder };
if (typeof DOMHandler !== 'function') throw new Error('@xmldom/xmldom no longer exports its DOM builder; revisit parse-xml-securely');

/**
 * XrML sits about 15 levels below the envelope; 256 leaves ample room while keeping the recursive
 * walkers (ours and xmldom's XMLSerializer) far from the stack limit.
 */
export const MAX_XML_DEPTH = 256;

const ELEMENT = 1;
const ATTRIBUTE = 2;
const TEXT = 3;
const CDATA = 4;
const PROCESSING_INSTRUCTION = 7;
const COMMENT = 8;
const DOCUMENT_TYPE = 10;

// Characters XML 1.0 forbids even as character references; xmldom lets `&#0;` and raw C0 controls through.
const INVALID_XML_CHAR = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const XML_DECLARATION = /^<\?xml(\s[^?]*)?\?>/;

function malformed(message: string): RmsError {
  return new RmsError('MalformedRequest', message);
}

/**
 * Parses untrusted XML text into a DOM, refusing everything a signed-XML server must not process:
 * DTDs and entity declarations (XXE, billion laughs) are rejected on the raw text before any parser
 * sees them, processing instructions other than the XML declaration are rejected, and every xmldom
 * warning or error is fatal, because xmldom otherwise repairs broken documents silently. xmldom is
 * also lenient about a few well-formedness rules (text outside the root, undeclared prefixes, invalid
 * characters), so the tree is checked once more after parsing.
 */
export function parseXmlSecurely(text: string): Document {
  if (/<!DOCTYPE/i.test(text)) throw malformed('DTDs (DOCTYPE declarations) are not allowed');
  if (/<!ENTITY/i.test(text)) throw malformed('Entity declarations are not allowed');

  const declaration = XML_DECLARATION.exec(text);
  if (declaration) checkDeclaration(declaration[1] ?? '');
  const afterDeclaration = declaration ? text.slice(declaration[0].length) : text;
  if (!/^\s*</.test(afterDeclaration)) throw malformed('Data at the root level is invalid: expected an element');

  let firstProblem: string | undefined;
  const fail = (level: string) => (msg: unknown) => {
    firstProblem ??= cleanXmldomMessage(String(msg)) || level;
    throw malformed(firstProblem);
  };
  const builder = new DOMHandler!();
  let doc: Document;
  try {
    doc = new DOMParser({
      locator: {},
      domBuilder: builder,
      errorHandler: { warning: fail('warning'), error: fail('error'), fatalError: fail('fatal error') },
    } as ConstructorParameters<typeof DOMParser>[0] & { domBuilder: DomBuilder }).parseFromString(text, 'text/xml');
  } catch (e) {
    // xmldom re-wraps what our handler throws, so report the first problem it found, not the wrapper.
    throw malformed(firstProblem ?? (e instanceof Error ? cleanXmldomMessage(e.message) : 'unreadable XML'));
  }
  // After the root's end tag the builder's current node is the document itself.
  if (builder.currentElement && builder.currentElement.nodeType === ELEMENT) {
    throw malformed(`The element <${builder.currentElement.nodeName}> is not closed by a matching end tag`);
  }
  checkTree(doc, declaration !== null);
  return doc;
}

function checkDeclaration(pseudoAttributes: string): void {
  const version = /\bversion\s*=\s*(["'])([^"']*)\1/.exec(pseudoAttributes);
  if (version && version[2] !== '1.0') throw malformed(`XML version ${version[2]} is not supported`);
  const encoding = /\bencoding\s*=\s*(["'])([^"']*)\1/.exec(pseudoAttributes);
  if (encoding && !/^utf-8$/i.test(encoding[2] ?? '')) {
    throw malformed(`The XML declaration names encoding "${encoding[2]}"; only UTF-8 is accepted`);
  }
}

function cleanXmldomMessage(msg: string): string {
  const location = /@#\[line:(\d+),col:(\d+)\]/.exec(msg);
  const text = msg
    .replace(/\[xmldom [a-zA-Z]+\]\s*/g, '')
    .replace(/element parse error:\s*(Error:\s*)?/g, '')
    .replace(/\n?@#\[line:[^\]]*\]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  return location ? `${text} (line ${location[1]}, position ${location[2]})` : text;
}

function checkTree(doc: Document, hasDeclaration: boolean): void {
  let elements = 0;
  for (let n = doc.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === ELEMENT) elements++;
    else if (n.nodeType === PROCESSING_INSTRUCTION) {
      // xmldom turns the XML declaration into a PI node; it is legal only as the very first bytes.
      const isDeclaration = n === doc.firstChild && hasDeclaration && /^xml$/i.test(n.nodeName);
      if (!isDeclaration) throw malformed('Processing instructions are not allowed');
    } else if (n.nodeType === TEXT) {
      if (/\S/.test(n.nodeValue ?? '')) throw malformed('Data at the root level is invalid: text outside the root element');
    } else if (n.nodeType === DOCUMENT_TYPE) throw malformed('DTDs (DOCTYPE declarations) are not allowed');
    else if (n.nodeType !== COMMENT) throw malformed(`Unexpected node of type ${n.nodeType} at the root level`);
  }
  if (elements !== 1) throw malformed(`An XML document must have exactly one root element, found ${elements}`);
  const root = doc.documentElement;
  if (root) checkSubtree(root);
}

/** Iterative so that a hostile document cannot exhaust the stack before the depth check trips. */
function checkSubtree(root: Element): void {
  const stack: Array<{ node: Node; depth: number }> = [{ node: root, depth: 1 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    switch (node.nodeType) {
      case ELEMENT: {
        if (depth > MAX_XML_DEPTH) throw malformed(`XML nesting is deeper than ${MAX_XML_DEPTH} levels`);
        const el = node as Element;
        if (el.prefix && !el.namespaceURI) throw malformed(`Namespace prefix "${el.prefix}" is not declared`);
        const attrs = el.attributes;
        for (let i = 0; i < attrs.length; i++) {
          const a = attrs.item(i);
          if (!a) continue;
          if (a.prefix && a.prefix !== 'xmlns' && !a.namespaceURI) {
            throw malformed(`Namespace prefix "${a.prefix}" is not declared`);
          }
          checkChars(a.value);
        }
        for (let c = el.lastChild; c; c = c.previousSibling) stack.push({ node: c, depth: depth + 1 });
        break;
      }
      case TEXT:
      case CDATA:
      case COMMENT:
      case ATTRIBUTE:
        checkChars(node.nodeValue ?? '');
        break;
      case PROCESSING_INSTRUCTION:
        throw malformed('Processing instructions are not allowed');
      default:
        throw malformed(`Unexpected XML node of type ${node.nodeType}`);
    }
  }
}

function checkChars(value: string): void {
  if (INVALID_XML_CHAR.test(value)) throw malformed('The document contains a character that XML does not allow');
}
