import {
  type AccessDecision,
  BUILTIN_GROUPS,
  DACL_RIGHTS,
  type DaclEffect,
  type DaclRight,
  endpointPath,
  evaluateAccess,
  newId,
  normalizeEndpoint,
  RmsError,
  SERVICE_PATHS,
  systemClock,
  WMCS_PREFIX,
  type Clock,
} from '@openrms/domain';
import type { DaclEntryRow, PrincipalRow, Store } from '@openrms/store';
import { withProvisionedStore } from './principal-admin';

/** Every endpoint a DACL may name: all the services of SERVICE_PATHS, served now or later (SubEnrollService). */
export const DACL_ENDPOINTS: readonly string[] = Object.values(SERVICE_PATHS).map(endpointPath);

export type DaclAction = 'grant' | 'deny' | 'revoke';
export const DACL_ACTIONS: readonly DaclAction[] = ['grant', 'deny', 'revoke'];

export interface DaclEntryView {
  id: string;
  endpoint: string;
  principal: string;
  principalKind: 'user' | 'group';
  right: DaclRight;
  effect: DaclEffect;
  createdAt: Date;
  createdBy: string;
}

export interface DaclChange {
  action: DaclAction;
  endpoint: string;
  /** A user or group name, built-in groups included; any case. */
  principal: string;
  /** Read, Execute or FullControl, any case; validated here, so edges may pass what they were given. */
  right: string;
  /** Revoke only: which entry to remove (allow or deny); both when absent. */
  effect?: string | undefined;
}

export interface DaclChangeResult {
  action: DaclAction;
  endpoint: string;
  principal: string;
  right: DaclRight;
  /** False when a grant or deny found the entry already there: nothing was written or audited. */
  changed: boolean;
  /** Entries added (grant/deny) or removed (revoke). */
  entries: DaclEntryView[];
  before: DaclEntryView[];
  after: DaclEntryView[];
}

export interface EffectiveRight {
  right: DaclRight;
  allowed: boolean;
  reason: AccessDecision['reason'];
  /** The entries that decided: the deny entries when denied, the allow entries when allowed. */
  decidedBy: (DaclEntryView & { via: string })[];
}

export interface EffectiveAccess {
  endpoint: string;
  principal: string;
  principalKind: 'user' | 'group';
  disabled: boolean;
  /** The principal and every group whose entries apply to it, implicit groups included. */
  memberOf: string[];
  rights: EffectiveRight[];
}

const MAX_ENDPOINT_INPUT = 2048;

/**
 * The stored (lower-cased) form of an endpoint an administrator typed: with or without the /_wmcs
 * prefix, any case, or as a full URL of the cluster. Only the cluster's .asmx endpoints are accepted.
 */
export function resolveDaclEndpoint(input: string): string {
  if (typeof input !== 'string' || input.trim() === '') throw new RmsError('InvalidInput', 'an endpoint is required, e.g. /_wmcs/licensing/license.asmx');
  let p = input.trim();
  if (p.length > MAX_ENDPOINT_INPUT) throw new RmsError('InvalidInput', 'the endpoint is too long');
  if (/^https?:\/\//i.test(p)) {
    try {
      p = new URL(p).pathname;
    } catch {
      throw new RmsError('InvalidInput', `"${input}" is not a URL or path`);
    }
  }
  let ep = normalizeEndpoint(p);
  if (!ep.startsWith(`${WMCS_PREFIX}/`)) ep = normalizeEndpoint(WMCS_PREFIX + ep);
  if (!DACL_ENDPOINTS.includes(ep)) {
    throw new RmsError('InvalidInput', `"${input}" is not an endpoint of this server; one of: ${DACL_ENDPOINTS.join(', ')}`);
  }
  return ep;
}

