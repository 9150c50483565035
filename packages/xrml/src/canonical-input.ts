import { DEFAULT_MAX_XRML_BYTES, DEFAULT_MAX_XRML_DEPTH } from './xrml-constants';

/**
 * Recognises an unsigned XrML document that is already in exclusive-c14n form, without building a
 * DOM: the text is then its own canonical form and the signer digests it as it is. This is what the
 * canonical writer (canonical-xml.ts) produces for the use licence and the RAC.
 *
 * The grammar accepted is deliberately narrow, and anything outside it answers undefined so the
 * signer takes its general path (secure parse, canonicalisation), which also produces the errors:
 * - one root `<XrML>` holding exactly one `<BODY>` and nothing else (no text, no SIGNATURE), nothing
 *   before or after the root, no XML declaration;
 * - element and attribute names of ASCII letters, digits, `_ . -`, no colon (no namespaces) and no
 *   `xml…` attribute (no namespace declarations); at most DEFAULT_MAX_XRML_DEPTH levels;
 * - start and end tags for every element (`<A></A>`: canonical form has no empty-element tags),
 *   attributes in strictly ascending name order, separated by one space, values in double quotes;
 * - text escaped exactly as c14n escapes it: `&amp; &lt; &gt; &#xD;` and no other reference, no raw
 *   `>`, CR, NEL or LS (a parser turns them into LF; xmldom does so for U+0085 and U+2028 as
 *   XML 1.1 says); attribute values likewise with `&amp; &lt; &quot;
 *   &#x9; &#xA; &#xD;`, raw `>` allowed, no raw TAB, LF or CR (a parser normalises them to spaces);
 * - only characters XML allows; no repeated ID value (as parseSecureXml refuses);
 * - no comments, processing instructions, CDATA sections or DTDs (no `<!` or `<?` at all).
 *
 * For such a text, parsing and canonicalising give the text back character for character, which is
 * what the differential tests check against xml-crypto.
 *
 * Besides recognising it, the scan writes the text as @xmldom/xmldom would serialise the parsed
 * document (`<A/>` for empty elements, `>` and whitespace references in attribute values written
 * `&gt; &#9; &#10; &#13;`), because that is the form signed documents have always been returned in.
 */
export interface CanonicalXrml {
  /** The document as xmldom serialises it, without the closing `</XrML>` (the signature goes there). */
  readonly serializedHead: string;
}

