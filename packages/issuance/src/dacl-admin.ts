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
import { queriesFor } from './directory-admin';
import { showDirectoryIn } from './directory-settings';
import { directoryGroupKeys, type Identities } from './identities';
import { withProvisionedStore } from './principal-admin';
import { checkPrincipalName, isValidEmail } from './principal-rules';

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
  /**
   * Asked before a reference to a directory group is created (a grant or deny naming neither a
   * local user nor a local group while a directory is configured): false refuses the change.
   * Callers that can reach the directory (the admin pages) pass one; rmsctl cannot without the
   * key password, so it creates the reference unasked and says so.
   */
  verifyGroup?: ((nameOrEmail: string) => Promise<boolean>) | undefined;
}

/** The principals row that stands for a directory group named in a DACL. */
export interface DirectoryGroupReference {
  source: 'ad' | 'ldap';
  externalId: string;
  /** True when this change created the row and its link (audited as directory.group.link). */
  created: boolean;
  /** Whether the directory was asked that the group exists (false: created unverified). */
  verified: boolean;
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
  /** Set when the principal is a directory group (a reference row linked to the configured directory). */
  directoryGroup?: DirectoryGroupReference;
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
  /** Who answered for the principal: the cluster's tables, or the directory (its groups as it says now). */
  source: 'local' | 'ad' | 'ldap';
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

function checkPrincipalInput(name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '') throw new RmsError('InvalidInput', 'a principal (user or group name) is required');
  if (name.length > 256) throw new RmsError('InvalidInput', 'the principal name is too long');
  return name.trim();
}

/** A user or group of this cluster by name, or a group by its e-mail address (what templates name it by). */
async function findLocalPrincipal(store: Store, name: string): Promise<PrincipalRow | undefined> {
  const byName = await store.principals.findByName(name);
  if (byName || !isValidEmail(name)) return byName;
  const mail = name.toLowerCase();
  return (await store.principals.list('group')).find((g) => g.email?.toLowerCase() === mail);
}

/** How a DACL names a directory group: by e-mail when it is one, otherwise by name (see directoryGroupKeys). */
function directoryGroupKey(nameOrEmail: string): string {
  return isValidEmail(nameOrEmail) ? directoryGroupKeys({ name: nameOrEmail, email: nameOrEmail })[0]! : directoryGroupKeys({ name: nameOrEmail, email: null })[0]!;
}

/**
 * The principal a DACL change names: a local user or group, or, when a directory is configured,
 * a directory group, found by its reference row or given one (created and linked in `tx`, audited).
 * Identities.principalOf puts that row among a directory person's ids when the directory says the
 * person is in a group of that name or e-mail, so the entry applies to the group's members.
 */
