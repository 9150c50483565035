import { createHash, verify as rsaVerify, KeyObject, type KeyLike } from 'node:crypto';
import { ExclusiveCanonicalization, SignedXml, createOptionalCallbackFunction, type HashAlgorithm, type SignatureAlgorithm } from 'xml-crypto';
import { RmsError } from '@openrms/domain';
import { parseXrml, toXrmlDocument, type ParseXrmlOptions, type XrmlDocument } from './parse-xrml';
import { parseSecureXml, stripBom } from './parse-secure-xml';
import { DSIG_NS, ENVELOPED_SIGNATURE, EXC_C14N, RSA_SHA256, SHA256_DIGEST } from './xrml-constants';
import { ELEMENT_NODE } from './xrml-dom';
import { strictBase64, type RsaPublicKey } from './xrml-public-key';

/**
 * Verifies the enveloped XML-DSig signature of an XrML document with the key the caller names
 * (the chain's issuer key), and returns a document rebuilt from exactly the bytes that signature
 * covers. Throws RmsError('ChainInvalid') otherwise.
 *
 * Defences, in order: the secure parse (no DTDs, one BODY, at most one ds:Signature, and only as a
 * child of XrML); a fixed signature profile (anything but RSA-SHA256, exc-c14n, one Reference with
 * URI="" and exactly enveloped + exc-c14n transforms, SHA-256 digest is refused, so nothing in the
 * document can steer what is hashed or how); a KeyInfo, if present, is ignored, because the key
 * comes only from the caller; callers then read only the returned, re-parsed signed octets.
 *
 * Because the profile is fixed, verification is direct: the signed octets are the exclusive
 * canonical form of our own parse of the root without its signature (what URI="" + enveloped +
 * exc-c14n produce), hashed once; SignedInfo is canonicalised once and checked with one RSA
 * verification. Nothing is looked up by XPath, cloned or parsed a second time before the signature
 * holds. verifyXrmlSignatureWithXmlCrypto does the same through xml-crypto's general machinery and
 * is the reference the differential tests hold this one to (and xmlsec1 beside both).
 *
 * Comments are not signed (same-document URI dereferencing drops them, in xml-crypto and xmlsec1
 * alike), so adding or removing one keeps the signature valid; since the returned document is built
 * from the comment-free signed octets, a comment can never change what a caller reads.
 */
export function verifyXrmlSignature(
  input: XrmlDocument | string,
  publicKey: RsaPublicKey,
  opts: ParseXrmlOptions = {},
): XrmlDocument {
  const { doc, signature, signedInfo, digestValue, signatureValue } = prepare(input, publicKey, opts);
  const signedOctets = canonicalRootWithoutSignature(doc.root, signature);
  const digest = createHash('sha256').update(signedOctets, 'utf8').digest();
  if (!digest.equals(digestValue)) throw invalid('signed content does not match its digest');
  const canonicalSignedInfo = new ExclusiveCanonicalization().process(signedInfo, {});
  let ok: boolean;
  try {
    ok = rsaVerify('sha256', Buffer.from(canonicalSignedInfo, 'utf8'), publicKey, signatureValue);
  } catch (cause) {
    throw invalid('signature does not verify with the issuer key', cause);
  }
  if (!ok) throw invalid('signature does not verify with the issuer key');
  return reparse(doc, signedOctets, opts);
}

/**
 * The reference implementation: the same input checks and profile, with xml-crypto computing and
 * checking the reference and the signature. Kept for the differential tests (and for comparing
 * costs); production code calls verifyXrmlSignature.
 */