/** Read, Execute or FullControl, in any case. */
export function parseDaclRight(input: string): DaclRight {
  const r = DACL_RIGHTS.find((x) => typeof input === 'string' && x.toLowerCase() === input.trim().toLowerCase());
  if (!r) throw new RmsError('InvalidInput', `"${input}" is not a DACL right; one of: ${DACL_RIGHTS.join(', ')}`);
  return r;
}

function parseEffect(input: unknown): DaclEffect | undefined {
  if (input === undefined || input === null) return undefined;
  if (input === 'allow' || input === 'deny') return input;
  throw new RmsError('InvalidInput', `effect must be allow or deny, got "${String(input)}"`);
}

function parseAction(input: unknown): DaclAction {
  if (typeof input === 'string' && (DACL_ACTIONS as readonly string[]).includes(input)) return input as DaclAction;
  throw new RmsError('InvalidInput', `action must be one of ${DACL_ACTIONS.join(', ')}, got "${String(input)}"`);
}

async function resolvePrincipal(store: Store, name: unknown): Promise<PrincipalRow> {
  if (typeof name !== 'string' || name.trim() === '') throw new RmsError('InvalidInput', 'a principal (user or group name) is required');
  if (name.length > 256) throw new RmsError('InvalidInput', 'the principal name is too long');
  const p = await store.principals.findByName(name.trim());
  // Unknown names are a mistake in the request, not a missing resource of the DACL being edited.
  if (!p) throw new RmsError('InvalidInput', `no user or group named "${name}"`);
  return p;
}

function view(r: DaclEntryRow): DaclEntryView {
  return {
    id: r.id,
    endpoint: r.endpoint,
    principal: r.principalName,
    principalKind: r.principalKind,
    right: r.right,
    effect: r.effect,
    createdAt: r.createdAt,
    createdBy: r.createdBy,
  };
}

/** What the audit log keeps of an entry: enough to read the change, stable across renames of ids. */
function audited(entries: DaclEntryView[]) {
  return entries.map((e) => ({ principal: e.principal, kind: e.principalKind, right: e.right, effect: e.effect }));
}

/** The DACL entries of one endpoint, or of all, ordered by endpoint, principal, right, effect. */
export async function listDacl(store: Store, endpoint?: string): Promise<DaclEntryView[]> {
  const ep = endpoint === undefined ? undefined : resolveDaclEndpoint(endpoint);
  return (await store.dacl.list(ep)).map(view);
}

/**
 * Grants (allow entry), denies (deny entry) or revokes (removes the matching entries) one right of
 * one principal on one endpoint: validated, in one transaction, audited with the endpoint's entries
 * before and after, and the configuration version bumped so every member notices.
 */
export async function changeDacl(store: Store, actor: string, change: DaclChange, clock: Clock = systemClock): Promise<DaclChangeResult> {
  const action = parseAction(change.action);
  const endpoint = resolveDaclEndpoint(change.endpoint);
  const right = parseDaclRight(change.right);
  const effect = parseEffect(change.effect);
  if (action !== 'revoke' && effect !== undefined && effect !== (action === 'grant' ? 'allow' : 'deny')) {
    throw new RmsError('InvalidInput', `effect ${effect} contradicts ${action}; effect only chooses what revoke removes`);
  }
  return store.transaction(async (tx) => {
    const principal = await resolvePrincipal(tx, change.principal);
    const beforeRows = await tx.dacl.list(endpoint);
    const before = beforeRows.map(view);
    const base = { action, endpoint, principal: principal.name, right };
    const mine = beforeRows.filter((r) => r.principalId === principal.id && r.right === right);
    const now = clock.now();
    let entries: DaclEntryView[];
    if (action === 'revoke') {
      entries = mine.filter((r) => effect === undefined || r.effect === effect).map(view);
      if (entries.length === 0) {
        throw new RmsError('NotFound', `${endpoint} has no ${effect ?? 'allow or deny'} entry for ${right} of "${principal.name}"`);
      }
      for (const e of entries) await tx.dacl.remove(e.id);
    } else {
      const wanted: DaclEffect = action === 'grant' ? 'allow' : 'deny';
      const existing = mine.find((r) => r.effect === wanted);
      if (existing) return { ...base, changed: false, entries: [view(existing)], before, after: before };
      const row = await tx.dacl.add({ id: newId(), endpoint, principalId: principal.id, right, effect: wanted, createdAt: now, createdBy: actor });
      entries = [view(row)];
    }
    const after = (await tx.dacl.list(endpoint)).map(view);
    await tx.settings.bumpConfigVersion();
    await tx.audit.append({ at: now, actor, action: `dacl.${action}`, target: endpoint, before: audited(before), after: audited(after) });
    return { ...base, changed: true, entries, before, after };
  });
}

