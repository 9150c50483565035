import { createHmac, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import {
  type Clock,
  type DirectoryGroup,
  type DirectoryProvider,
  type DirectoryUser,
  isRmsError,
  newId,
  RmsError,
  type UserQuery,
} from '@openrms/domain';
import type { Store } from '@openrms/store';
import type { AuthenticatedPrincipal } from './authenticated-principal';
import type { LocalDirectory } from './local-directory';

export interface IdentitiesOptions {
  store: Store;
  clock: Clock;
  local: LocalDirectory;
  /** The cluster's Active Directory or LDAP directory, when one is configured. */
  external?: DirectoryProvider | undefined;
  /** How long a directory answer (found, not found, password right) is trusted. 0 = never cached. */
  cacheTtlMs: number;
  /**
   * How long the local tables' answer about an enabled person and the ids a principal is checked
   * against (their groups) are reused; 0 or absent = read on every request. The runtime sets it to
   * its refresh interval (at most 5 s) and forgets everything at each refresh, so a membership
   * change, a disabled or removed account takes effect within the interval DACL edits already take.
   */
  principalCacheTtlMs?: number;
  maxEntries?: number;
  /** Directory groups whose members count as members of the built-in groups. */
  serviceGroup?: string | null;
  adminGroup?: string | null;
  builtin: { administrators: string; serviceGroup: string; authenticated: string; everyone: string };
  /** Told once per failed directory call, with the reason (never a password). */
  onDirectoryError?: (reason: string) => void;
}

/** A person as the use-cases see them: the directory's answer and their row in this cluster. */
export interface ResolvedUser {
  user: DirectoryUser;
  principalId: string;
}

const lower = (s: string) => s.trim().toLowerCase();

/** The principal cache never outlives the runtime's default refresh interval. */
export const MAX_PRINCIPAL_CACHE_TTL_MS = 5000;

/** The keys a directory group is linked by: what administrators name it by (e-mail, name). */
export function directoryGroupKeys(g: Pick<DirectoryGroup, 'name' | 'email'>): string[] {
  return [...(g.email ? [`mail:${lower(g.email)}`] : []), `name:${lower(g.name)}`];
}

function groupMatches(g: DirectoryGroup, nameOrEmail: string): boolean {
  const want = lower(nameOrEmail);
  return lower(g.name) === want || (g.email !== null && lower(g.email) === want);
}

// Deliberately a subset of the local name rule, so a directory person's row never clashes with it.
const UNSAFE_NAME_CHARS = /[\s:\\/<>"]/g;

/**
 * Identity behind the Directory port (DESIGN.md §5): the cluster's own tables first, then the
 * configured directory. Directory answers are cached with a bound and a TTL; an answer older
 * than the TTL is never used, so a directory outage fails sign-on (AdEntrySearchFailed) once the
 * cached answers run out, and a disabled or deleted account is refused within the TTL.
 */
export class Identities {
  readonly #cache: LRUCache<string, { user: DirectoryUser | null }> | undefined;
  /** Successful directory password checks: an HMAC under a per-process key, never the password. */
  readonly #passwordChecks: LRUCache<string, true> | undefined;
  readonly #hmacKey = randomBytes(32);
  readonly #inFlight = new Map<string, Promise<DirectoryUser | undefined>>();
  /**
   * Short-lived answers of the local tables, so a request does not read the same rows again and
   * again (sign-on and rights evaluation read a person and their groups several times): enabled
   * local people by query (`u…`, never a miss or a disabled account, so a new or re-enabled
   * account is seen at once) and the ids a principal is checked against (`p…`).
   */
  #principals: LRUCache<string, DirectoryUser | AuthenticatedPrincipal> | undefined;

  constructor(private readonly o: IdentitiesOptions) {
    const max = o.maxEntries ?? 10_000;
    if (o.cacheTtlMs > 0) {
      this.#cache = new LRUCache({ max, ttl: o.cacheTtlMs, ttlAutopurge: false });
      this.#passwordChecks = new LRUCache({ max, ttl: Math.min(o.cacheTtlMs, 60_000) });
    }
    this.cachePrincipalsFor(o.principalCacheTtlMs ?? 0);
  }

  /** Starts (or stops, with 0) caching the local tables' answers for up to `ttlMs` (at most 5 s). */
  cachePrincipalsFor(ttlMs: number): void {
    const ttl = Math.min(ttlMs, MAX_PRINCIPAL_CACHE_TTL_MS);
    this.#principals = ttl > 0 ? new LRUCache({ max: this.o.maxEntries ?? 10_000, ttl, ttlAutopurge: false }) : undefined;
  }

  get external(): DirectoryProvider | undefined {
    return this.o.external;
  }

  get source(): 'local' | 'ad' | 'ldap' {
    return this.o.external?.source ?? 'local';
  }

  /** Forgets every cached directory answer (`rmsctl directory flush`, reached through the database). */
  flush(): void {
    this.#cache?.clear();
    this.#passwordChecks?.clear();
    this.forgetPrincipals();
  }

  /** Forgets the local tables' answers (the runtime calls it at every refresh). */
  forgetPrincipals(): void {
    this.#principals?.clear();
  }

  get cacheSize(): number {
    return this.#cache?.size ?? 0;
  }

  async close(): Promise<void> {
    this.flush();
    await this.o.external?.close();
  }

  /** The local tables, then the directory (cached); AdEntrySearchFailed when the directory cannot answer. */
  async findUser(q: UserQuery): Promise<DirectoryUser | undefined> {
    const local = await this.#localUser(q);
    if (local) return local;
    const ext = this.o.external;
    if (!ext) return undefined;
    const key = `${q.by}:${lower(q.value)}`;
    const hit = this.#cache?.get(key);
    if (hit) return hit.user ?? undefined;
    // Concurrent requests for one person share one directory round trip.
    let pending = this.#inFlight.get(key);
    if (!pending) {
      pending = this.#ask(() => ext.findUser(q)).finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, pending);
    }
    const user = await pending;
    this.#cache?.set(key, { user: user ?? null });
    return user;
  }

  async #localUser(q: UserQuery): Promise<DirectoryUser | undefined> {
    const cache = this.#principals;
    if (!cache) return this.o.local.findUser(q);
    const key = `u\0${q.by}\0${q.value}`;
    const hit = cache.get(key);
    if (hit) return hit as DirectoryUser;
    const user = await this.o.local.findUser(q);
    if (user && !user.disabled) cache.set(key, user);
    return user;
  }

  async findGroup(nameOrEmail: string): Promise<DirectoryGroup | undefined> {
    const local = await this.o.local.findGroup(nameOrEmail);
    if (local) return local;
    const ext = this.o.external;
    return ext ? this.#ask(() => ext.findGroup(nameOrEmail)) : undefined;
  }

  async #ask<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      this.o.onDirectoryError?.(reason);
      if (isRmsError(e, 'Unavailable') || !isRmsError(e)) {
        throw new RmsError('AdEntrySearchFailed', `the directory cannot be searched: ${reason}`, { cause: e });
      }
      throw e;
    }
  }

  /** HTTP Basic: a logon name and password; undefined when unknown, disabled or wrong. */
  async signOnWithPassword(logon: string, password: string): Promise<AuthenticatedPrincipal | undefined> {
    if (!logon || !password) return undefined;
    const user = await this.findUser({ by: 'logon', value: logon });
    if (!user || user.disabled) return undefined;
    const ok = user.source === 'local' ? await this.o.local.verifyPassword(user, password) : await this.#verifyDirectoryPassword(user, password);
    return ok ? this.principalOf(user) : undefined;
  }

  /** Negotiate: the client principal of a ticket the acceptor verified. */
  async signOnWithKerberos(clientPrincipal: string): Promise<AuthenticatedPrincipal | undefined> {
    const user = await this.findUser({ by: 'kerberos', value: clientPrincipal });
    if (!user || user.disabled) return undefined;
    return this.principalOf(user);
  }

  async #verifyDirectoryPassword(user: DirectoryUser, password: string): Promise<boolean> {
    const ext = this.o.external!;
    const id = createHmac('sha256', this.#hmacKey).update(`${user.source}\0${user.externalId}\0${user.dn ?? ''}\0`).update(password).digest('base64');
    if (this.#passwordChecks?.get(id)) return true;
    const ok = await this.#ask(() => ext.verifyPassword(user, password));
    if (ok) this.#passwordChecks?.set(id, true);
    return ok;
  }

  /** The row that stands for this person in the cluster (created on first sight for directory people). */
  async rowOf(user: DirectoryUser): Promise<string> {
    if (user.source === 'local') return user.externalId;
    const store = this.o.store;
    const found = await store.directoryLinks.findByExternalId(user.source, user.externalId);
    if (found) {
      if (found.dn !== user.dn) await store.directoryLinks.updateDn(found.principalId, user.dn);
      return found.principalId;
    }
    const base = (user.userPrincipalName ?? user.email ?? user.name).replace(UNSAFE_NAME_CHARS, '').slice(0, 100) || 'directory-user';
    const id = newId();
    try {
      await store.transaction(async (tx) => {
        // A local account may already use the name: the directory person's row gets a suffix.
        const name = (await tx.principals.findByName(base)) ? `${base}.${user.source}-${user.externalId.replace(/[^A-Za-z0-9]/g, '').slice(0, 12)}` : base;
        await tx.principals.createUser({ id, name, email: user.email, displayName: user.displayName, passwordHash: null, createdAt: this.o.clock.now() });
        await tx.directoryLinks.insert({ principalId: id, source: user.source, externalId: user.externalId, dn: user.dn, linkedAt: this.o.clock.now() });
      });
      return id;
    } catch (e) {
      // Another member linked the same person at the same moment: use its row.
      if (!isRmsError(e, 'AlreadyExists')) throw e;
      const again = await store.directoryLinks.findByExternalId(user.source, user.externalId);
      if (!again) throw e;
      return again.principalId;
    }
  }

  /**
   * The ids a DACL is checked against: the person's row, the local groups it is in, the rows of
   * the directory groups administrators named (and the local groups those are in), the built-in
   * groups the configured directory groups stand for, and the implicit groups.
   */
  async principalOf(user: DirectoryUser): Promise<AuthenticatedPrincipal> {
    const cache = this.#principals;
    if (!cache) return this.#principalOf(user);
    // Everything the answer depends on besides the tables: the directory's account and its groups.
    const groupKeys = user.source === 'local' ? '' : user.groups.flatMap(directoryGroupKeys).sort().join('\0');
    const key = `p\0${user.source}\0${user.externalId}\0${user.dn ?? ''}\0${user.email ?? ''}\0${user.aliases.join('\0')}\0${groupKeys}`;
    const hit = cache.get(key);
    if (hit) return hit as AuthenticatedPrincipal;
    const principal = await this.#principalOf(user);
    cache.set(key, principal);
    return principal;
  }

  async #principalOf(user: DirectoryUser): Promise<AuthenticatedPrincipal> {
    const store = this.o.store;
    const id = await this.rowOf(user);
    const ids = new Set<string>([id]);
    const addWithGroups = async (pid: string) => {
      ids.add(pid);
      for (const g of await store.principals.groupsOf(pid)) ids.add(g.id);
    };
    await addWithGroups(id);
    if (user.source !== 'local') {
      const keys = [...new Set(user.groups.flatMap(directoryGroupKeys))];
      for (const link of await store.directoryLinks.findManyByExternalId(user.source, keys)) await addWithGroups(link.principalId);
      const { serviceGroup, adminGroup } = this.o;
      if (serviceGroup && user.groups.some((g) => groupMatches(g, serviceGroup))) await addWithGroups(this.o.builtin.serviceGroup);
      if (adminGroup && user.groups.some((g) => groupMatches(g, adminGroup))) await addWithGroups(this.o.builtin.administrators);
    }
    ids.add(this.o.builtin.authenticated);
    ids.add(this.o.builtin.everyone);
    const row = await store.principals.get(id);
    return { id, name: row.name, email: user.email ?? '', principalIds: ids, aliases: user.aliases, source: user.source };
  }

  /** A user with the nesting path of each group, for `users show` and the admin pages. */
  async explainUser(q: UserQuery): Promise<ResolvedUser | undefined> {
    const user = await this.findUser(q);
    if (!user) return undefined;
    const withPaths = user.source === 'local' ? await this.o.local.withNestingPaths(user) : user;
    return { user: withPaths, principalId: await this.rowOf(user) };
  }

  /**
   * [MS-RMPRS] IsPrincipalMemberOf: is the person with this address in one of these groups
   * (named by e-mail)? False for unknown or disabled people.
   */
  async isMemberOfAny(email: string, groupEmails: readonly string[]): Promise<boolean> {
    const user = await this.findUser({ by: 'email', value: email });
    if (!user || user.disabled) return false;
    // Groups are named by e-mail on the wire; names are not identities across forests.
    const mine = new Set(user.groups.flatMap((g) => (g.email ? [lower(g.email)] : [])));
    return groupEmails.some((g) => mine.has(lower(g)));
  }
}