export function verifyXrmlSignatureWithXmlCrypto(
  input: XrmlDocument | string,
  publicKey: RsaPublicKey,
  opts: ParseXrmlOptions = {},
): XrmlDocument {
  const { doc, signature } = prepare(input, publicKey, opts);
  const sx = new SignedXml({ publicCert: publicKey, getCertFromKeyInfo: () => null });
  // Only our profile's algorithms exist on this instance, and the verifier is bound to the caller's
  // key: whatever xml-crypto's key lookup returns, this is the key that decides.
  sx.SignatureAlgorithms = { [RSA_SHA256]: boundRsaSha256Verifier(publicKey) };
  sx.HashAlgorithms = { [SHA256_DIGEST]: Sha256Digest };

  let ok: boolean;
  try {
    sx.loadSignature(signature);
    ok = sx.checkSignature(stripBom(doc.xml));
  } catch (cause) {
    throw invalid('signature does not verify with the issuer key', cause);
  }
  if (!ok) throw invalid('signed content does not match its digest');

  const signedReferences = sx.getSignedReferences();
  const signedOctets = signedReferences[0];
  if (signedReferences.length !== 1 || signedOctets === undefined) throw invalid('expected exactly one signed reference');
  if (signedOctets !== canonicalRootWithoutSignature(doc.root, signature)) {
    throw invalid('signed content is not the whole XrML document');
  }
  return reparse(doc, signedOctets, opts);
}

interface Prepared {
  doc: XrmlDocument;
  signature: Element;
  signedInfo: Element;
  /** DigestValue, decoded (strict base64). */
  digestValue: Buffer;
  /** SignatureValue, decoded (strict base64). */
  signatureValue: Buffer;
}

/** What both implementations check before any cryptography: the key, the parse, the profile. */
function prepare(input: XrmlDocument | string, publicKey: RsaPublicKey, opts: ParseXrmlOptions): Prepared {
  if (!(publicKey instanceof KeyObject) || publicKey.type !== 'public' || publicKey.asymmetricKeyType !== 'rsa') {
    throw new RmsError('InvalidInput', 'verification needs an RSA public KeyObject');
  }
  // A verified document no longer holds its signature; verify its original text again.
  const doc = typeof input === 'string' ? parseXrml(input, opts) : input.verified ? parseXrml(input.xml, opts) : input;

  const signature = doc.dsigSignature;
  if (!signature) throw invalid('document has no ds:Signature');
  if (lastElementChild(doc.root) !== signature) throw invalid('ds:Signature is not the last child of XrML');
  return { doc, signature, ...checkSignatureProfile(signature) };
}

/** The signed octets, parsed again: callers read only what the signature covers. */
function reparse(doc: XrmlDocument, signedOctets: string, opts: ParseXrmlOptions): XrmlDocument {
  let reparsed;
  try {
    reparsed = parseSecureXml(signedOctets, opts);
  } catch (cause) {
    throw invalid('signed content does not re-parse', cause);
  }
  return toXrmlDocument(doc.xml, reparsed.document, reparsed.root, reparsed.dsigSignatures, true);
}

/** The one signature shape we write; every element must be exactly where xmldsig puts it. */
function checkSignatureProfile(signature: Element): { signedInfo: Element; digestValue: Buffer; signatureValue: Buffer } {
  const children = dsChildren(signature);
  const [signedInfo, signatureValue, ...rest] = children;
  if (!signedInfo || signedInfo.localName !== 'SignedInfo') throw invalid('first child of Signature must be SignedInfo');
  if (!signatureValue || signatureValue.localName !== 'SignatureValue') throw invalid('SignedInfo must be followed by SignatureValue');
  // KeyInfo is tolerated only so documents from other signers still parse; it is never consulted.
  if (rest.length > 1 || (rest[0] && rest[0].localName !== 'KeyInfo')) throw invalid('unexpected elements in Signature');

  const [c14n, method, reference, ...more] = dsChildren(signedInfo);
  if (more.length > 0 || !c14n || !method || !reference) throw invalid('SignedInfo must hold exactly one Reference');
  expectAlgorithm(c14n, 'CanonicalizationMethod', EXC_C14N);
  expectAlgorithm(method, 'SignatureMethod', RSA_SHA256);
  if (reference.localName !== 'Reference') throw invalid('SignedInfo must hold exactly one Reference');
  if (!reference.hasAttribute('URI') || reference.getAttribute('URI') !== '') {
    throw invalid('Reference must have URI="" (the whole document)');
  }

  const [transforms, digestMethod, digestValue, ...extra] = dsChildren(reference);
  if (extra.length > 0 || !transforms || !digestMethod || !digestValue || transforms.localName !== 'Transforms') {
    throw invalid('Reference must hold Transforms, DigestMethod and DigestValue');
  }
  const transformList = dsChildren(transforms);
  const [t1, t2] = transformList;
  if (transformList.length !== 2 || !t1 || !t2) throw invalid('Reference must have exactly two transforms');
  expectAlgorithm(t1, 'Transform', ENVELOPED_SIGNATURE);
  expectAlgorithm(t2, 'Transform', EXC_C14N);
  expectAlgorithm(digestMethod, 'DigestMethod', SHA256_DIGEST);
  if (digestValue.localName !== 'DigestValue') throw invalid('Reference lacks DigestValue');
  return { signedInfo, digestValue: base64Value(digestValue), signatureValue: base64Value(signatureValue) };
}