/**
 * What a principal gets on an endpoint, right by right, and why: the same evaluation the servers
 * run (deny wins, no entry is no access), over the principal, its groups through any nesting and
 * the implicit groups. A user or a group's members are authenticated callers, so both implicit
 * groups apply; `Everyone` alone stands for unauthenticated callers.
 */
export async function effectiveAccess(store: Store, endpoint: string, principalName: string): Promise<EffectiveAccess> {
  const ep = resolveDaclEndpoint(endpoint);
  const p = await resolvePrincipal(store, principalName);
  const groups = await store.principals.groupsOf(p.id);
  const implicitNames: string[] =
    p.name === BUILTIN_GROUPS.everyone ? [] : p.name === BUILTIN_GROUPS.authenticatedUsers ? [BUILTIN_GROUPS.everyone] : [BUILTIN_GROUPS.authenticatedUsers, BUILTIN_GROUPS.everyone];
  const implicit = [];
  for (const n of implicitNames) {
    const g = await store.principals.findByName(n);
    if (g) implicit.push(g);
  }
  const applying = new Map<string, string>([[p.id, p.name], ...groups.map((g) => [g.id, g.name] as const), ...implicit.map((g) => [g.id, g.name] as const)]);
  const rows = await store.dacl.list(ep);
  const ids = new Set(applying.keys());
  const rules = rows.map((r) => ({ endpoint: r.endpoint, principalId: r.principalId, right: r.right, effect: r.effect }));
  const rights = DACL_RIGHTS.map((right): EffectiveRight => {
    const decision = evaluateAccess(rules, ep, ids, right);
    const deciding: DaclEffect | undefined = decision.reason === 'denied-by-entry' ? 'deny' : decision.reason === 'allowed-by-entry' ? 'allow' : undefined;
    const decidedBy = rows
      .filter((r) => deciding !== undefined && r.effect === deciding && ids.has(r.principalId) && (r.right === 'FullControl' || r.right === right))
      .map((r) => ({ ...view(r), via: applying.get(r.principalId)! }));
    return { right, allowed: decision.allowed, reason: decision.reason, decidedBy };
  });
  return { endpoint: ep, principal: p.name, principalKind: p.kind, disabled: p.disabled, memberOf: [...applying.values()].slice(1), rights };
}

/** listDacl on the database at `databaseUrl` (rmsctl). */
export function listDaclAt(databaseUrl: string, endpoint?: string): Promise<DaclEntryView[]> {
  return withProvisionedStore(databaseUrl, (store) => listDacl(store, endpoint));
}

/** changeDacl on the database at `databaseUrl` (rmsctl); members pick the change up at their next refresh. */
export function changeDaclAt(databaseUrl: string, actor: string, change: DaclChange, clock: Clock = systemClock): Promise<DaclChangeResult> {
  return withProvisionedStore(databaseUrl, (store) => changeDacl(store, actor, change, clock));
}

/** effectiveAccess on the database at `databaseUrl` (rmsctl). */
export function effectiveAccessAt(databaseUrl: string, endpoint: string, principalName: string): Promise<EffectiveAccess> {
  return withProvisionedStore(databaseUrl, (store) => effectiveAccess(store, endpoint, principalName));
}
