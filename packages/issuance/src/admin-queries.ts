import { BUILTIN_GROUPS, type Clock, newId, RmsError, systemClock } from '@openrms/domain';
import type { AuditEntry, PrincipalRow, RequestLogEntry, Store, TemplateRow } from '@openrms/store';
import { keepingAnAdministrator } from './manage-principals';
import { hashPassword } from './passwords';
import type { AddUserInput } from './add-user-input';
import { checkPrincipalName, IMPLICIT_GROUPS, isValidEmail } from './principal-rules';
import { SETTINGS } from './settings';

/*
 * Store-taking forms of the administrative use-cases, for a running server (the admin pages): the
 * rmsctl forms in principal-admin, policy-admin, template-admin and cluster-admin open the database
 * from a URL themselves. Each change is validated before anything is written, runs in one
 * transaction and is audited under the administrator's name.
 */


export interface UserSummary {
  name: string;
  email: string | null;
  displayName: string | null;
  builtin: boolean;
  disabled: boolean;
  /** Groups it is a direct member of. */
  groups: string[];
}

export interface GroupSummary {
  name: string;
  email: string | null;
  builtin: boolean;
  /** Implicit groups (Authenticated Users, Everyone) have no stored members. */
  implicit: boolean;
  /** Direct members, users and groups. */
  members: string[];
}

/** Every user and group with their direct memberships, ordered by name. */
export async function listPrincipalsIn(store: Store): Promise<{ users: UserSummary[]; groups: GroupSummary[] }> {
  const all = await store.principals.list();
  const groupsOf = new Map<string, string[]>();
  const groups: GroupSummary[] = [];
  for (const g of all.filter((p) => p.kind === 'group')) {
    const members = await store.principals.membersOf(g.id);
    for (const m of members) groupsOf.set(m.id, [...(groupsOf.get(m.id) ?? []), g.name]);
    groups.push({ name: g.name, email: g.email, builtin: g.builtin, implicit: IMPLICIT_GROUPS.has(g.name), members: members.map((m) => m.name) });
  }
  const users = all
    .filter((p) => p.kind === 'user')
    .map((u) => ({ name: u.name, email: u.email, displayName: u.displayName, builtin: u.builtin, disabled: u.disabled, groups: groupsOf.get(u.id) ?? [] }));
  return { users, groups };
}

async function storedGroup(tx: Store, name: string): Promise<PrincipalRow> {
  if (IMPLICIT_GROUPS.has(name)) throw new RmsError('InvalidInput', `"${name}" is implicit: its members cannot be changed`);
  const row = await tx.principals.findByName(name);
  if (!row || row.kind !== 'group') throw new RmsError('NotFound', `group "${name}" does not exist; add it first`);
  return row;
}

/** addUser on an open store; the actor is the administrator. */
export async function addUserIn(store: Store, actor: string, input: AddUserInput, clock: Clock = systemClock) {
  const name = input.name.trim();
  const email = input.email.trim();
  checkPrincipalName(name, 'user');
  if (!isValidEmail(email)) throw new RmsError('InvalidInput', `"${input.email}" is not a valid e-mail address`);
  const passwordHash = await hashPassword(input.password);
  return store.transaction(async (tx) => {
    if (await tx.principals.findByName(name)) throw new RmsError('AlreadyExists', `a user or group named "${name}" already exists`);
    const groups: PrincipalRow[] = [];
    for (const g of new Set(input.groups)) groups.push(await storedGroup(tx, g));
    // The e-mail is the identity certificates carry: two users must not share one.
    if (await tx.principals.findUserByEmail(email)) throw new RmsError('AlreadyExists', `another user already has the e-mail address ${email}`);
    const id = newId();
    const now = clock.now();
    await tx.principals.createUser({ id, name, email, displayName: input.displayName?.trim() || null, passwordHash, builtin: false, createdAt: now });
    for (const g of groups) await tx.principals.addMember(g.id, id);
    await tx.audit.append({ at: now, actor, action: 'user.add', target: name, after: { email, groups: groups.map((g) => g.name) } });
    return { id, name, email, groups: groups.map((g) => g.name) };
  });
}

/** addGroup on an open store. */
export async function addGroupIn(store: Store, actor: string, input: { name: string; email?: string | undefined }, clock: Clock = systemClock) {
  const name = input.name.trim();
  const email = input.email?.trim() || undefined;
  checkPrincipalName(name, 'group');
  if (email !== undefined && !isValidEmail(email)) throw new RmsError('InvalidInput', `"${email}" is not a valid e-mail address`);
  return store.transaction(async (tx) => {
    if (await tx.principals.findByName(name)) throw new RmsError('AlreadyExists', `a user or group named "${name}" already exists`);
    const id = newId();
    const now = clock.now();
    await tx.principals.createGroup({ id, name, email: email ?? null, builtin: false, createdAt: now });
    await tx.audit.append({ at: now, actor, action: 'group.add', target: name, after: { email: email ?? null } });
    return { id, name };
  });
}

export interface MembershipChange {
  action: 'add' | 'remove';
  group: string;
  /** A user or a group (groups nest). */
  member: string;
}

