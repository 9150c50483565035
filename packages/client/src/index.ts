export { RmsClient, inspectProtectedFile, declaredGrantsOf, ERD_AAD, CLIENT_SPC, MIN_USER_PASSWORD_LENGTH } from './rms-client';
export type { RmsClientOptions, ProtectOptions, OpenResult, ProtectedFileInfo } from './rms-client';
export { RmsClientError, isRmsClientError, parseFaultString, type RmsClientErrorKind, type RmsClientErrorDetails, type ParsedFaultString } from './rms-client-error';
export {
  SoapTransport,
  CLIENT_SERVICES,
  VERSION_1_0,
  VERSION_1_1,
  DEFAULT_MAX_RESPONSE_BYTES,
  normalizeServerUrl,
  isLoopbackUrl,
  buildRequestEnvelope,
  parseResponseEnvelope,
  type ClientService,
  type SoapCall,
  type SoapTransportOptions,
} from './soap-transport';
export {
  RmsServiceClient,
  TEMPLATES_PER_REQUEST,
  type AcquireLicenseRequest,
  type AcquireLicenseResult,
  type TemplateInformation,
  type TemplateSummary,
} from './rms-service-client';
export {
  PROTECTED_FILE_MAGIC,
  PROTECTED_FILE_FORMAT,
  CONTENT_AAD_PREFIX,
  MAX_HEADER_BYTES,
  MAX_PL_CHAIN_LENGTH,
  contentAad,
  encodeHeader,
  assembleProtectedFile,
  parseProtectedFile,
  type ProtectedFileHeader,
  type ProtectedFileParts,
  type DeclaredGrant,
} from './protected-file';
export { ClientState, STATE_FILES, stateFolderFor, writeFileAtomically, type StateFile } from './client-state';
