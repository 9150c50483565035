import { XMLSerializer } from '@xmldom/xmldom';
import { RmsError } from '@openrms/domain';
import { liftedDocumentOf } from './lift-xrml-documents';
import { NS } from './namespaces';

/**
 * Child elements of `el` with the given local name. Because every schema here is
 * elementFormDefault="qualified", children live in the namespace of the request wrapper, which is
 * the default for `ns`; pass `null` for unqualified content.
 */
export function childElements(el: Element, localName: string, ns: string | null = el.namespaceURI): Element[] {
  const out: Element[] = [];
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType !== 1) continue;
    const child = n as Element;
    // xmldom reports "no namespace" as undefined, null or '' depending on how it came about.
    if (child.localName === localName && (child.namespaceURI || null) === (ns || null)) out.push(child);
  }
  return out;
}

/** The first child element with that name, or undefined. */
export function childElement(el: Element, localName: string, ns: string | null = el.namespaceURI): Element | undefined {
  return childElements(el, localName, ns)[0];
}

/** True when the element carries xsi:nil="true" (how .NET sends a null member). */
export function isNil(el: Element): boolean {
  const v = el.getAttributeNS(NS.xsi, 'nil');
  return v === 'true' || v === '1';
}

/** Text of the first such child; undefined when it is absent or nil (so callers see "missing" once). */
export function childText(el: Element, localName: string, ns: string | null = el.namespaceURI): string | undefined {
  const child = childElement(el, localName, ns);
  if (!child || isNil(child)) return undefined;
  // An xs:string holds text: markup inside it is not "the text of its descendants" (.NET refuses it too).
  for (let n = child.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1) throw new RmsError('MalformedRequest', `${localName} must hold text, not elements`);
  }
  return child.textContent ?? '';
}

/**
 * The XrML documents of an ArrayOfXmlNode (e.g. LicenseeCerts), in order, each a standalone
 * no-namespace document string. Signatures are later verified against exactly this text, so it is
 * the text as received (attribute order, whitespace, inner namespace declarations) except for the
 * `xmlns=""` on its root: that declaration only undoes the envelope's default namespace and is
 * meaningless, and absent from what was signed, once the document stands alone. Documents the
 * request parser lifted out (liftXrmlDocuments, the usual case) are that text itself; any other is
 * serialized from the DOM.
 */
export function certificateNodes(arrayEl: Element | null | undefined): string[] {
  if (!arrayEl || isNil(arrayEl)) return [];
  const serializer = new XMLSerializer();
  return childElements(arrayEl, 'Certificate').map((cert, index) => standaloneXrml(cert, `${arrayEl.localName} certificate ${index}`, serializer));
}

/**
 * The one XrML element inside a mixed `<s:any>` member (a `<Certificate>`, an
 * `UnsignedIssuanceLicense`), serialized as a standalone no-namespace document.
 */
export function standaloneXrml(holder: Element, what: string, serializer = new XMLSerializer()): string {
  const xrml = soleElementChild(holder, what);
  if (xrml.namespaceURI) {
    // Most likely a missing xmlns="" under the envelope's default namespace; re-homing it would
    // mean guessing what was signed.
    throw new RmsError('MalformedRequest', `${what} is not in the empty namespace (xmlns="")`);
  }
  const lifted = liftedDocumentOf(xrml);
  if (lifted !== undefined) return lifted;
  // Serialized in place, without a deep clone: the xmlns="" is taken off for the duration (this
  // runs synchronously, nothing else sees the gap) and put back.
  const emptyDefault = xrml.getAttributeNode('xmlns');
  if (emptyDefault && emptyDefault.value === '') xrml.removeAttributeNode(emptyDefault);
  try {
    return serializer.serializeToString(xrml);
  } finally {
    if (emptyDefault && emptyDefault.value === '') xrml.setAttributeNode(emptyDefault);
  }
}

function soleElementChild(el: Element, what: string): Element {
  if (isNil(el)) throw new RmsError('ArgumentNull', `${what} is null`);
  let found: Element | undefined;
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1) {
      if (found) throw new RmsError('Argument', `${what} holds more than one element`);
      found = n as Element;
    } else if ((n.nodeType === 3 || n.nodeType === 4) && /\S/.test(n.nodeValue ?? '')) {
      throw new RmsError('Argument', `${what} holds text instead of an XrML element`);
    }
  }
  if (!found) throw new RmsError('ArgumentNull', `${what} is empty`);
  return found;
}