/**
 * A DigestValue or SignatureValue: one text node of strict base64 (whitespace allowed). A comment,
 * CDATA section or element inside would let two readers of the same element see different values
 * (xml-crypto reads the first text node of SignatureValue, the whole text of DigestValue), so the
 * profile has none.
 */
function base64Value(el: Element): Buffer {
  const text = el.firstChild;
  if (!text || text.nodeType !== 3 || text.nextSibling) throw invalid(`${el.localName} must hold base64 text only`);
  try {
    return strictBase64((text as Text).data, el.localName);
  } catch {
    throw invalid(`${el.localName} is not valid base64`);
  }
}

function expectAlgorithm(el: Element, localName: string, algorithm: string): void {
  if (el.localName !== localName) throw invalid(`expected ${localName}, found ${el.localName}`);
  if (el.getAttribute('Algorithm') !== algorithm) throw invalid(`${localName} must be ${algorithm}`);
  // No parameters (InclusiveNamespaces, HMACOutputLength, XPath): none belongs to our profile.
  if (anyElementChild(el)) throw invalid(`${localName} must not carry parameters`);
}

/** Element children; every one must be in the xmldsig namespace. */
function dsChildren(parent: Element): Element[] {
  const out: Element[] = [];
  for (let n = parent.firstChild; n; n = n.nextSibling) {
    if (n.nodeType !== ELEMENT_NODE) continue;
    const el = n as Element;
    if (el.namespaceURI !== DSIG_NS) throw invalid(`foreign element <${el.nodeName}> inside ${parent.localName}`);
    out.push(el);
  }
  return out;
}

function anyElementChild(el: Element): boolean {
  for (let n = el.firstChild; n; n = n.nextSibling) if (n.nodeType === ELEMENT_NODE) return true;
  return false;
}

function lastElementChild(el: Element): Element | undefined {
  for (let n = el.lastChild; n; n = n.previousSibling) if (n.nodeType === ELEMENT_NODE) return n as Element;
  return undefined;
}

/**
 * What the enveloped + exc-c14n transforms produce from our own parse. The signature is detached
 * for the duration instead of working on a clone: cloning is the single most expensive step of
 * verification in xmldom, and this runs synchronously, so nothing else sees the gap. Comments are
 * dropped by the canonicaliser (exc-c14n without comments), as URI="" requires.
 */
function canonicalRootWithoutSignature(root: Element, signature: Element): string {
  const next = signature.nextSibling;
  root.removeChild(signature);
  try {
    return new ExclusiveCanonicalization().process(root, {});
  } finally {
    root.insertBefore(signature, next);
  }
}

function boundRsaSha256Verifier(publicKey: KeyObject): new () => SignatureAlgorithm {
  return class BoundRsaSha256 implements SignatureAlgorithm {
    getSignature = createOptionalCallbackFunction((): string => {
      throw new Error('verification instance cannot sign');
    });
    verifySignature = createOptionalCallbackFunction((material: string, _ignoredKey: KeyLike, signatureValue: string): boolean => {
      const sig = strictBase64(signatureValue, 'SignatureValue');
      return rsaVerify('sha256', Buffer.from(material, 'utf8'), publicKey, sig);
    });
    getAlgorithmName = () => RSA_SHA256;
  };
}

class Sha256Digest implements HashAlgorithm {
  getAlgorithmName = () => SHA256_DIGEST;
  getHash = (xml: string) => createHash('sha256').update(xml, 'utf8').digest('base64');
}

function invalid(reason: string, cause?: unknown): RmsError {
  return new RmsError('ChainInvalid', reason, cause === undefined ? undefined : { cause });
}
