import { randomUUID } from 'node:crypto';
import { isRmsError, type RmsErrorCode } from '@openrms/domain';
import { envelopeNamespace, NS, soapContentType, type SoapVersion } from './namespaces';
import { SoapProtocolError, type SoapProtocolFaultCode } from './soap-protocol-error';
import { escapeXmlAttribute, escapeXmlText } from './xml-writer';

export interface FaultMapping {
  /** The .NET exception name put at the start of faultstring, where clients look for it. */
  readonly exceptionName: string;
  /** 'client' faults are the sender's fault (soap:Client / soap:Sender); MS-RMPR wants Server for the rest. */
  readonly side: 'client' | 'server';
  /** The message is internal: the fault carries only the correlation id. */
  readonly withheld?: true;
}

const DRM = 'Microsoft.DigitalRightsManagement';
const UNSPECIFIED = `${DRM}.Utilities.UnspecifiedErrorException`;
const server = (exceptionName: string): FaultMapping => ({ exceptionName, side: 'server' });
const client = (exceptionName: string): FaultMapping => ({ exceptionName, side: 'client' });
const withheld: FaultMapping = { exceptionName: UNSPECIFIED, side: 'server', withheld: true };

/**
 * The one mapping from domain error codes to SOAP faults (PROTOCOL.md section 3). Typed as a
 * total record so that a code added to the domain list fails the build until it is mapped here.
 */
export const SOAP_FAULT_TABLE: Readonly<Record<RmsErrorCode, FaultMapping>> = {
  MalformedDataVersion: server(`${DRM}.Core.MalformedDataVersionException`),
  UnsupportedDataVersion: server(`${DRM}.Core.UnsupportedDataVersionException`),
  ArgumentNull: server('System.ArgumentNullException'),
  Argument: server('System.ArgumentException'),
  InvalidOperation: server('System.InvalidOperationException'),
  UnauthorizedAccess: server('System.UnauthorizedAccessException'),
  ClusterDecommissioned: server('Microsoft.RightsManagementServices.ClusterDecommissionedException'),
  UnsupportedCryptographicSet: server(`${DRM}.Cryptography.UnsupportedCryptographicSetException`),
  UnspecifiedError: withheld,
  DrmsArgument: server(`${DRM}.Core.DRMSArgumentException`),
  VerifyMachineCertificateChainFailed: server(`${DRM}.Core.VerifyMachineCertificateChainFailedException`),
  BlackBoxIsInvalid: server(`${DRM}.Licensing.BlackBoxIsInvalidException`),
  VerifyEmailAddressFailed: server(`${DRM}.Core.VerifyEmailAddressFailedException`),
  AdEntrySearchFailed: server(`${DRM}.Utilities.ADEntrySearchFailedException`),
  InvalidPersonaCertSignature: server(`${DRM}.Licensing.InvalidPersonaCertSignatureException`),
  InvalidPersonaCertTime: server(`${DRM}.Licensing.InvalidPersonaCertTimeException`),
  UntrustedPersonaCert: server(`${DRM}.Licensing.UntrustedPersonaCertException`),
  DrmacIsExcluded: server(`${DRM}.Licensing.DrmacIsExcludedException`),
  UnexpectedPersonaCert: server(`${DRM}.Licensing.UnexpectedPersonaCertException`),
  CredentialCreationTime: server(`${DRM}.Licensing.CredentialCreationTimeException`),
  InvalidRightsLabelSignature: server(`${DRM}.Licensing.InvalidRightsLabelSignatureException`),
  IssuanceLicenseIsNotWithinValidTimeRange: server(`${DRM}.Licensing.IssuanceLicenseIsNotWithinValidTimeRangeException`),
  RightsLabelNoMatchingIssuedPrincipal: server(`${DRM}.Licensing.RightsLabelNoMatchingIssuedPrincipalException`),
  NoRightsForRequestedPrincipal: server(`${DRM}.Licensing.NoRightsForRequestedPrincipalException`),
  OnlinePublishingDisabled: server(`${DRM}.Licensing.OnlinePublishingDisabledException`),
  UnsignedIssuanceLicenseNoMatchingIssuedPrincipal: server(`${DRM}.Licensing.UnsignedIssuanceLicenseNoMatchingIssuedPrincipalException`),
  InvalidOfficialRightsTemplate: server(`${DRM}.Licensing.InvalidOfficialRightsTemplateException`),
  CryptoUnsupportedSymKey: server(`${DRM}.Cryptography.CryptoUnsupportedSymKeyException`),
  // PROTOCOL.md 3.3: the spec's table uses this prefix (its prose says Microsoft.DigitalRightsManagement.).
  EnablingBitsHashDoesNotMatch: server('Microsoft.RightsManagementServices.EnablingBitsHashDoesNotMatchException'),
  // [MS-RMSI] names only the short form; Exchange matches it by substring (PROTOCOL.md §3.4).
  AcquirePreLicenseInvalidLicensee: server(`${DRM}.Licensing.AcquirePreLicenseInvalidLicenseeException`),
  // PROTOCOL.md 3.3 (AcquireContentKey): a Utilities exception, unlike ClusterDecommissioned.
  ClusterNotDecommissioned: server(`${DRM}.Utilities.ClusterNotDecommissionedException`),
  // [MS-RMSI] 3.2.4.1 (AcquireContentKey) names it in the DRM root namespace, unlike RMPR's and its own EditIssuanceLicense table.
  ContentKeyNoMatchingIssuedPrincipal: server(`${DRM}.UnsignedIssuanceLicenseNoMatchingIssuedPrincipalException`),
  // [MS-RMSI] 3.4.4.1 lists both without a sub-namespace (its prose once adds .Licensing.).
  InvalidSignedIssuanceLicense: server(`${DRM}.InvalidSignedIssuanceLicenseException`),
  ServerRepublishIllegal: server(`${DRM}.ServerRepublishIllegalException`),
  // Transport level: what ASMX itself would have said before any RMS code ran.
  MalformedRequest: client('System.Xml.XmlException'),
  RequestTooLarge: client('System.Web.HttpException'),
  UnknownOperation: client('System.Web.Services.Protocols.SoapException'),
  AuthenticationRequired: server('System.UnauthorizedAccessException'),
  AccessDenied: server('System.UnauthorizedAccessException'),
  TooManyRequests: server('System.UnauthorizedAccessException'),
  // No RMS exception means "busy" (PROTOCOL.md names none); clients treat this one as a server-side failure to retry
  // (docs/adr/0014-admission-control-and-workers.md). Not withheld: the message says what happened.
  ServerBusy: server(UNSPECIFIED),
  // Written to a socket that is already closed, if at all; an expected event under load, not an error to log loudly.
  ClientGone: server(UNSPECIFIED),
  // Operational codes (CLI, admin API, start-up) describe our internals, never the client's request.
  NotFound: withheld,
  AlreadyExists: withheld,
  InvalidInput: withheld,
  KeyPasswordInvalid: withheld,
  NotProvisioned: withheld,
  ChainInvalid: withheld,
  Unavailable: withheld,
};

