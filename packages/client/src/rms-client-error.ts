/**
 * What went wrong, in the terms a user or script can act on:
 * - `fault`: the server answered with a SOAP fault (it refused the request; `faultName` says why);
 * - `unauthorized`: HTTP 401, the user name or password was refused;
 * - `http`: any other HTTP failure without a readable fault;
 * - `network`: the server could not be reached, or did not answer in time;
 * - `protocol`: the server answered with something that is not the expected SOAP message;
 * - `trust`: a certificate or licence did not verify against the keys this client trusts;
 * - `format`: a protected file is malformed or was altered;
 * - `state`: the local state folder cannot be used;
 * - `input`: the caller's arguments are not acceptable.
 */
export type RmsClientErrorKind = 'fault' | 'unauthorized' | 'http' | 'network' | 'protocol' | 'trust' | 'format' | 'state' | 'input';

export interface RmsClientErrorDetails {
  /** The .NET exception name at the start of the faultstring, e.g. `Microsoft.DigitalRightsManagement.Licensing.NoRightsForRequestedPrincipalException`. */
  faultName?: string | undefined;
  /** `faultName` without namespace and `Exception` suffix, e.g. `NoRightsForRequestedPrincipal`. */
  shortName?: string | undefined;
  httpStatus?: number | undefined;
  /** The operation that failed (`AcquireLicense`, …), when a server call failed. */
  operation?: string | undefined;
  cause?: unknown;
}

export class RmsClientError extends Error {
  override readonly name = 'RmsClientError';
  readonly kind: RmsClientErrorKind;
  readonly faultName: string | undefined;
  readonly shortName: string | undefined;
  readonly httpStatus: number | undefined;
  readonly operation: string | undefined;

  constructor(kind: RmsClientErrorKind, message: string, details: RmsClientErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.kind = kind;
    this.faultName = details.faultName;
    this.shortName = details.shortName;
    this.httpStatus = details.httpStatus;
    this.operation = details.operation;
  }

  /** `NoRightsForRequestedPrincipalException: <message>` for faults, the message otherwise. */
  describe(): string {
    if (this.kind !== 'fault' || !this.faultName) return this.message;
    const last = this.faultName.slice(this.faultName.lastIndexOf('.') + 1);
    return this.message ? `${last}: ${this.message}` : last;
  }
}

export function isRmsClientError(e: unknown, kind?: RmsClientErrorKind): e is RmsClientError {
  return e instanceof RmsClientError && (kind === undefined || e.kind === kind);
}

export interface ParsedFaultString {
  faultName: string | undefined;
  shortName: string | undefined;
  message: string;
}

// MS-RMPR §3.1.4.5: ExceptionName = dotted identifiers; then '-', ':' or a space, then the text.
const EXCEPTION_STRING = /^\s*((?:[A-Za-z_][A-Za-z0-9_]*\.)*[A-Za-z_][A-Za-z0-9_]*)(?:\s*[:-]\s*|\s+|$)([\s\S]*)$/;

/**
 * Splits a faultstring shaped like .NET's `Exception.ToString()` into the exception name and its
 * message. A leading word counts as an exception name only if it is dotted or ends in `Exception`,
 * so plain prose ("Server was unable to …") stays a message.
 */
export function parseFaultString(faultString: string): ParsedFaultString {
  const text = faultString.trim();
  const m = EXCEPTION_STRING.exec(text);
  const name = m?.[1];
  if (!m || !name || !(name.includes('.') || name.endsWith('Exception'))) {
    return { faultName: undefined, shortName: undefined, message: text };
  }
  const last = name.slice(name.lastIndexOf('.') + 1);
  const shortName = last.endsWith('Exception') && last.length > 'Exception'.length ? last.slice(0, -'Exception'.length) : last;
  // Inner exceptions (' ---> ') stay in the message: they are part of what the server said.
  return { faultName: name, shortName, message: (m[2] ?? '').trim() };
}
