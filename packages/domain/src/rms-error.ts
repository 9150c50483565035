/**
 * The closed set of failure codes. Protocol-facing codes are named after the .NET exception the
 * RMS protocols put at the start of a faultstring; each edge (SOAP, admin HTTP, CLI, worker) maps
 * these codes in one table of its own.
 */
export const RMS_ERROR_CODES = [
  // protocol: common
  'MalformedDataVersion',
  'UnsupportedDataVersion',
  'ArgumentNull',
  'Argument',
  'InvalidOperation',
  'UnauthorizedAccess',
  'ClusterDecommissioned',
  'UnsupportedCryptographicSet',
  'UnspecifiedError',
  'DrmsArgument',
  // protocol: certification
  'VerifyMachineCertificateChainFailed',
  'BlackBoxIsInvalid',
  'VerifyEmailAddressFailed',
  'AdEntrySearchFailed',
  // protocol: licensing and publishing
  'InvalidPersonaCertSignature',
  'InvalidPersonaCertTime',
  'UntrustedPersonaCert',
  'DrmacIsExcluded',
  'UnexpectedPersonaCert',
  'CredentialCreationTime',
  'InvalidRightsLabelSignature',
  'IssuanceLicenseIsNotWithinValidTimeRange',
  'RightsLabelNoMatchingIssuedPrincipal',
  'NoRightsForRequestedPrincipal',
  'OnlinePublishingDisabled',
  'UnsignedIssuanceLicenseNoMatchingIssuedPrincipal',
  'InvalidOfficialRightsTemplate',
  'CryptoUnsupportedSymKey',
  'EnablingBitsHashDoesNotMatch',
  // protocol: ISV extension (MS-RMSI)
  /** AcquirePreLicense: a recipient who cannot be identified or has no RAC key (per user). */
  'AcquirePreLicenseInvalidLicensee',
  /** EditIssuanceLicense: the signed PL does not verify, or was not issued for this cluster. */
  'InvalidSignedIssuanceLicense',
  /** EditIssuanceLicense: the signed PL's rights data does not carry Allow_Server_Editing=True. */
  'ServerRepublishIllegal',
  /** AcquireContentKey before the cluster was decommissioned (it only answers afterwards). */
  'ClusterNotDecommissioned',
  /**
   * AcquireContentKey: the PL names neither this cluster nor a trusted publishing domain. [MS-RMSI]
   * 3.2.4.1 spells this exception without the `.Licensing.` of UnsignedIssuanceLicenseNoMatchingIssuedPrincipal.
   */
  'ContentKeyNoMatchingIssuedPrincipal',
  // transport-level (mapped to HTTP statuses or SOAP client faults)
  'MalformedRequest',
  'RequestTooLarge',
  'UnknownOperation',
  'AuthenticationRequired',
  'AccessDenied',
  /** Too many failed sign-ons from one user or address: wait and try again (HTTP 429). */
  'TooManyRequests',
  /** The member has more work than it can start in time: try again later or another member (HTTP 503). */
  'ServerBusy',
  /** The client hung up before its answer was signed: the work was dropped; nobody sees the fault. */
  'ClientGone',
  // operations (CLI, admin API, start-up)
  'NotFound',
  'AlreadyExists',
  'InvalidInput',
  'KeyPasswordInvalid',
  'NotProvisioned',
  'ChainInvalid',
  'Unavailable',
] as const;

export type RmsErrorCode = (typeof RMS_ERROR_CODES)[number];

export class RmsError extends Error {
  override readonly name = 'RmsError';
  constructor(
    readonly code: RmsErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isRmsError(e: unknown, code?: RmsErrorCode): e is RmsError {
  return e instanceof RmsError && (code === undefined || e.code === code);
}
