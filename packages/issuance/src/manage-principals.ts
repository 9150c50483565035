import { BUILTIN_GROUPS, type Clock, RmsError, systemClock } from '@openrms/domain';
import type { PrincipalKind, PrincipalRow, Store } from '@openrms/store';
import { hashPassword } from './passwords';
import { readPolicies } from './policies';
import { IMPLICIT_GROUPS } from './principal-rules';

/*
 * Store-taking forms of user and group administration beyond adding (admin pages; rmsctl goes
 * through the URL-taking forms in principal-admin). Each change is validated before anything is
 * written, runs in one transaction, bumps the configuration version (membership and DACL entries
 * decide access on every member) and is audited under the actor's name.
 */

/** Where a principal's row comes from: this cluster's accounts, or a directory person or group. */
export type PrincipalSource = 'local' | 'ad' | 'ldap';

export interface UserListEntry {
  name: string;
  email: string | null;
  displayName: string | null;
  source: PrincipalSource;
  builtin: boolean;
  disabled: boolean;
  /** Groups it is a direct member of. */
  groups: string[];
  createdAt: string;
}

export interface GroupListEntry {
  name: string;
  email: string | null;
  source: PrincipalSource;
  builtin: boolean;
  /** Authenticated Users and Everyone: every caller is in them, nobody is stored. */
  implicit: boolean;
  /** Direct members, users and groups. */
  members: string[];
  createdAt: string;
}

export interface GroupDescription extends Omit<GroupListEntry, 'members'> {
  /** Direct members. */
  members: { name: string; kind: PrincipalKind }[];
  /** Members through nested groups (not direct), each with the chain of groups it is reached through. */
  nestedMembers: { name: string; kind: PrincipalKind; via: string[] }[];
  /** Groups this group is in, through any nesting. */
  memberOf: string[];
  /** DACL entries that name this group. */
  daclEntries: number;
}

/** What removing a user takes away with it. */
export interface UserRemoval {
  name: string;
  email: string | null;
  source: PrincipalSource;
  groups: string[];
  daclEntries: number;
  racKey: boolean;
}

export interface GroupRemoval {
  name: string;
  members: string[];
  memberOf: string[];
  daclEntries: number;
}

async function sourceOf(store: Store, id: string): Promise<PrincipalSource> {
  const link = await store.directoryLinks.ofPrincipal(id);
  return link ? (link.source as PrincipalSource) : 'local';
}

const SOURCE_NAMES: Record<PrincipalSource, string> = { local: "this cluster's accounts", ad: 'Active Directory', ldap: 'the LDAP directory' };

async function storedUser(store: Store, name: string): Promise<PrincipalRow> {
  const n = name.trim();
  if (!n) throw new RmsError('InvalidInput', 'name a user');
  const row = await store.principals.findByName(n);
  if (!row) throw new RmsError('NotFound', `no user "${n}"`);
  if (row.kind !== 'user') throw new RmsError('InvalidInput', `"${row.name}" is a group, not a user`);
  return row;
}

async function storedGroupRow(store: Store, name: string): Promise<PrincipalRow> {
  const n = name.trim();
  if (!n) throw new RmsError('InvalidInput', 'name a group');
  const row = await store.principals.findByName(n);
  if (!row) throw new RmsError('NotFound', `no group "${n}"`);
  if (row.kind !== 'group') throw new RmsError('InvalidInput', `"${row.name}" is a user, not a group`);
  return row;
}

/**
 * Every stored member of a group through any nesting, breadth first, each with the shortest chain
 * of groups below `groupId` it is reached through (empty for direct members). Cycles are harmless.
 */
async function membersThroughNesting(store: Store, groupId: string): Promise<{ row: PrincipalRow; via: string[] }[]> {
  const seen = new Set<string>([groupId]);
  const out: { row: PrincipalRow; via: string[] }[] = [];
  let frontier: { id: string; via: string[] }[] = [{ id: groupId, via: [] }];
  while (frontier.length > 0) {
    const next: { id: string; via: string[] }[] = [];
    for (const f of frontier) {
      for (const m of await store.principals.membersOf(f.id)) {
        if (seen.has(m.id)) continue;
        seen.add(m.id);
        out.push({ row: m, via: f.via });
        if (m.kind === 'group') next.push({ id: m.id, via: [...f.via, m.name] });
      }
    }
    frontier = next;
  }
  return out;
}

/** Enabled users in RMS Administrators, directly or through nested groups. */
async function enabledAdministrators(store: Store): Promise<number> {
  const admins = await store.principals.findByName(BUILTIN_GROUPS.administrators);
  if (!admins) return 0;
  return (await membersThroughNesting(store, admins.id)).filter((m) => m.row.kind === 'user' && !m.row.disabled).length;
}

