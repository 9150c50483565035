import { BUILTIN_GROUPS, RmsError, systemClock, type Clock } from '@openrms/domain';
import { withProvisionedStore } from './principal-admin';
import { checkVersion, fingerprintOfPem, readPolicies, updatePolicies, type Policies } from './policies';

export type PolicyChange =
  | { kind: 'super-users'; enabled: boolean; group?: string }
  | { kind: 'exclude-user'; email?: string; keyPem?: string }
  | { kind: 'include-user'; email?: string; keyPem?: string }
  | { kind: 'exclude-app'; name: string; min: string; max: string }
  | { kind: 'include-app'; name: string }
  | { kind: 'lockbox'; minVersion: string | null };

function userEntry(c: { email?: string; keyPem?: string }): { email?: string; keyFingerprint?: string } {
  if ((c.email === undefined) === (c.keyPem === undefined)) throw new RmsError('InvalidInput', 'name the user by --email or by --rac-key, one of them');
  return c.email !== undefined ? { email: c.email.trim().toLowerCase() } : { keyFingerprint: fingerprintOfPem(c.keyPem!) };
}

const sameUser = (a: { email?: string; keyFingerprint?: string }, b: { email?: string; keyFingerprint?: string }) =>
  a.email === b.email && a.keyFingerprint === b.keyFingerprint;

/** One administrative change to the licensing policies, validated, audited and versioned. */
export async function changePolicy(databaseUrl: string, actor: string, change: PolicyChange, clock: Clock = systemClock): Promise<Policies> {
  return withProvisionedStore(databaseUrl, async (store) => {
    return updatePolicies(store, actor, clock, async (p, tx) => {
      switch (change.kind) {
        case 'super-users': {
          if (!change.enabled) return { ...p, superUsers: { enabled: false, group: p.superUsers.group } };
          const name = change.group ?? p.superUsers.group;
          if (!name) throw new RmsError('InvalidInput', 'enabling super users needs --group GROUP');
          if (name === BUILTIN_GROUPS.authenticatedUsers || name === BUILTIN_GROUPS.everyone) {
            throw new RmsError('InvalidInput', `"${name}" cannot be the super users group: it holds everyone`);
          }
          const g = await tx.principals.findByName(name);
          if (!g || g.kind !== 'group') throw new RmsError('NotFound', `group "${name}" does not exist`);
          return { ...p, superUsers: { enabled: true, group: g.name } };
        }
        case 'exclude-user': {
          const e = userEntry(change);
          return p.excludedUsers.some((x) => sameUser(x, e)) ? p : { ...p, excludedUsers: [...p.excludedUsers, e] };
        }
        case 'include-user': {
          const e = userEntry(change);
          if (!p.excludedUsers.some((x) => sameUser(x, e))) throw new RmsError('NotFound', 'that user is not excluded');
          return { ...p, excludedUsers: p.excludedUsers.filter((x) => !sameUser(x, e)) };
        }
        case 'exclude-app': {
          const app = { name: change.name.trim(), min: checkVersion(change.min, '--min'), max: checkVersion(change.max, '--max') };
          if (!app.name) throw new RmsError('InvalidInput', 'the application name is empty');
          return { ...p, excludedApplications: [...p.excludedApplications.filter((a) => a.name.toLowerCase() !== app.name.toLowerCase()), app] };
        }
        case 'include-app': {
          const rest = p.excludedApplications.filter((a) => a.name.toLowerCase() !== change.name.trim().toLowerCase());
          if (rest.length === p.excludedApplications.length) throw new RmsError('NotFound', `application "${change.name}" is not excluded`);
          return { ...p, excludedApplications: rest };
        }
        case 'lockbox':
          return { ...p, lockboxMinVersion: change.minVersion === null ? null : checkVersion(change.minVersion, '--min-version') };
      }
    });
  });
}

export async function showPolicies(databaseUrl: string): Promise<Policies> {
  return withProvisionedStore(databaseUrl, readPolicies);
}
