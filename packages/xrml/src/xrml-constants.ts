/**
 * Algorithm and namespace identifiers for the one XML-DSig profile OpenRMS writes and accepts.
 * Anything else found in a document is rejected rather than negotiated: a verifier that accepts
 * "whatever the document asks for" is how downgrade and key-confusion attacks get in.
 */
export const DSIG_NS = 'http://www.w3.org/2000/09/xmldsig#';
export const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
export const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
export const ENVELOPED_SIGNATURE = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
export const SHA256_DIGEST = 'http://www.w3.org/2001/04/xmlenc#sha256';

/** Default cap for one XrML document; an SLC is about 4 KiB, a large PL a few tens of KiB. */
export const DEFAULT_MAX_XRML_BYTES = 1024 * 1024;

/**
 * Default cap on element nesting. The deepest XrML path (UL right/.../ENABLINGBITS/VALUE) is about
 * a dozen levels; the canonicalizer recurses per level, so a hostile document of nothing but
 * nested tags would otherwise be able to exhaust the stack inside the 1 MiB size cap.
 */
export const DEFAULT_MAX_XRML_DEPTH = 64;

/**
 * Associated data of the encrypted rights data (ERD) in a PL: AES-256-GCM under the content key
 * (docs/adr/0007). Client and server both use it, so it lives with the document formats.
 */
export const ERD_AAD: Buffer = Buffer.from('OpenRMS-ERD-v1');