/**
 * Runs a change and refuses it (rolling the transaction back) when it leaves RMS Administrators
 * without an enabled member that had one: nobody could use the admin pages or API any more.
 * A cluster whose administrators come from a directory group may have none stored; that is left alone.
 */
export async function keepingAnAdministrator<T>(tx: Store, refusal: string, change: () => Promise<T>): Promise<T> {
  const before = await enabledAdministrators(tx);
  const result = await change();
  if (before > 0 && (await enabledAdministrators(tx)) === 0) throw new RmsError('InvalidInput', refusal);
  return result;
}

async function daclEntriesOf(store: Store, principalId: string): Promise<number> {
  return (await store.dacl.list()).filter((e) => e.principalId === principalId).length;
}

/** Every user with its direct groups and where it comes from, ordered by name. */
export async function listUsersIn(store: Store): Promise<UserListEntry[]> {
  const links = new Map((await store.directoryLinks.list()).map((l) => [l.principalId, l.source as PrincipalSource]));
  const out: UserListEntry[] = [];
  for (const u of await store.principals.list('user')) {
    out.push({
      name: u.name,
      email: u.email,
      displayName: u.displayName,
      source: links.get(u.id) ?? 'local',
      builtin: u.builtin,
      disabled: u.disabled,
      groups: (await store.principals.directGroupsOf(u.id)).map((g) => g.name),
      createdAt: u.createdAt.toISOString(),
    });
  }
  return out;
}

/** Every group with its direct members, ordered by name. */
export async function listGroupsIn(store: Store): Promise<GroupListEntry[]> {
  const links = new Map((await store.directoryLinks.list()).map((l) => [l.principalId, l.source as PrincipalSource]));
  const out: GroupListEntry[] = [];
  for (const g of await store.principals.list('group')) {
    out.push({
      name: g.name,
      email: g.email,
      source: links.get(g.id) ?? 'local',
      builtin: g.builtin,
      implicit: IMPLICIT_GROUPS.has(g.name),
      members: (await store.principals.membersOf(g.id)).map((m) => m.name),
      createdAt: g.createdAt.toISOString(),
    });
  }
  return out;
}

/** One group: direct and nested members, the groups it is in, how many DACL entries name it. */
export async function showGroupIn(store: Store, name: string): Promise<GroupDescription> {
  const g = await storedGroupRow(store, name);
  const all = await membersThroughNesting(store, g.id);
  return {
    name: g.name,
    email: g.email,
    source: await sourceOf(store, g.id),
    builtin: g.builtin,
    implicit: IMPLICIT_GROUPS.has(g.name),
    members: all.filter((m) => m.via.length === 0).map((m) => ({ name: m.row.name, kind: m.row.kind })),
    nestedMembers: all.filter((m) => m.via.length > 0).map((m) => ({ name: m.row.name, kind: m.row.kind, via: m.via })),
    memberOf: (await store.principals.groupsOf(g.id)).map((p) => p.name),
    daclEntries: await daclEntriesOf(store, g.id),
    createdAt: g.createdAt.toISOString(),
  };
}

async function userRemovalOf(store: Store, u: PrincipalRow): Promise<UserRemoval> {
  return {
    name: u.name,
    email: u.email,
    source: await sourceOf(store, u.id),
    groups: (await store.principals.directGroupsOf(u.id)).map((g) => g.name),
    daclEntries: await daclEntriesOf(store, u.id),
    racKey: (await store.userKeys.find(u.id)) !== undefined,
  };
}

/** What `removeUserIn` would take away, for a confirmation; refuses as it would. */
export async function previewUserRemovalIn(store: Store, name: string): Promise<UserRemoval> {
  const u = await storedUser(store, name);
  if (u.builtin) throw builtinUser(u);
  return userRemovalOf(store, u);
}

const builtinUser = (u: PrincipalRow) => new RmsError('InvalidInput', `"${u.name}" is a built-in account (the cluster's service account): it cannot be removed or disabled`);

/**
 * Removes a user's row with its memberships, DACL entries and RAC key pair. Built-in accounts and
 * the last enabled administrator are refused. A directory person's row may go too: it is created
 * again (with a new key pair) the next time the person signs on.
 */
export async function removeUserIn(store: Store, actor: string, name: string, clock: Clock = systemClock): Promise<UserRemoval> {
  return store.transaction(async (tx) => {
    const u = await storedUser(tx, name);
    if (u.builtin) throw builtinUser(u);
    const removal = await userRemovalOf(tx, u);
    await keepingAnAdministrator(tx, `"${u.name}" is the last enabled administrator: add another member to ${BUILTIN_GROUPS.administrators} first`, () => tx.principals.remove(u.id));
    await tx.settings.bumpConfigVersion();
    await tx.audit.append({ at: clock.now(), actor, action: 'user.remove', target: u.name, before: removal });
    return removal;
  });
}

