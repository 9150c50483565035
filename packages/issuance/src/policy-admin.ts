import { BUILTIN_GROUPS, RmsError, systemClock, type Clock } from '@openrms/domain';
import type { Store } from '@openrms/store';
import { showDirectoryIn } from './directory-settings';
import { withProvisionedStore } from './principal-admin';
import { isValidEmail } from './principal-rules';
import { checkVersion, fingerprintOfPem, readPolicies, updatePolicies, type Policies } from './policies';

export type PolicyChange =
  | { kind: 'super-users'; enabled: boolean; group?: string }
  | { kind: 'exclude-user'; email?: string; keyPem?: string }
  | { kind: 'include-user'; email?: string; keyPem?: string; keyFingerprint?: string }
  | { kind: 'exclude-app'; name: string; min: string; max: string }
  | { kind: 'include-app'; name: string }
  | { kind: 'lockbox'; minVersion: string | null }
  | { kind: 'online-publishing'; enabled: boolean };

function userEntry(c: { email?: string; keyPem?: string; keyFingerprint?: string }): { email?: string; keyFingerprint?: string } {
  const given = [c.email, c.keyPem, c.keyFingerprint].filter((v) => v !== undefined && v.trim() !== '');
  if (given.length !== 1) throw new RmsError('InvalidInput', 'name the user by e-mail or by RAC key, one of them');
  if (c.email !== undefined && c.email.trim() !== '') {
    const email = c.email.trim().toLowerCase();
    if (!isValidEmail(email)) throw new RmsError('InvalidInput', `"${c.email}" is not a valid e-mail address`);
    return { email };
  }
  return { keyFingerprint: c.keyPem !== undefined ? fingerprintOfPem(c.keyPem) : c.keyFingerprint!.trim() };
}

const sameUser = (a: { email?: string; keyFingerprint?: string }, b: { email?: string; keyFingerprint?: string }) =>
  a.email === b.email && a.keyFingerprint === b.keyFingerprint;

/** One administrative change to the licensing policies on the cluster's database (`rmsctl policy`). */
export async function changePolicy(databaseUrl: string, actor: string, change: PolicyChange, clock: Clock = systemClock): Promise<Policies> {
  return withProvisionedStore(databaseUrl, (store) => changePolicyIn(store, actor, change, clock));
}

/** One administrative change to the licensing policies, validated, audited and versioned. */
export async function changePolicyIn(store: Store, actor: string, change: PolicyChange, clock: Clock = systemClock): Promise<Policies> {
  return updatePolicies(store, actor, clock, async (p, tx) => {
      switch (change.kind) {
        case 'super-users': {
          if (!change.enabled) return { ...p, superUsers: { enabled: false, group: p.superUsers.group } };
          const name = change.group?.trim() || p.superUsers.group;
          if (!name) throw new RmsError('InvalidInput', 'enabling super users needs --group GROUP');
          if (name === BUILTIN_GROUPS.authenticatedUsers || name === BUILTIN_GROUPS.everyone) {
            throw new RmsError('InvalidInput', `"${name}" cannot be the super users group: it holds everyone`);
          }
          const g = await tx.principals.findByName(name);
          if (g?.kind === 'group') return { ...p, superUsers: { enabled: true, group: g.name } };
          // A directory group, named as the directory names it (name or e-mail): licensing compares
          // it with the person's directory groups, ignoring case (subject-for).
          if (!g && (await showDirectoryIn(tx))) {
            if (name.length > 255) throw new RmsError('InvalidInput', 'the super users group name is too long');
            return { ...p, superUsers: { enabled: true, group: name } };
          }
          throw new RmsError('NotFound', `group "${name}" does not exist${g ? ` ("${g.name}" is a user)` : ''}`);
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
        case 'online-publishing':
          return { ...p, onlinePublishing: change.enabled };
      }
    });
}

export async function showPolicies(databaseUrl: string): Promise<Policies> {
  return withProvisionedStore(databaseUrl, readPolicies);
}