/** The exception name a domain code is reported under. */
export function faultNameFor(code: RmsErrorCode): string {
  return SOAP_FAULT_TABLE[code].exceptionName;
}

export interface SoapFault {
  status: number;
  contentType: string;
  body: string;
  /** Exception name at the start of faultstring (for logs and metrics). */
  faultName: string;
  /** The id written into withheld faults; generated when none was given. */
  correlationId: string;
  /** True when the error's own message was kept out of the fault. */
  withheld: boolean;
}

const FAULT_CODES: Record<SoapVersion, Record<SoapProtocolFaultCode | 'Server', string>> = {
  '1.1': { Client: 'Client', Server: 'Server', VersionMismatch: 'VersionMismatch', MustUnderstand: 'MustUnderstand' },
  '1.2': { Client: 'Sender', Server: 'Receiver', VersionMismatch: 'VersionMismatch', MustUnderstand: 'MustUnderstand' },
};

// Correlation ids may come from a client header; anything unusual is replaced rather than echoed.
const SAFE_CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Writes the fault for any thrown value. RmsError messages are written for clients and kept;
 * anything else (and every withheld code) becomes UnspecifiedErrorException carrying only the
 * correlation id, so no internal message or stack trace ever reaches the wire. Faults carry no
 * VersionData header, as Windows does.
 */
export interface ExceptionDescription {
  faultCode: SoapProtocolFaultCode | 'Server';
  faultName: string;
  /** The .NET `Exception.ToString()`-shaped text: `<ExceptionName>: <message>`. */
  exceptionString: string;
  withheld: boolean;
}

