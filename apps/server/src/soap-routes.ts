import path from 'node:path';
import { isRmsError, SERVICE_PATHS } from '@openrms/domain';
import type { ClusterRuntime } from '@openrms/issuance';
import {
  certificationServiceHandlers,
  decommissionServiceHandlers,
  groupExpansionServiceHandlers,
  createSoapEndpoint,
  editIssuanceLicenseServiceHandlers,
  licenseServiceHandlers,
  loadService,
  precertificationServiceHandlers,
  publishServiceHandlers,
  subEnrollServiceHandlers,
  serverServiceHandlers,
  SERVICE_WSDL_FILES,
  templateDistributionServiceHandlers,
  WSDL_DIR,
  type SoapHandler,
} from '@openrms/soap';
import type { Logger } from 'pino';
import type { RequestContext, SoapRoute } from './create-app';

/** The SOAP endpoints this member serves, each bound to its WSDL and handlers. */
export function soapRoutes(runtime: ClusterRuntime, opts: { maxBodyBytes: number; logger: Logger }): SoapRoute[] {
  const onError = (err: unknown, _req: unknown, info: { correlationId: string; faultName: string; withheld: boolean }) => {
    // Withheld errors exist only here: log them once with the id the client saw.
    if (info.withheld) opts.logger.error({ err, requestId: info.correlationId, fault: info.faultName }, 'request failed');
    // Hung-up clients are counted by the metrics; a line each would flood the log under overload.
    else if (isRmsError(err, 'ClientGone')) opts.logger.debug({ requestId: info.correlationId }, 'client went away; work dropped');
    else opts.logger.info({ requestId: info.correlationId, fault: info.faultName, reason: (err as Error)?.message }, 'fault');
  };
  const route = (key: keyof typeof SERVICE_WSDL_FILES, handlers: Record<string, SoapHandler<RequestContext>>): SoapRoute => {
    const service = loadService(path.join(WSDL_DIR, SERVICE_WSDL_FILES[key]));
    return { path: SERVICE_PATHS[key], service, endpoint: createSoapEndpoint<RequestContext>(service, handlers, { maxBytes: opts.maxBodyBytes, onError }) };
  };
  const licensing = runtime.licensing;
  const onItemError = (err: unknown, info: { correlationId: string; faultName: string; withheld: boolean }) => onError(err, undefined, info);
  const common = [
    route('certificationServer', serverServiceHandlers(runtime)),
    route('licensingServer', serverServiceHandlers(runtime)),
    route('publish', publishServiceHandlers(licensing)),
    route('editIssuanceLicense', editIssuanceLicenseServiceHandlers(licensing)),
    route('license', licenseServiceHandlers(licensing, { onItemError })),
    route('templateDistribution', templateDistributionServiceHandlers(licensing)),
    route(
      'groupExpansion',
      groupExpansionServiceHandlers({
        // Windows servers may send the address as `mail=user@…` (the binary interface's form).
        isPrincipalMemberOf: (ctx, r) =>
          licensing.isPrincipalMemberOf(ctx, { ...r, principalName: r.principalName?.replace(/^mail=/i, '') ?? null, targetGroups: r.targetGroups.map((g) => g.replace(/^mail=/i, '')) }),
      }),
    ),
    // Answers only once the cluster is decommissioned (ClusterNotDecommissioned before).
    route('decommission', decommissionServiceHandlers(licensing)),
  ];
  if (runtime.cluster.kind !== 'root') return common;
  return [
    ...common,
    route('certification', certificationServiceHandlers(licensing)),
    route('serverCertification', certificationServiceHandlers(licensing)),
    route('precertification', precertificationServiceHandlers(licensing)),
    // Only the root signs the SLCs of licensing-only clusters.
    route('subEnroll', subEnrollServiceHandlers(licensing)),
  ];
}

/** On a licensing-only cluster, certification belongs to the root: these paths are passed through. */
export function rootForwards(runtime: ClusterRuntime): { path: string; target: string }[] {
  const root = runtime.rootClusterUrl;
  if (runtime.cluster.kind !== 'licensing' || !root) return [];
  return (['certification', 'serverCertification', 'precertification'] as const).map((k) => ({
    path: SERVICE_PATHS[k],
    target: `${root}${SERVICE_PATHS[k]}`,
  }));
}