/** Adds a user or group to a group, or removes it; audited. Changes reach members at their next refresh. */
export async function changeMembershipIn(store: Store, actor: string, change: MembershipChange, clock: Clock = systemClock): Promise<{ changed: boolean }> {
  if (change.action !== 'add' && change.action !== 'remove') throw new RmsError('InvalidInput', 'the membership action is add or remove');
  return store.transaction(async (tx) => {
    const group = await storedGroup(tx, change.group.trim());
    const member = await tx.principals.findByName(change.member.trim());
    if (!member) throw new RmsError('InvalidInput', `no user or group named "${change.member}"`);
    if (member.id === group.id) throw new RmsError('InvalidInput', 'a group cannot be a member of itself');
    const direct = (await tx.principals.membersOf(group.id)).some((m) => m.id === member.id);
    if (change.action === 'add') {
      if (direct) return { changed: false };
      if (member.kind === 'group' && (await tx.principals.groupsOf(group.id)).some((g) => g.id === member.id)) {
        throw new RmsError('InvalidInput', `"${group.name}" is already inside "${member.name}": nesting them both ways makes a cycle`);
      }
      await tx.principals.addMember(group.id, member.id);
    } else {
      if (!direct) throw new RmsError('NotFound', `"${member.name}" is not a direct member of "${group.name}"`);
      await keepingAnAdministrator(tx, `removing "${member.name}" from "${group.name}" leaves ${BUILTIN_GROUPS.administrators} without an enabled member: add another administrator first`, () =>
        tx.principals.removeMember(group.id, member.id),
      );
    }
    const now = clock.now();
    // Group membership decides DACL access: members re-read on a version change.
    await tx.settings.bumpConfigVersion();
    await tx.audit.append({ at: now, actor, action: `group.member.${change.action}`, target: group.name, after: { member: member.name, kind: member.kind } });
    return { changed: true };
  });
}

/** Every template of the cluster, published and archived, by name. */
export async function listTemplatesIn(store: Store): Promise<TemplateRow[]> {
  return store.templates.list((await store.clusters.get()).id);
}

/** archiveTemplate on an open store. */
export async function archiveTemplateIn(store: Store, actor: string, nameOrGuid: string, clock: Clock = systemClock): Promise<TemplateRow> {
  return store.transaction(async (tx) => {
    const cluster = await tx.clusters.get();
    const t = (await tx.templates.find(cluster.id, nameOrGuid)) ?? (await tx.templates.findByName(cluster.id, nameOrGuid));
    if (!t) throw new RmsError('NotFound', `no template "${nameOrGuid}"`);
    if (t.status === 'archived') throw new RmsError('InvalidInput', `template "${t.name}" is already archived`);
    const now = clock.now();
    await tx.templates.archive(cluster.id, t.id, now);
    await tx.settings.bumpConfigVersion();
    await tx.audit.append({ at: now, actor, action: 'template.archive', target: t.id, before: { status: t.status }, after: { status: 'archived' } });
    return { ...t, status: 'archived' as const, archivedAt: now };
  });
}

export interface RequestLogFilter {
  /** Principal name, exact, any case. */
  user?: string | undefined;
  /** Part of the operation name, any case. */
  operation?: string | undefined;
  /** 'ok', 'error' (anything but ok) or part of the result, any case. */
  result?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  /** How many of the newest entries to search. */
  scan?: number;
  /** How many matches to return. */
  limit?: number;
}

export const REQUEST_LOG_SCAN = { default: 5000, max: 20_000 } as const;

/**
 * Filters the newest `scan` request-log entries in memory, newest first. The log is for looking at
 * recent traffic; a bounded scan keeps the page fast without an index per filter.
 */
export async function searchRequestLogIn(store: Store, f: RequestLogFilter): Promise<{ entries: RequestLogEntry[]; scanned: number; scanLimit: number; more: boolean }> {
  const scanLimit = Math.min(Math.max(1, Math.floor(f.scan ?? REQUEST_LOG_SCAN.default)), REQUEST_LOG_SCAN.max);
  const limit = Math.max(1, Math.floor(f.limit ?? 200));
  const rows = (await store.requestLog.tail(scanLimit)).reverse();
  const user = f.user?.trim().toLowerCase() || undefined;
  const op = f.operation?.trim().toLowerCase() || undefined;
  const result = f.result?.trim().toLowerCase() || undefined;
  const matches = rows.filter(
    (r) =>
      (user === undefined || (r.principal ?? '').toLowerCase() === user) &&
      (op === undefined || r.operation.toLowerCase().includes(op)) &&
      (result === undefined || (result === 'ok' ? r.result === 'ok' : result === 'error' ? r.result !== 'ok' : r.result.toLowerCase().includes(result))) &&
      (f.from === undefined || r.at >= f.from) &&
      (f.to === undefined || r.at <= f.to),
  );
  return { entries: matches.slice(0, limit), scanned: rows.length, scanLimit, more: matches.length > limit };
}

export interface JobState {
  /** Settings the renewal and expiry jobs keep (SETTINGS keys about runs), undefined when never written. */
  settings: { key: string; value: unknown }[];
  /** The newest audit entries of the SLC jobs (renewals, expiry warnings, sub-enrollments). */
  recent: AuditEntry[];
}

const JOB_SETTING = /last|warn|sweep|run|expir/i;
const JOB_AUDIT = /^(slc|expiry|jobs?)\./;

/** What the SLC renewal and expiry jobs left behind in the database. */
export async function readJobStateIn(store: Store, auditScan = 500): Promise<JobState> {
  const keys = [...new Set(Object.values(SETTINGS).filter((k) => JOB_SETTING.test(k)))];
  const settings = [];
  for (const key of keys) settings.push({ key, value: await store.settings.get(key) });
  const recent = (await store.audit.list({ limit: auditScan })).filter((a) => JOB_AUDIT.test(a.action)).slice(0, 20);
  return { settings, recent };
}

/** For forms that say how long a password must be. */
export { MIN_USER_PASSWORD_LENGTH } from './passwords';