const NAME = /[A-Za-z_][A-Za-z0-9._-]*/y;
// Runs of characters that need no attention in text and in attribute values. U+0085 and U+2028
// are out too: xmldom reads them as line ends (XML 1.1's rule), so the parsed text would differ.
const PLAIN_TEXT = /[^<&>\r\u0000-\u0008\u000B\u000C\u000E-\u001F\u0085\u2028\uD800-\uDFFF\uFFFE\uFFFF]*/y;
const PLAIN_ATTR = /[^<&>"\t\n\r\u0000-\u0008\u000B\u000C\u000E-\u001F\u0085\u2028\uD800-\uDFFF\uFFFE\uFFFF]*/y;
const TEXT_REFS = ['&amp;', '&lt;', '&gt;', '&#xD;'];
const ATTR_REFS: ReadonlyMap<string, string> = new Map([
  ['&amp;', '&amp;'],
  ['&lt;', '&lt;'],
  ['&quot;', '&quot;'],
  ['&#x9;', '&#9;'],
  ['&#xA;', '&#10;'],
  ['&#xD;', '&#13;'],
]);
const ID_ATTRIBUTE_NAMES = new Set(['Id', 'ID', 'id']);
const ROOT_CLOSE = '</XrML>';

function nameAt(xml: string, at: number): string | undefined {
  NAME.lastIndex = at;
  const m = NAME.exec(xml);
  return m ? m[0] : undefined;
}

/** A surrogate pair at `at` (two code units), or 0 when the unit there is not the start of one. */
function pairAt(xml: string, at: number): number {
  const hi = xml.charCodeAt(at);
  const lo = xml.charCodeAt(at + 1);
  return hi >= 0xd800 && hi <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff ? 2 : 0;
}

/** undefined when `xml` is not in the narrow canonical form above. */
export function asCanonicalXrml(xml: string): CanonicalXrml | undefined {
  if (typeof xml !== 'string' || xml.length > DEFAULT_MAX_XRML_BYTES || !xml.startsWith('<XrML')) return undefined;
  const n = xml.length;
  const out: string[] = [];
  const open: string[] = [];
  const ids = new Set<string>();
  let sawBody = false;
  // The last start tag's '>' is held back: an end tag right after it makes it `/>`.
  let startPending = false;
  let i = 0;
  while (i < n) {
    if (xml.charCodeAt(i) === 0x3c /* < */) {
      if (xml.charCodeAt(i + 1) === 0x2f /* / */) {
        const name = nameAt(xml, i + 2);
        if (name === undefined || name !== open[open.length - 1]) return undefined;
        const end = i + 2 + name.length;
        if (xml.charCodeAt(end) !== 0x3e /* > */) return undefined;
        if (startPending) out.push('/>');
        else out.push(`</${name}>`);
        startPending = false;
        open.pop();
        i = end + 1;
        if (open.length === 0) {
          if (i !== n) return undefined;
          break;
        }
        continue;
      }
      const name = nameAt(xml, i + 1);
      if (name === undefined) return undefined;
      if (open.length === 0 ? i !== 0 || name !== 'XrML' : open.length === 1 && (name !== 'BODY' || sawBody)) return undefined;
      if (open.length === 1) sawBody = true;
      if (open.length + 1 > DEFAULT_MAX_XRML_DEPTH) return undefined;
      if (startPending) out.push('>');
      let tag = `<${name}`;
      let j = i + 1 + name.length;
      let previous = '';
      for (;;) {
        const c = xml.charCodeAt(j);
        if (c === 0x3e /* > */) break;
        if (c !== 0x20) return undefined;
        const attr = nameAt(xml, j + 1);
        if (attr === undefined || /^xml/i.test(attr) || !(attr > previous)) return undefined;
        previous = attr;
        j += 1 + attr.length;
        if (xml.charCodeAt(j) !== 0x3d /* = */ || xml.charCodeAt(j + 1) !== 0x22 /* " */) return undefined;
        j += 2;
        const valueStart = j;
        let value = '';
        for (;;) {
          PLAIN_ATTR.lastIndex = j;
          PLAIN_ATTR.exec(xml);
          value += xml.slice(j, PLAIN_ATTR.lastIndex);
          j = PLAIN_ATTR.lastIndex;
          const d = xml.charCodeAt(j);
          if (d === 0x22 /* " */) break;
          if (d === 0x3e /* > */) {
            value += '&gt;';
            j++;
          } else if (d === 0x26 /* & */) {
            const semi = xml.indexOf(';', j);
            const ref = semi < 0 ? undefined : ATTR_REFS.get(xml.slice(j, semi + 1));
            if (ref === undefined) return undefined;
            value += ref;
            j = semi + 1;
          } else {
            const pair = pairAt(xml, j);
            if (pair === 0) return undefined;
            value += xml.slice(j, j + pair);
            j += pair;
          }
        }
        if (ID_ATTRIBUTE_NAMES.has(attr) && !(name === 'AUTHENTICATEDDATA' && attr === 'id')) {
          const raw = xml.slice(valueStart, j);
          if (ids.has(raw)) return undefined;
          ids.add(raw);
        }
        tag += ` ${attr}="${value}"`;
        j++;
      }
      out.push(tag);
      startPending = true;
      open.push(name);
      i = j + 1;
      continue;
    }
    // Text: never outside the root or directly under it.
    if (open.length < 2) return undefined;
    if (startPending) out.push('>');
    startPending = false;
    const start = i;
    for (;;) {
      PLAIN_TEXT.lastIndex = i;
      PLAIN_TEXT.exec(xml);
      i = PLAIN_TEXT.lastIndex;
      if (i >= n) return undefined;
      const c = xml.charCodeAt(i);
      if (c === 0x3c /* < */) break;
      if (c === 0x26 /* & */) {
        const ref = TEXT_REFS.find((r) => xml.startsWith(r, i));
        if (ref === undefined) return undefined;
        i += ref.length;
        continue;
      }
      const pair = pairAt(xml, i);
      if (pair === 0) return undefined;
      i += pair;
    }
    out.push(xml.slice(start, i));
  }
  if (open.length !== 0 || !sawBody) return undefined;
  const serialized = out.join('');
  if (!serialized.endsWith(ROOT_CLOSE)) return undefined;
  return { serializedHead: serialized.slice(0, -ROOT_CLOSE.length) };
}
