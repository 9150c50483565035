export type ClusterKind = 'root' | 'licensing';

export type SlcRevocation = { kind: 'standard' } | { kind: 'custom'; authorityKeysPem: string[] };

export interface ClusterIdentity {
  id: string;
  kind: ClusterKind;
  name: string;
  /** Base URL of the cluster, e.g. http://rms.example.test/_wmcs */
  url: string;
}

/** Service paths, relative to the cluster's `_wmcs` base URL. */
export const SERVICE_PATHS = {
  certificationServer: '/certification/server.asmx',
  licensingServer: '/licensing/server.asmx',
  certification: '/certification/certification.asmx',
  serverCertification: '/certification/ServerCertification.asmx',
  subEnroll: '/certification/SubEnrollService.asmx',
  precertification: '/certification/Precertification.asmx',
  license: '/licensing/license.asmx',
  publish: '/licensing/publish.asmx',
  templateDistribution: '/licensing/templateDistribution.asmx',
  groupExpansion: '/groupexpansion/GroupExpansion.asmx',
  decommission: '/decommission/decommission.asmx',
  editIssuanceLicense: '/licensing/editissuancelicense.asmx',
} as const;

/** Validity of what the server issues unless policy says otherwise. */
export const DEFAULT_ISSUED_VALIDITY_YEARS = 7;
/** Validity of a server licensor certificate; it is renewed before it ends. */
export const SLC_VALIDITY_YEARS = 1;

/** Normalises a cluster URL to its `_wmcs` base without a trailing slash. */
export function clusterBaseUrl(url: string): string {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`cluster URL must be http(s): ${url}`);
  let path = u.pathname.replace(/\/+$/, '');
  if (!/\/_wmcs$/i.test(path)) path = `${path}/_wmcs`;
  return `${u.protocol}//${u.host}${path}`;
}