/**
 * How an error is reported to a client: as a fault, or as the ExceptionString of one failed item
 * in a batch. RmsError messages are written for clients and kept; anything else (and every
 * withheld code) becomes UnspecifiedErrorException carrying only the correlation id.
 */
export function describeException(error: unknown, correlationId: string): ExceptionDescription {
  if (error instanceof SoapProtocolError) {
    return { faultCode: error.faultCode, faultName: error.exceptionName, exceptionString: `${error.exceptionName}: ${error.message}`, withheld: false };
  }
  if (isRmsError(error) && !SOAP_FAULT_TABLE[error.code].withheld) {
    const mapping = SOAP_FAULT_TABLE[error.code];
    return {
      faultCode: mapping.side === 'client' ? 'Client' : 'Server',
      faultName: mapping.exceptionName,
      exceptionString: `${mapping.exceptionName}: ${error.message}`,
      withheld: false,
    };
  }
  return { faultCode: 'Server', faultName: UNSPECIFIED, exceptionString: `${UNSPECIFIED}: Correlation id ${correlationId}`, withheld: true };
}

/** A correlation id safe to echo: a client-supplied one that looks unusual is replaced. */
export function safeCorrelationId(id: string | undefined): string {
  return id && SAFE_CORRELATION_ID.test(id) ? id : randomUUID();
}

/**
 * Writes the fault for any thrown value (see describeException); no internal message or stack
 * trace ever reaches the wire. Faults carry no VersionData header, as Windows does.
 */
export function buildSoapFault(soapVersion: SoapVersion, error: unknown, opts: { correlationId?: string } = {}): SoapFault {
  const correlationId = safeCorrelationId(opts.correlationId);
  const { faultCode, faultName, exceptionString: faultString, withheld: isWithheld } = describeException(error, correlationId);
  const env = envelopeNamespace(soapVersion);
  const code = `soap:${FAULT_CODES[soapVersion][faultCode]}`;
  const header = error instanceof SoapProtocolError ? protocolFaultHeader(soapVersion, error) : '';
  const fault = soapVersion === '1.1'
    ? `<soap:Fault><faultcode>${code}</faultcode><faultstring>${escapeXmlText(faultString)}</faultstring><detail /></soap:Fault>`
    : `<soap:Fault><soap:Code><soap:Value>${code}</soap:Value></soap:Code><soap:Reason><soap:Text xml:lang="en">${escapeXmlText(faultString)}</soap:Text></soap:Reason></soap:Fault>`;
  const body =
    `<?xml version="1.0" encoding="utf-8"?>` +
    `<soap:Envelope xmlns:soap="${env}" xmlns:xsi="${NS.xsi}" xmlns:xsd="${NS.xsd}">` +
    `${header}<soap:Body>${fault}</soap:Body></soap:Envelope>`;
  return { status: 500, contentType: soapContentType(soapVersion), body, faultName, correlationId, withheld: isWithheld };
}

/**
 * SOAP 1.2 part 1 (5.4.7, 5.4.8): a VersionMismatch fault lists the envelopes we accept in an Upgrade
 * header (understood by SOAP 1.1 receivers too), and a 1.2 MustUnderstand fault names the blocks.
 */
function protocolFaultHeader(soapVersion: SoapVersion, error: SoapProtocolError): string {
  if (error.faultCode === 'VersionMismatch' && error.details.supportedEnvelopes?.length) {
    const supported = error.details.supportedEnvelopes
      .map((v) => `<upg:SupportedEnvelope qname="e:Envelope" xmlns:e="${envelopeNamespace(v)}" />`)
      .join('');
    return `<soap:Header><upg:Upgrade xmlns:upg="${NS.soap12Envelope}">${supported}</upg:Upgrade></soap:Header>`;
  }
  // Header blocks must be namespace-qualified; an unqualified one cannot be named by a QName here.
  const notUnderstood = (error.details.notUnderstood ?? []).filter((q) => q.namespace);
  if (error.faultCode === 'MustUnderstand' && soapVersion === '1.2' && notUnderstood.length > 0) {
    const blocks = notUnderstood
      .map((q) => `<soap:NotUnderstood qname="q:${escapeXmlAttribute(q.localName)}" xmlns:q="${escapeXmlAttribute(q.namespace!)}" />`)
      .join('');
    return `<soap:Header>${blocks}</soap:Header>`;
  }
  return '';
}
