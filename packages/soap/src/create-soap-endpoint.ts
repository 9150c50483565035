import { randomUUID } from 'node:crypto';
import { RmsError } from '@openrms/domain';
import { buildSoapFault } from './build-soap-fault';
import { buildSoapResponse, type SoapResult } from './build-soap-response';
import type { ServiceDescription } from './load-service';
import { operationOfError, parseContentType, parseSoapRequest, type ServerVersionRange, type SoapHttpInput, type SoapRequest } from './parse-soap-request';
import type { SoapVersion } from './namespaces';

/** Produces the content of the operation's Result element; throw an RmsError to fault. */
export type SoapHandler<Ctx = unknown> = (req: SoapRequest, ctx: Ctx) => Promise<SoapResult>;

export interface SoapEndpointInput extends SoapHttpInput {
  /** The HTTP layer's request id; written into withheld faults. Generated when absent. */
  correlationId?: string;
}

/**
 * A bound service: `ctx` (authenticated principal, request id, ...) is handed to the handler as is.
 * Never throws and never rejects.
 */
export type SoapEndpoint<Ctx = unknown> = (input: SoapEndpointInput, ctx: Ctx) => Promise<SoapEndpointResult>;

export interface SoapEndpointResult {
  status: number;
  contentType: string;
  body: string;
  /** Set once the operation was identified. */
  operation?: string;
  /** Exception name of the fault, when the response is one. */
  fault?: string;
}

export interface SoapErrorInfo {
  correlationId: string;
  faultName: string;
  /** True when the error's message was kept from the client: log it, it exists nowhere else. */
  withheld: boolean;
}

export interface SoapEndpointOptions {
  maxBytes: number;
  versions?: ServerVersionRange;
  /** Called once per fault. Exceptions it throws are swallowed: logging must not change the answer. */
  onError?(err: unknown, req: SoapRequest | undefined, info: SoapErrorInfo): void;
}

/**
 * Binds handlers to a service's operations. The returned function never throws and never rejects:
 * every outcome, including a handler bug, is an HTTP response (200 with the result, or 500 with a fault).
 */
export function createSoapEndpoint<Ctx = unknown>(
  service: ServiceDescription,
  handlers: Partial<Record<string, SoapHandler<Ctx>>>,
  opts: SoapEndpointOptions,
): SoapEndpoint<Ctx> {
  for (const name of Object.keys(handlers)) {
    if (!service.operations.has(name)) throw new Error(`${service.name} has no operation ${name}`);
  }
  return async (input, ctx) => {
    let req: SoapRequest | undefined;
    try {
      req = parseSoapRequest(input, service, { maxBytes: opts.maxBytes, versions: opts.versions });
      const handler = handlers[req.operation.name];
      if (!handler) throw new RmsError('InvalidOperation', `The operation ${req.operation.name} is not available on this server.`);
      const result = await handler(req, ctx);
      return { status: 200, ...buildSoapResponse(req, result), operation: req.operation.name };
    } catch (err) {
      return faultResponse(err, req, input, service, opts);
    }
  };
}

function faultResponse(
  err: unknown,
  req: SoapRequest | undefined,
  input: SoapEndpointInput,
  service: ServiceDescription,
  opts: SoapEndpointOptions,
): SoapEndpointResult {
  const correlationId = input.correlationId ?? randomUUID();
  const fault = buildSoapFault(req?.soapVersion ?? faultVersionFor(input, service), err, { correlationId });
  try {
    opts.onError?.(err, req, { correlationId: fault.correlationId, faultName: fault.faultName, withheld: fault.withheld });
  } catch {
    // A failing logger must not turn a fault into an unhandled rejection.
  }
  return { status: fault.status, contentType: fault.contentType, body: fault.body, operation: req?.operation.name ?? operationOfError(err), fault: fault.faultName };
}

/**
 * The SOAP version to fault in when the request could not be parsed far enough to know: the one its
 * Content-Type asks for if the service offers it, else SOAP 1.1, which every RMS service speaks.
 */
export function faultVersionFor(input: Pick<SoapHttpInput, 'contentType'>, service: ServiceDescription): SoapVersion {
  let mediaType: string | undefined;
  try {
    mediaType = parseContentType(input.contentType).mediaType;
  } catch {
    mediaType = undefined;
  }
  return mediaType === 'application/soap+xml' && service.soap12 ? '1.2' : '1.1';
}
