import { SignedXml, createOptionalCallbackFunction, type SignatureAlgorithm } from 'xml-crypto';
import type { BinaryLike, KeyLike } from 'node:crypto';
import { RmsError } from '@openrms/domain';
import { parseXrml } from './parse-xrml';
import { stripBom } from './parse-secure-xml';
import { ENVELOPED_SIGNATURE, EXC_C14N, RSA_SHA256, SHA256_DIGEST } from './xrml-constants';
import type { RsaPublicKey } from './xrml-public-key';
import { verifyXrmlSignature } from './verify-xrml-signature';

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

/** xml-crypto insists on a non-null privateKey before it calls the algorithm; ours ignores it. */
const EXTERNAL_SIGNER_PLACEHOLDER = 'external-signer';

/**
 * Signs an unsigned XrML document with an enveloped XML-DSig signature over the whole document:
 * RSA-SHA256, exclusive c14n, `Reference URI=""`, SHA-256 digest, `ds:Signature` appended as the
 * last child of `<XrML>`, no KeyInfo (verifiers take the key from the chain, never the document).
 */
export function signXrml(unsignedXml: string, signer: Signer, opts: SignXrmlOptions = {}): string {
  const parsed = parseXrml(unsignedXml);
  if (parsed.dsigSignature || parsed.nativeSignature) {
    throw new RmsError('InvalidInput', 'document is already signed');
  }
  const sig = new SignedXml({
    privateKey: EXTERNAL_SIGNER_PLACEHOLDER,
    signatureAlgorithm: RSA_SHA256,
    canonicalizationAlgorithm: EXC_C14N,
    getKeyInfoContent: () => null,
  });
  sig.SignatureAlgorithms = { [RSA_SHA256]: externalSignerAlgorithm(signer) };
  sig.addReference({
    xpath: '/*',
    transforms: [ENVELOPED_SIGNATURE, EXC_C14N],
    digestAlgorithm: SHA256_DIGEST,
    isEmptyUri: true,
  });
  try {
    sig.computeSignature(stripBom(unsignedXml), { prefix: 'ds', location: { reference: '/*', action: 'append' } });
  } catch (cause) {
    if (cause instanceof RmsError) throw cause;
    throw new RmsError('UnspecifiedError', 'XML signing failed', { cause });
  }
  const signed = sig.getSignedXml();
  if (opts.verifyWith) verifyXrmlSignature(signed, opts.verifyWith);
  return signed;
}

function externalSignerAlgorithm(signer: Signer): new () => SignatureAlgorithm {
  return class ExternalSignerRsaSha256 implements SignatureAlgorithm {
    getSignature = createOptionalCallbackFunction((signedInfo: BinaryLike, _ignoredPrivateKey: KeyLike): string => {
      const data = typeof signedInfo === 'string' ? Buffer.from(signedInfo, 'utf8') : Buffer.from(signedInfo as Uint8Array);
      const value = signer.sign(data);
      if (!Buffer.isBuffer(value) || value.length === 0) throw new RmsError('UnspecifiedError', 'signer returned no signature');
      return value.toString('base64');
    });
    verifySignature = createOptionalCallbackFunction((): boolean => {
      throw new Error('the signing algorithm does not verify');
    });
    getAlgorithmName = () => RSA_SHA256;
  };
}
