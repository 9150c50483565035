import { BUILTIN_GROUPS, type Clock, type DirectoryGroup, type DirectoryProvider, type LdapDirectoryConfig, RmsError, systemClock, type UserQuery } from '@openrms/domain';
import { ClusterKey } from '@openrms/keys';
import { openStore, type Store } from '@openrms/store';
import { readDirectorySettings } from './directory-settings';
import { Identities } from './identities';
import { LocalDirectory } from './local-directory';

export type DirectoryFactory = (config: LdapDirectoryConfig) => DirectoryProvider;

/**
 * The Directory port for an administrative command (`rmsctl directory test`, `users show`): the
 * cluster key opens the stored bind password, nothing is cached, nothing is registered as a member.
 */
export async function withIdentities<T>(
  databaseUrl: string,
  keyPassword: string,
  factory: DirectoryFactory,
  fn: (identities: Identities, store: Store) => Promise<T>,
  clock: Clock = systemClock,
): Promise<T> {
  const store = await openStore(databaseUrl, { migrate: false });
  let identities: Identities | undefined;
  try {
    const cluster = await store.clusters.get();
    const keyRow = await store.keys.getActive(cluster.id, 'cluster');
    const key = ClusterKey.unwrap(keyRow.wrappedPrivateKey, keyPassword);
    const settings = await readDirectorySettings(store, key);
    const id = async (name: string) => (await store.principals.getByName(name)).id;
    identities = new Identities({
      store,
      clock,
      local: new LocalDirectory(store, clock),
      external: settings ? factory(settings.connection) : undefined,
      cacheTtlMs: 0,
      serviceGroup: settings?.serviceGroup ?? null,
      adminGroup: settings?.adminGroup ?? null,
      builtin: {
        administrators: await id(BUILTIN_GROUPS.administrators),
        serviceGroup: await id(BUILTIN_GROUPS.serviceGroup),
        authenticated: await id(BUILTIN_GROUPS.authenticatedUsers),
        everyone: await id(BUILTIN_GROUPS.everyone),
      },
    });
    return await fn(identities, store);
  } finally {
    await identities?.close().catch(() => undefined);
    await store.close();
  }
}

/** What `users show` and the admin pages print about a person. */
export interface UserDescription {
  /** Which source answered: local, ad or ldap. */
  source: 'local' | 'ad' | 'ldap';
  name: string;
  /** This cluster's row for the person (created on first sight for directory people). */
  principalName: string;
  email: string | null;
  aliases: string[];
  userPrincipalName: string | null;
  displayName: string | null;
  dn: string | null;
  sid: string | null;
  disabled: boolean;
  groups: { name: string; email: string | null; path: string[] }[];
  /** Built-in groups the person counts in (local memberships and the configured directory groups). */
  builtinGroups: string[];
}

/** The queries a name is tried as: a logon, then an e-mail address, then a Kerberos principal. */
export function queriesFor(name: string): UserQuery[] {
  const v = name.trim();
  const qs: UserQuery[] = [{ by: 'logon', value: v }];
  if (v.includes('@')) qs.push({ by: 'email', value: v }, { by: 'kerberos', value: v });
  return qs;
}

/** A person resolved through the Directory port, with the nesting path of each group; NotFound when nobody. */
export async function describeUser(identities: Identities, store: Store, name: string): Promise<UserDescription> {
  for (const q of queriesFor(name)) {
    const found = await identities.explainUser(q);
    if (!found) continue;
    const { user, principalId } = found;
    const principal = await identities.principalOf(user);
    const builtin: string[] = [];
    for (const g of [BUILTIN_GROUPS.administrators, BUILTIN_GROUPS.serviceGroup]) {
      const row = await store.principals.findByName(g);
      if (row && principal.principalIds.has(row.id)) builtin.push(g);
    }
    const row = await store.principals.get(principalId);
    return {
      source: user.source,
      name: user.name,
      principalName: row.name,
      email: user.email,
      aliases: user.aliases,
      userPrincipalName: user.userPrincipalName,
      displayName: user.displayName,
      dn: user.dn,
      sid: user.sid,
      disabled: user.disabled,
      groups: user.groups.map((g: DirectoryGroup) => ({ name: g.name, email: g.email, path: g.path })),
      builtinGroups: builtin,
    };
  }
  throw new RmsError('NotFound', `no user "${name}" in this cluster's accounts${identities.external ? ' or its directory' : ''}`);
}