/**
 * Disables (no sign-on, no RAC, no licence) or enables a local user. Directory people are disabled
 * in the directory; built-in accounts and the last enabled administrator are refused.
 */
export async function setUserDisabledIn(store: Store, actor: string, name: string, disabled: boolean, clock: Clock = systemClock): Promise<{ name: string; disabled: boolean; changed: boolean }> {
  return store.transaction(async (tx) => {
    const u = await storedUser(tx, name);
    const source = await sourceOf(tx, u.id);
    if (source !== 'local') {
      throw new RmsError('InvalidInput', `"${u.name}" comes from ${SOURCE_NAMES[source]}: ${disabled ? 'disable' : 'enable'} the account there (members notice within the directory cache time)`);
    }
    if (u.builtin && disabled) throw builtinUser(u);
    if (u.disabled === disabled) return { name: u.name, disabled, changed: false };
    await keepingAnAdministrator(tx, `"${u.name}" is the last enabled administrator: add another member to ${BUILTIN_GROUPS.administrators} first`, () => tx.principals.setDisabled(u.id, disabled));
    await tx.settings.bumpConfigVersion();
    await tx.audit.append({ at: clock.now(), actor, action: disabled ? 'user.disable' : 'user.enable', target: u.name, before: { disabled: u.disabled }, after: { disabled } });
    return { name: u.name, disabled, changed: true };
  });
}

/** Sets a local user's password (the rule of hashPassword applies); directory people change theirs in the directory. */
export async function setUserPasswordIn(store: Store, actor: string, name: string, password: string, clock: Clock = systemClock): Promise<{ name: string }> {
  // Checked and hashed before the transaction: scrypt is slow, and a short password writes nothing.
  const passwordHash = await hashPassword(password);
  return store.transaction(async (tx) => {
    const u = await storedUser(tx, name);
    const source = await sourceOf(tx, u.id);
    if (source !== 'local') throw new RmsError('InvalidInput', `"${u.name}" signs on with a password of ${SOURCE_NAMES[source]}: change it there`);
    await tx.principals.setPasswordHash(u.id, passwordHash);
    // Never the password or its hash.
    await tx.audit.append({ at: clock.now(), actor, action: 'user.passwd', target: u.name, after: { passwordChanged: true } });
    return { name: u.name };
  });
}

async function groupRemovalOf(store: Store, g: PrincipalRow): Promise<GroupRemoval> {
  return {
    name: g.name,
    members: (await store.principals.membersOf(g.id)).map((m) => m.name),
    memberOf: (await store.principals.directGroupsOf(g.id)).map((p) => p.name),
    daclEntries: await daclEntriesOf(store, g.id),
  };
}

async function removableGroup(store: Store, name: string): Promise<PrincipalRow> {
  const g = await storedGroupRow(store, name);
  if (IMPLICIT_GROUPS.has(g.name)) throw new RmsError('InvalidInput', `"${g.name}" is implicit (every ${g.name === BUILTIN_GROUPS.everyone ? 'caller' : 'signed-on user'} is in it): it cannot be removed`);
  if (g.builtin) throw new RmsError('InvalidInput', `"${g.name}" is a built-in group: it cannot be removed`);
  const su = (await readPolicies(store)).superUsers;
  if (su.enabled && su.group?.trim().toLowerCase() === g.name.toLowerCase()) {
    throw new RmsError('InvalidInput', `"${g.name}" is the super users group: turn super users off or name another group first`);
  }
  return g;
}

/** What `removeGroupIn` would take away, for a confirmation; refuses as it would. */
export async function previewGroupRemovalIn(store: Store, name: string): Promise<GroupRemoval> {
  return groupRemovalOf(store, await removableGroup(store, name));
}

/**
 * Removes a group with its memberships (its members stay) and DACL entries. Built-in and implicit
 * groups, the super users group, and a group whose removal leaves no enabled administrator are refused.
 */
export async function removeGroupIn(store: Store, actor: string, name: string, clock: Clock = systemClock): Promise<GroupRemoval> {
  return store.transaction(async (tx) => {
    const g = await removableGroup(tx, name);
    const removal = await groupRemovalOf(tx, g);
    await keepingAnAdministrator(tx, `removing "${g.name}" leaves ${BUILTIN_GROUPS.administrators} without an enabled member: add an administrator directly first`, () => tx.principals.remove(g.id));
    await tx.settings.bumpConfigVersion();
    await tx.audit.append({ at: clock.now(), actor, action: 'group.remove', target: g.name, before: removal });
    return removal;
  });
}