async function resolveDaclPrincipal(
  tx: Store,
  actor: string,
  name: string,
  opts: { create: boolean; verified: boolean; now: Date },
): Promise<{ principal: PrincipalRow; directoryGroup?: DirectoryGroupReference }> {
  const directory = await showDirectoryIn(tx);
  const local = directory ? await findLocalPrincipal(tx, name) : await tx.principals.findByName(name);
  if (local) {
    if (local.kind !== 'group' || !directory) return { principal: local };
    const link = await tx.directoryLinks.ofPrincipal(local.id);
    return link ? { principal: local, directoryGroup: { source: directory.kind, externalId: link.externalId, created: false, verified: false } } : { principal: local };
  }
  // Unknown names are a mistake in the request, not a missing resource of the DACL being edited.
  if (!directory) throw new RmsError('InvalidInput', `no user or group named "${name}"`);
  const source = directory.kind;
  const externalId = directoryGroupKey(name);
  const linked = await tx.directoryLinks.findByExternalId(source, externalId);
  if (linked) return { principal: await tx.principals.get(linked.principalId), directoryGroup: { source, externalId, created: false, verified: false } };
  if (!opts.create) throw new RmsError('InvalidInput', `no user or group named "${name}", and no directory group of that name is in any DACL`);
  checkPrincipalName(name, 'group');
  const principal = await tx.principals.createGroup({ id: newId(), name, email: isValidEmail(name) ? name : null, createdAt: opts.now });
  await tx.directoryLinks.insert({ principalId: principal.id, source, externalId, dn: null, linkedAt: opts.now });
  await tx.audit.append({
    at: opts.now,
    actor,
    action: 'directory.group.link',
    target: `${source}:${externalId}`,
    after: { principal: principal.name, id: principal.id, source, externalId, verified: opts.verified },
  });
  return { principal, directoryGroup: { source, externalId, created: true, verified: opts.verified } };
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
  const name = checkPrincipalInput(change.principal);
  let verified = false;
  // Asked before the transaction: a directory round trip must not hold the database's write lock.
  if (action !== 'revoke' && change.verifyGroup && (await showDirectoryIn(store)) && !(await findLocalPrincipal(store, name))) {
    if (!(await change.verifyGroup(name))) {
      throw new RmsError('InvalidInput', `no user or group named "${name}" here, and no group "${name}" in the directory`);
    }
    verified = true;
  }
  return store.transaction(async (tx) => {
    const now = clock.now();
    const { principal, directoryGroup } = await resolveDaclPrincipal(tx, actor, name, { create: action !== 'revoke', verified, now });
    const beforeRows = await tx.dacl.list(endpoint);
    const before = beforeRows.map(view);
    const base = { action, endpoint, principal: principal.name, right, ...(directoryGroup ? { directoryGroup } : {}) };
    const mine = beforeRows.filter((r) => r.principalId === principal.id && r.right === right);
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
 *
 * With `identities` (a server's Directory port), a person the local tables do not hold, or hold
 * only as a directory person's row, is resolved as at sign-on (Identities.principalOf): their
 * directory groups count through the reference rows DACLs name. Without it (rmsctl, which cannot
 * open the directory without the key password) only the local tables answer.
 */
export async function effectiveAccess(store: Store, endpoint: string, principalName: string, opts: { identities?: Identities } = {}): Promise<EffectiveAccess> {
  const ep = resolveDaclEndpoint(endpoint);
  const name = checkPrincipalInput(principalName);
  const local = await store.principals.findByName(name);
  if (opts.identities && (!local || (local.kind === 'user' && (await store.directoryLinks.ofPrincipal(local.id))))) {
    const viaDirectory = await directoryAccess(store, opts.identities, ep, name);
    if (viaDirectory) return viaDirectory;
  }
  if (!local) throw new RmsError('InvalidInput', `no user or group named "${name}"${opts.identities?.external ? ' here or in the directory' : ''}`);
  const p = local;
  const groups = await store.principals.groupsOf(p.id);
  const implicitNames: string[] =
    p.name === BUILTIN_GROUPS.everyone ? [] : p.name === BUILTIN_GROUPS.authenticatedUsers ? [BUILTIN_GROUPS.everyone] : [BUILTIN_GROUPS.authenticatedUsers, BUILTIN_GROUPS.everyone];
  const implicit = [];
  for (const n of implicitNames) {
    const g = await store.principals.findByName(n);
    if (g) implicit.push(g);
  }
  const applying = new Map<string, string>([[p.id, p.name], ...groups.map((g) => [g.id, g.name] as const), ...implicit.map((g) => [g.id, g.name] as const)]);
  return evaluateFor(store, ep, { principal: p.name, principalKind: p.kind, source: 'local', disabled: p.disabled }, applying);
}

/** A person as the Directory port resolves them for sign-on; undefined when it does not know them. */
async function directoryAccess(store: Store, identities: Identities, ep: string, name: string): Promise<EffectiveAccess | undefined> {
  for (const q of queriesFor(name)) {
    const user = await identities.findUser(q);
    if (!user) continue;
    const who = await identities.principalOf(user);
    const applying = new Map<string, string>([[who.id, who.name]]);
    for (const id of who.principalIds) {
      if (id === who.id) continue;
      applying.set(id, (await store.principals.find(id))?.name ?? id);
    }
    return evaluateFor(store, ep, { principal: who.name, principalKind: 'user', source: user.source, disabled: user.disabled }, applying);
  }
  return undefined;
}

async function evaluateFor(
  store: Store,
  ep: string,
  who: Pick<EffectiveAccess, 'principal' | 'principalKind' | 'source' | 'disabled'>,
  applying: Map<string, string>,
): Promise<EffectiveAccess> {
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
  return { endpoint: ep, ...who, memberOf: [...applying.values()].slice(1), rights };
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
