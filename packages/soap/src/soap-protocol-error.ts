import { RmsError } from '@openrms/domain';
import type { SoapVersion } from './namespaces';

/** A header block the request marked mustUnderstand that this server does not process. */
export interface QualifiedName {
  namespace: string | null;
  localName: string;
}

export type SoapProtocolFaultCode = 'Client' | 'VersionMismatch' | 'MustUnderstand';

/**
 * A violation of the SOAP envelope rules themselves. The domain's closed code list has no SOAP
 * processing-model codes, so this stays a 'MalformedRequest' for every other edge (logs, metrics)
 * while carrying the exact SOAP fault code and ASMX exception name the fault writer needs.
 */
export class SoapProtocolError extends RmsError {
  constructor(
    readonly faultCode: SoapProtocolFaultCode,
    readonly exceptionName: string,
    message: string,
    readonly details: { notUnderstood?: QualifiedName[]; supportedEnvelopes?: SoapVersion[] } = {},
  ) {
    super('MalformedRequest', message);
  }
}
