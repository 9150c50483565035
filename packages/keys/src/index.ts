export { ClusterKey, RsaKeyPair, MIN_KEY_PASSWORD_LENGTH } from './cluster-key';
export type { KeyProtection, KeyStatus, NewKeyProtection, Signer } from './cluster-key';
export type { UnsealMechanism } from './pkcs11-key';
export { ContentKey } from './content-key';
export { seal, type SealPurpose, type SecretPurpose, type KeySealPurpose } from './sealing';
export { PublishingDomainKey } from './publishing-domain-key';
export { KEY_EXPORT_FORMAT, OpenedKeyExport, publicKeySha256, readKeyExport, writeKeyExport, type KeyExportIdentity } from './key-export';
