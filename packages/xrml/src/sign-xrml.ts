import { createHash, KeyObject, verify } from 'node:crypto';
import { XMLSerializer } from '@xmldom/xmldom';
import { RmsError } from '@openrms/domain';
import { asCanonicalXrml } from './canonical-input';
import { canonicalElement } from './canonical-xml';
import { parseXrml } from './parse-xrml';
import { DSIG_NS, ENVELOPED_SIGNATURE, EXC_C14N, RSA_SHA256, SHA256_DIGEST } from './xrml-constants';
import type { RsaPublicKey } from './xrml-public-key';

/**
 * The only signing capability this package ever sees. `sign` returns an RSASSA-PKCS1-v1_5 SHA-256
 * signature over `data` (the canonical SignedInfo octets). The private key stays with whoever
 * implements it (the keys package, later an HSM), never here.
 */
export interface Signer {
  sign(data: Buffer): Buffer;
}

export interface SignXrmlOptions {
  /**
   * When given, the fresh signature is verified with this key before the document is returned:
   * a signer holding the wrong key, or a faulty one (RSA-CRT faults leak the key), is caught here
   * instead of by a relying party.
   */
  verifyWith?: RsaPublicKey;
}

/*
 * Our one signature profile, written out. The SignedInfo is fixed but for the digest, so its
 * canonical form (what is signed) and the form the document carries are two templates; the latter
 * is byte for byte what xml-crypto wrote when it signed our documents (sign-xrml.test.ts compares).
 */
const SIGNED_INFO_CANONICAL_HEAD =
  `<ds:SignedInfo xmlns:ds="${DSIG_NS}">` +
  `<ds:CanonicalizationMethod Algorithm="${EXC_C14N}"></ds:CanonicalizationMethod>` +
  `<ds:SignatureMethod Algorithm="${RSA_SHA256}"></ds:SignatureMethod>` +
  `<ds:Reference URI=""><ds:Transforms>` +
  `<ds:Transform Algorithm="${ENVELOPED_SIGNATURE}"></ds:Transform>` +
  `<ds:Transform Algorithm="${EXC_C14N}"></ds:Transform>` +
  `</ds:Transforms><ds:DigestMethod Algorithm="${SHA256_DIGEST}"></ds:DigestMethod><ds:DigestValue>`;
const SIGNED_INFO_CANONICAL_TAIL = '</ds:DigestValue></ds:Reference></ds:SignedInfo>';

const SIGNATURE_HEAD =
  `<ds:Signature xmlns:ds="${DSIG_NS}"><ds:SignedInfo>` +
  `<ds:CanonicalizationMethod Algorithm="${EXC_C14N}"/>` +
  `<ds:SignatureMethod Algorithm="${RSA_SHA256}"/>` +
  `<ds:Reference URI=""><ds:Transforms>` +
  `<ds:Transform Algorithm="${ENVELOPED_SIGNATURE}"/>` +
  `<ds:Transform Algorithm="${EXC_C14N}"/>` +
  `</ds:Transforms><ds:DigestMethod Algorithm="${SHA256_DIGEST}"/><ds:DigestValue>`;

const ROOT_CLOSE = '</XrML>';

/**
 * Signs an unsigned XrML document with an enveloped XML-DSig signature over the whole document:
 * RSA-SHA256, exclusive c14n, `Reference URI=""`, SHA-256 digest, `ds:Signature` appended as the
 * last child of `<XrML>`, no KeyInfo (verifiers take the key from the chain, never the document).
 *
 * One canonicalisation, one digest, one RSA signature: a document already in canonical form (the
 * use licences and RACs the builders write, see canonical-input.ts) is digested as it is without
 * any parse; any other goes through the secure parser and is canonicalised once. Either way the
 * result is the document as xmldom serialises it with the signature appended, the form xml-crypto
 * returned before this signer replaced it.
 */
export function signXrml(unsignedXml: string, signer: Signer, opts: SignXrmlOptions = {}): string {
  const xml = typeof unsignedXml === 'string' && unsignedXml.charCodeAt(0) === 0xfeff ? unsignedXml.slice(1) : unsignedXml;
  const fast = asCanonicalXrml(xml);
  let canonical: string;
  let head: string;
  let tail = '';
  if (fast) {
    canonical = xml;
    head = fast.serializedHead;
  } else {
    const parsed = parseXrml(unsignedXml);
    if (parsed.dsigSignature || parsed.nativeSignature) {
      throw new RmsError('InvalidInput', 'document is already signed');
    }
    canonical = canonicalElement(parsed.root).xml;
    ({ head, tail } = serializeAroundRootEnd(parsed.document, parsed.root));
  }

  const digest = createHash('sha256').update(canonical, 'utf8').digest('base64');
  const signedInfo = Buffer.from(SIGNED_INFO_CANONICAL_HEAD + digest + SIGNED_INFO_CANONICAL_TAIL, 'utf8');
  let value: Buffer;
  try {
    value = signer.sign(signedInfo);
  } catch (cause) {
    if (cause instanceof RmsError) throw cause;
    throw new RmsError('UnspecifiedError', 'XML signing failed', { cause });
  }
  if (!Buffer.isBuffer(value) || value.length === 0) throw new RmsError('UnspecifiedError', 'signer returned no signature');
  if (opts.verifyWith !== undefined) checkFreshSignature(signedInfo, value, opts.verifyWith);
  const signature = `${SIGNATURE_HEAD}${digest}</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>${value.toString('base64')}</ds:SignatureValue></ds:Signature>`;
  return `${head}${signature}${ROOT_CLOSE}${tail}`;
}

/**
 * What `verifyWith` is for: the signature over the SignedInfo just built must verify with the key
 * the caller expects. The rest of the document is ours (built and canonicalised here), so the RSA
 * check is the part a wrong or faulty signer can get wrong.
 */
function checkFreshSignature(signedInfo: Buffer, value: Buffer, key: RsaPublicKey): void {
  if (!(key instanceof KeyObject) || key.type !== 'public' || key.asymmetricKeyType !== 'rsa') {
    throw new RmsError('InvalidInput', 'verification needs an RSA public KeyObject');
  }
  if (!verify('sha256', signedInfo, key, value)) throw new RmsError('ChainInvalid', 'the fresh signature does not verify with the expected key');
}

/**
 * The document as xmldom serialises it, split where the signature goes (before the root's end
 * tag). A CR can only be in the DOM through a character reference in text (xmldom writes it raw,
 * where the next parser would read a LF), so it is written as a reference, as xml-crypto did.
 */
function serializeAroundRootEnd(document: Document, root: Element): { head: string; tail: string } {
  const serializer = new XMLSerializer();
  let before = '';
  let after = '';
  let rootText: string | undefined;
  for (let n = document.firstChild; n; n = n.nextSibling) {
    const text = serializer.serializeToString(n);
    if (n === root) rootText = text;
    else if (rootText === undefined) before += text;
    else after += text;
  }
  // parseXrml guarantees an `<XrML>` in no namespace holding a BODY, so it ends with its end tag.
  if (rootText === undefined || !rootText.endsWith(ROOT_CLOSE)) throw new RmsError('UnspecifiedError', 'XML signing failed: unexpected serialisation');
  const cr = (s: string) => s.replace(/\r/g, '&#xD;');
  return { head: cr(before + rootText.slice(0, -ROOT_CLOSE.length)), tail: cr(after) };
}
