export { formatXrmlTime, parseXrmlTime, floorToXrmlMinute } from './xrml-time';
export {
  publicKeyToXrml,
  publicKeyFromXrml,
  publicKeyOf,
  publicKeyFingerprint,
  legacyPkcs1Fingerprint,
  fingerprintMatches,
  publicKeysEqual,
  pkcs1PublicKeyBase64,
  publicKeyFromPkcs1Base64,
  type RsaPublicKey,
  type XrmlPublicKey,
} from './xrml-public-key';
export { parseXrml, type XrmlDocument, type ParseXrmlOptions } from './parse-xrml';
export { signXrml, type Signer, type SignXrmlOptions } from './sign-xrml';
export { verifyXrmlSignature, verifyXrmlSignatureWithXmlCrypto } from './verify-xrml-signature';
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
  writeIssuer,
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
  buildRevocationList,
  REVOCATION_CATEGORY,
  REVOCATION_LIST_DESCRIPTOR_TYPE,
  type RevocationEntry,
  type RevocationEntryType,
  type RevocationListFields,
} from './build-revocation-list';
export { readRevocationList, type RevocationListInfo } from './read-revocation-list';
export {
  verifyChain,
  summarizeChain,
  DEFAULT_MAX_CHAIN_LENGTH,
  type VerifyChainOptions,
  type ChainMemberCache,
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
export { DSIG_NS, RSA_SHA256, EXC_C14N, ENVELOPED_SIGNATURE, SHA256_DIGEST, DEFAULT_MAX_XRML_BYTES, ERD_AAD } from './xrml-constants';
export { ENABLING_BITS_TYPE } from './enabling-bits';
export {
  GROUP_IDENTITY_OBJECT_TYPE,
  GROUP_IDENTITY_ID_TYPES,
  type GroupIdentity,
  type GroupIdentityIdType,
} from './group-identity';
export { formatDescriptorName, parseDescriptorName, DEFAULT_LCID, type DescriptorName } from './descriptor-name';
export { REFERRAL_DP_TYPE, type ReferralInfo } from './distribution-point';
export { serializeElement } from './import-element';
export {
  buildSpc,
  SPC_DESCRIPTOR_TYPE,
  SPC_DESCRIPTOR_NAME,
  SECURITY_PROCESSOR_OBJECT_TYPE,
  MACHINE_OBJECT_TYPE,
  SPC_ACTIVATION_DP_GUID,
  type SpcFields,
} from './build-spc';
export { readSpc, type SpcInfo } from './read-spc';
export {
  buildRac,
  RAC_DESCRIPTOR_TYPE,
  RAC_ACTIVATION_DP_GUID,
  CERTIFICATION_DP_NAME,
  RAC_CREDENTIAL_TYPES,
  type RacCredentialType,
  type RacFields,
  type RacMachine,
} from './build-rac';
export { readRac, type RacInfo } from './read-rac';
export {
  buildClc,
  CLC_DESCRIPTOR_TYPE,
  LICENSING_DP_NAME,
  LICENSE_ACQUISITION_DP_TYPE,
  EXTRANET_LICENSE_ACQUISITION_DP_TYPE,
  type ClcFields,
} from './build-clc';
export { readClc, type ClcInfo } from './read-clc';
export {
  buildRightsData,
  RIGHTS_DATA_BODY_TYPE,
  OFFICIAL_TEMPLATE_BODY_TYPE,
  PUBLISHING_DP_TYPE,
  type RightsDataFields,
} from './build-rights-data';
export { readRightsData, type RightsData } from './read-rights-data';
export {
  buildPublishingLicense,
  PUBLISHING_LICENSE_BODY_TYPE,
  ENCRYPTED_RIGHTS_DATA_ID,
  type PublishingLicenseFields,
  type PublishingLicenseServer,
  type ContentOwner,
} from './build-publishing-license';
export { readPublishingLicense, type PublishingLicenseInfo } from './read-publishing-license';
export { withServerSignatureFields, type ServerSignatureFields } from './with-server-signature-fields';
export {
  buildUseLicense,
  USE_LICENSE_PURPOSE,
  USE_LICENSE_DESCRIPTOR_TYPE,
  type UseLicenseFields,
  type UseLicenseRight,
  type ApplicationExclusion,
} from './build-use-license';
export { readUseLicense, type UseLicenseInfo } from './read-use-license';
export { buildTemplate, TEMPLATE_OWNER_GRANT, type TemplateFields, type TemplatePolicy } from './build-template';
export { readTemplate, type TemplateInfo } from './read-template';
