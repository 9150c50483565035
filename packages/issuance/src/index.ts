export * from './cluster-runtime';
export { provisionRootCluster, type ProvisionRootInput, type ProvisionResult } from './provision-root';
export * from './principal-admin';
export * from './show-slc';
export * from './service-locations';
export { hashPassword, verifyPassword } from './passwords';
export { SETTINGS } from './settings';
export * from './policies';
export * from './policy-admin';
export * from './request-log-writer';
export { LicensingService, DEFAULT_VALIDITY, type ValidityPolicy, type Caller } from './licensing-service';
export * from './template-admin';
export * from './dacl-admin';
export * from './provision-licensing';
export { SERVER_SKU, SERVER_VERSION, type ProvisionKeyProtection } from './provision-cluster';
// Where the cluster key is kept and whether it answers (admin pages, rmsctl): public facts only.
export type { KeyProtection, KeyStatus } from '@openrms/keys';
export * from './cluster-admin';
export { decommissionCluster, decommissionClusterIn, type DecommissionInput, type DecommissionResult } from './decommission-cluster';
export * from './slc-renewal';
export { changeClusterKeyPassword, type ChangeKeyPasswordInput, type ChangeKeyPasswordResult } from './change-key-password';
export * from './expiry-sweep';
export { updateRootCredentials, type RootCredentials } from './root-credentials';
export * from './admin-queries';
export * from './authenticator';
export { Identities, directoryGroupKeys, type ResolvedUser } from './identities';
export { LocalDirectory } from './local-directory';
export * from './directory-settings';
export * from './directory-admin';
export * from './group-expansion';
export { loadAdminFormSecret, rotateAdminFormSecret, rotateAdminFormSecretIn, type AdminFormSecret } from './admin-form-secret';
export {
  listUsersIn,
  listGroupsIn,
  showGroupIn,
  previewUserRemovalIn,
  previewGroupRemovalIn,
  removeUserIn,
  removeGroupIn,
  setUserDisabledIn,
  setUserPasswordIn,
  type GroupDescription,
  type GroupListEntry,
  type GroupRemoval,
  type PrincipalSource,
  type UserListEntry,
  type UserRemoval,
} from './manage-principals';
export { migrateSchema, type MigrateSchemaResult } from './migrate-schema';
export { backupConfigurationDatabase, restoreConfigurationDatabase } from './backup-database';
export {
  exportClusterKey,
  importPublishingDomain,
  importPublishingDomainIn,
  listPublishingDomains,
  listPublishingDomainsIn,
  removePublishingDomain,
  removePublishingDomainIn,
  type PublishingDomainSummary,
} from './publishing-domains';
export { addUserDomain, addUserDomainIn, listUserDomains, listUserDomainsIn, removeUserDomain, removeUserDomainIn, type UserDomainSummary } from './trusted-user-domains';
export { listRevocations, listRevocationsIn, revocationFor, revoke, revokeIn, unrevoke, unrevokeIn, type RevocationSummary, type RevokeInput, type RevokeTarget } from './revoke';
export {
  getPublishedRevocationList,
  publishRevocationList,
  readPublishedRevocationList,
  revocationListPath,
  revocationListUrl,
  REVOCATION_LIST_RESIGN_AFTER_MS,
  REVOCATION_LIST_VALIDITY_DAYS,
  type PublishedRevocationList,
  type PublishRevocationListResult,
} from './revocation-list';
export { RevocationSet } from './revocations';
export { VerifiedDocuments, DEFAULT_VERIFIED_DOCUMENT_ENTRIES, type VerifiedDocumentStats, type VerifiedKind } from './verified-documents';
