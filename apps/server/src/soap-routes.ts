import path from 'node:path';
import { SERVICE_PATHS } from '@openrms/domain';
import type { ClusterRuntime } from '@openrms/issuance';
import { createSoapEndpoint, loadService, serverServiceHandlers, SERVICE_WSDL_FILES, WSDL_DIR } from '@openrms/soap';
import type { Logger } from 'pino';
import type { RequestContext, SoapRoute } from './create-app';

/** The SOAP endpoints this member serves, each bound to its WSDL and handlers. */
export function soapRoutes(runtime: ClusterRuntime, opts: { maxBodyBytes: number; logger: Logger }): SoapRoute[] {
  const onError = (err: unknown, _req: unknown, info: { correlationId: string; faultName: string; withheld: boolean }) => {
    // Withheld errors exist only here: log them once with the id the client saw.
    if (info.withheld) opts.logger.error({ err, requestId: info.correlationId, fault: info.faultName }, 'request failed');
    else opts.logger.info({ requestId: info.correlationId, fault: info.faultName, reason: (err as Error)?.message }, 'fault');
  };
  const server = loadService(path.join(WSDL_DIR, SERVICE_WSDL_FILES.licensingServer));
  const serverEndpoint = createSoapEndpoint<RequestContext>(server, serverServiceHandlers(runtime), { maxBytes: opts.maxBodyBytes, onError });
  return [
    { path: SERVICE_PATHS.certificationServer, service: server, endpoint: serverEndpoint },
    { path: SERVICE_PATHS.licensingServer, service: server, endpoint: serverEndpoint },
  ];
}
