import type { Clock, DirectoryGroup, DirectoryProvider, DirectoryUser, UserQuery } from '@openrms/domain';
import type { PrincipalRow, Store } from '@openrms/store';
import { VerifiedPasswordCache } from './passwords';

/**
 * The cluster's own tables as a directory: the embedded default, and the built-in accounts
 * (the first administrator, service accounts) beside an external directory. Rows that stand for
 * a directory person (directory_links) are not local people: the directory answers for them.
 */
export class LocalDirectory implements DirectoryProvider {
  readonly source = 'local' as const;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    /** Kerberos principals of this realm map to the local account named like their first part. */
    private readonly kerberosRealm: string | null = null,
    private readonly passwords = new VerifiedPasswordCache(),
  ) {}

  async findUser(q: UserQuery): Promise<DirectoryUser | undefined> {
    const row = await this.#row(q);
    if (!row || row.kind !== 'user') return undefined;
    if (await this.store.directoryLinks.ofPrincipal(row.id)) return undefined;
    return this.#user(row);
  }

  async #row(q: UserQuery): Promise<PrincipalRow | undefined> {
    const value = q.value.trim();
    if (!value || value.length > 320) return undefined;
    switch (q.by) {
      case 'email':
        return this.store.principals.findUserByEmail(value);
      case 'logon': {
        const exact = await this.store.principals.findByName(value);
        if (exact) return exact;
        // DOMAIN\name: local names cannot hold a backslash, so the domain part is the logon's.
        const slash = value.lastIndexOf('\\');
        return slash > 0 ? this.store.principals.findByName(value.slice(slash + 1)) : undefined;
      }
      case 'kerberos': {
        const at = value.lastIndexOf('@');
        if (at <= 0) return undefined;
        const exact = await this.store.principals.findByName(value);
        if (exact) return exact;
        // Only the service's own realm maps to short names: bob@OTHER.REALM is not the local bob.
        const realm = value.slice(at + 1);
        if (!this.kerberosRealm || realm.toUpperCase() !== this.kerberosRealm.toUpperCase()) return undefined;
        return this.store.principals.findByName(value.slice(0, at));
      }
    }
  }

  async #user(row: PrincipalRow): Promise<DirectoryUser> {
    const groups = await this.store.principals.groupsOf(row.id);
    return {
      source: 'local',
      externalId: row.id,
      dn: null,
      name: row.name,
      userPrincipalName: null,
      displayName: row.displayName,
      email: row.email,
      aliases: [],
      sid: null,
      disabled: row.disabled,
      // The nesting path costs a query per group: only `withNestingPaths` (users show) walks it.
      groups: groups.map((g) => ({ externalId: g.id, dn: null, name: g.name, email: g.email, path: [g.name] })),
    };
  }

  /** The user's groups, each with the shortest chain of local groups that leads to it (breadth first). */
  async withNestingPaths(user: DirectoryUser): Promise<DirectoryUser> {
    const userId = user.externalId;
    const all = await this.store.principals.groupsOf(userId);
    const byId = new Map(all.map((g) => [g.id, g]));
    const out = new Map<string, DirectoryGroup>();
    let frontier: { id: string; path: string[] }[] = [{ id: userId, path: [] }];
    while (frontier.length > 0) {
      const next: { id: string; path: string[] }[] = [];
      for (const f of frontier) {
        for (const g of all) {
          if (out.has(g.id)) continue;
          const members = await this.store.principals.membersOf(g.id);
          if (!members.some((m) => m.id === f.id)) continue;
          const path = [...f.path, g.name];
          out.set(g.id, { externalId: g.id, dn: null, name: g.name, email: g.email, path });
          next.push({ id: g.id, path });
        }
      }
      frontier = next;
    }
    // A group the recursive query found but the walk did not (should not happen) still counts.
    for (const g of byId.values()) if (!out.has(g.id)) out.set(g.id, { externalId: g.id, dn: null, name: g.name, email: g.email, path: [g.name] });
    return { ...user, groups: [...out.values()] };
  }

  async findGroup(nameOrEmail: string): Promise<DirectoryGroup | undefined> {
    const v = nameOrEmail.trim();
    const byName = await this.store.principals.findByName(v);
    const row = byName?.kind === 'group' ? byName : (await this.store.principals.list('group')).find((g) => g.email?.toLowerCase() === v.toLowerCase());
    return row ? { externalId: row.id, dn: null, name: row.name, email: row.email, path: [] } : undefined;
  }

  async verifyPassword(user: DirectoryUser, password: string): Promise<boolean> {
    if (!password) return false;
    const row = await this.store.principals.find(user.externalId);
    if (!row || row.kind !== 'user' || row.disabled || !row.passwordHash) return false;
    return this.passwords.verify(row.name, password, row.passwordHash, this.clock.now().getTime());
  }

  async close(): Promise<void> {}
}
