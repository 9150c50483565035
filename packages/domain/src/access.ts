import { SERVICE_PATHS } from './cluster';

export type DaclRight = 'Read' | 'Execute' | 'FullControl';
export type DaclEffect = 'allow' | 'deny';
export const DACL_RIGHTS: readonly DaclRight[] = ['Read', 'Execute', 'FullControl'];

export interface DaclEntryRule {
  endpoint: string;
  principalId: string;
  right: DaclRight;
  effect: DaclEffect;
}

/** Built-in group names created when a cluster is provisioned. */
export const BUILTIN_GROUPS = {
  administrators: 'RMS Administrators',
  serviceGroup: 'RMS Service Group',
  /** Implicit: every authenticated principal is a member. */
  authenticatedUsers: 'Authenticated Users',
  /** Implicit: every caller, authenticated or not. */
  everyone: 'Everyone',
} as const;

/** DACL endpoints are stored as lower-cased absolute paths, because IIS-style paths match in any case. */
export function normalizeEndpoint(p: string): string {
  const withSlash = p.startsWith('/') ? p : `/${p}`;
  return withSlash.toLowerCase().replace(/\/+$/, '');
}

export const WMCS_PREFIX = '/_wmcs';
export const endpointPath = (servicePath: string): string => normalizeEndpoint(WMCS_PREFIX + servicePath);

function implies(granted: DaclRight, wanted: DaclRight): boolean {
  return granted === 'FullControl' || granted === wanted;
}

export interface AccessDecision {
  allowed: boolean;
  /** Why, for audit and for the admin pages' "effective rights" view. */
  reason: 'denied-by-entry' | 'allowed-by-entry' | 'no-matching-entry';
}

/** Deny wins over allow; no matching entry means no access. */
export function evaluateAccess(
  entries: readonly DaclEntryRule[],
  endpoint: string,
  principalIds: ReadonlySet<string>,
  wanted: DaclRight,
): AccessDecision {
  const ep = normalizeEndpoint(endpoint);
  let allowed = false;
  for (const e of entries) {
    if (e.endpoint !== ep || !principalIds.has(e.principalId) || !implies(e.right, wanted)) continue;
    if (e.effect === 'deny') return { allowed: false, reason: 'denied-by-entry' };
    allowed = true;
  }
  return allowed ? { allowed, reason: 'allowed-by-entry' } : { allowed, reason: 'no-matching-entry' };
}

/** Endpoints that clients use after authenticating; they are open to every authenticated user by default. */
export const CLIENT_ENDPOINTS: readonly string[] = [
  SERVICE_PATHS.certificationServer,
  SERVICE_PATHS.licensingServer,
  SERVICE_PATHS.certification,
  SERVICE_PATHS.precertification,
  SERVICE_PATHS.license,
  SERVICE_PATHS.publish,
  SERVICE_PATHS.templateDistribution,
].map(endpointPath);

/**
 * Open only to the RMS service group until an administrator grants access. EditIssuanceLicense is
 * here because [MS-RMSI] §5.1.3 asks that republishing be limited to trusted callers.
 */
export const RESTRICTED_ENDPOINTS: readonly string[] = [
  SERVICE_PATHS.subEnroll,
  SERVICE_PATHS.serverCertification,
  SERVICE_PATHS.groupExpansion,
  SERVICE_PATHS.editIssuanceLicense,
  // Releases raw content keys once decommissioned ([MS-RMSI] §5.1.1): trusted callers only.
  SERVICE_PATHS.decommission,
].map(endpointPath);

export interface DefaultDaclPrincipals {
  administrators: string;
  serviceGroup: string;
  authenticatedUsers: string;
}

/** The DACL a newly provisioned cluster starts with (docs/adr/0004-default-dacls.md). */
export function defaultDacl(p: DefaultDaclPrincipals): DaclEntryRule[] {
  const rules: DaclEntryRule[] = [];
  const add = (endpoint: string, principalId: string, rights: DaclRight[]) => {
    for (const right of rights) rules.push({ endpoint, principalId, right, effect: 'allow' });
  };
  for (const ep of CLIENT_ENDPOINTS) {
    add(ep, p.administrators, ['FullControl']);
    add(ep, p.serviceGroup, ['Read', 'Execute']);
    add(ep, p.authenticatedUsers, ['Read', 'Execute']);
  }
  for (const ep of RESTRICTED_ENDPOINTS) add(ep, p.serviceGroup, ['Read', 'Execute']);
  return rules;
}
