export { formatXrmlTime, parseXrmlTime, floorToXrmlMinute } from './xrml-time';
export {
  publicKeyToXrml,
  publicKeyFromXrml,
  publicKeyOf,
  publicKeyFingerprint,
  publicKeysEqual,
  pkcs1PublicKeyBase64,
  publicKeyFromPkcs1Base64,
  type RsaPublicKey,
  type XrmlPublicKey,
} from './xrml-public-key';
export { parseXrml, type XrmlDocument, type ParseXrmlOptions } from './parse-xrml';
export { signXrml, type Signer, type SignXrmlOptions } from './sign-xrml';
export { verifyXrmlSignature } from './verify-xrml-signature';
export {
  readCertificate,
  readPrincipal,
  type CertificateInfo,
  type XrmlPrincipalInfo,
  type RevocationAuthorityInfo,
} from './read-certificate';
export {
  buildSlc,
  issuerFromCertificate,
  SLC_DESCRIPTOR_TYPE,
  SERVER_OBJECT_TYPE,
  SELF_ENROLLMENT_ISSUER_NAME,
  DEFAULT_REVOCATION_INTERVAL_DAYS,
  type SlcFields,
  type SlcRevocation,
  type XrmlIssuerFields,
} from './build-slc';
export { ISSUE_SCOPES, ISSUE_SCOPE_LEVEL, formatIssueScope, scopeAllows, type IssueScope } from './issue-scope';
export {
  verifyChain,
  summarizeChain,
  DEFAULT_MAX_CHAIN_LENGTH,
  type VerifyChainOptions,
  type ChainSummary,
  type ChainMemberSummary,
} from './verify-chain';
export {
  childElements,
  optionalChild,
  requiredChild,
  optionalPath,
  requiredPath,
  optionalText,
  requiredText,
  attrOf,
  textOf,
} from './xrml-dom';
export {
  writeObject,
  writePublicKey,
  writeSecurityLevel,
  writeTimeRange,
  writeIntervalTime,
  type XrmlObjectFields,
  type XrmlSecurityLevel,
} from './xrml-writer';
export { DSIG_NS, RSA_SHA256, EXC_C14N, ENVELOPED_SIGNATURE, SHA256_DIGEST, DEFAULT_MAX_XRML_BYTES } from './xrml-constants';
