import { RmsError } from '@openrms/domain';
import { parseSecureXml, type ParseXmlOptions } from './parse-secure-xml';
import { DSIG_NS } from './xrml-constants';
import { attrOf, childElements, ELEMENT_NODE } from './xrml-dom';

export interface ParseXrmlOptions extends ParseXmlOptions {
  /**
   * Marks the document as one the caller expects to be unsigned (a PL before online publishing,
   * AcquireIssuanceLicense's input). The document readers (readPublishingLicense, readRac, …) refuse
   * a document that carries no signature at all unless it was parsed with this option.
   */
  allowUnsigned?: boolean;
}

/**
 * A parsed XrML document. Read data only from a document with `verified: true` (the result of
 * verifyXrmlSignature): its DOM was rebuilt from exactly the bytes the signature covers.
 */
export interface XrmlDocument {
  /** The input string, unchanged (certificate chains are passed on verbatim). */
  readonly xml: string;
  readonly document: Document;
  /** `<XrML>`, in no namespace. */
  readonly root: Element;
  /** The single `<BODY>`. */
  readonly body: Element;
  /** `BODY/@type`, e.g. `LICENSE` or `Microsoft Rights Label`. */
  readonly bodyType: string | undefined;
  /** The enveloped `ds:Signature`, if any (never present on a verified document). */
  readonly dsigSignature: Element | undefined;
  /** Microsoft's native `<SIGNATURE>` element, if any; OpenRMS neither writes nor verifies it. */
  readonly nativeSignature: Element | undefined;
  readonly verified: boolean;
  /** Parsed with `allowUnsigned`: readers may read it without any signature. */
  readonly allowUnsigned: boolean;
}

/**
 * Secure parse plus the XrML shape rules: root `XrML` in no namespace holding exactly one `BODY`,
 * at most one signature of each kind, and nothing else. A wrapper element or a second BODY beside
 * the signed one is therefore refused before any signature logic runs.
 */
export function parseXrml(xml: string, opts: ParseXrmlOptions = {}): XrmlDocument {
  const parsed = parseSecureXml(xml, opts);
  return toXrmlDocument(xml, parsed.document, parsed.root, parsed.dsigSignatures, false, opts.allowUnsigned === true);
}

export function toXrmlDocument(
  xml: string,
  document: Document,
  root: Element,
  dsigSignatures: Element[],
  verified: boolean,
  allowUnsigned = false,
): XrmlDocument {
  // An explicit xmlns="" (as SOAP stacks write a payload lifted out of an envelope) is still no namespace.
  if (root.localName !== 'XrML' || !!root.namespaceURI || root.prefix) {
    throw new RmsError('MalformedRequest', `root element is <${root.nodeName}>, expected <XrML> in no namespace`);
  }
  if (dsigSignatures.length > 1) throw new RmsError('MalformedRequest', 'XrML document carries more than one ds:Signature');
  // Our signatures are enveloped in the root; one anywhere else is at best noise, at worst bait.
  if (dsigSignatures.some((s) => s.parentNode !== root)) {
    throw new RmsError('MalformedRequest', 'ds:Signature is not a direct child of <XrML>');
  }
  let body: Element | undefined;
  let nativeSignature: Element | undefined;
  let dsigSignature: Element | undefined;
  for (const child of childElements(root)) {
    if (!child.namespaceURI && child.localName === 'BODY' && !body) body = child;
    else if (!child.namespaceURI && child.localName === 'SIGNATURE' && !nativeSignature) nativeSignature = child;
    else if (child.namespaceURI === DSIG_NS && child.localName === 'Signature' && !dsigSignature) dsigSignature = child;
    else throw new RmsError('MalformedRequest', `unexpected or repeated <${child.nodeName}> under <XrML>`);
  }
  if (!body) throw new RmsError('MalformedRequest', 'XrML document has no BODY');
  // The text between the root's children must be whitespace: XrML has no mixed content at this level.
  for (let n = root.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 3 && !/^[ \t\r\n]*$/.test((n as Text).data)) {
      throw new RmsError('MalformedRequest', 'text directly under <XrML>');
    }
    if (n.nodeType !== ELEMENT_NODE && n.nodeType !== 3 && n.nodeType !== 8) {
      throw new RmsError('MalformedRequest', 'unexpected node under <XrML>');
    }
  }
  return { xml, document, root, body, bodyType: attrOf(body, 'type'), dsigSignature, nativeSignature, verified, allowUnsigned };
}
