import { type Clock, RmsError, systemClock } from '@openrms/domain';
import { ClusterKey } from '@openrms/keys';
import { withProvisionedStore } from './principal-admin';

export interface ChangeKeyPasswordInput {
  databaseUrl: string;
  currentPassword: string;
  newPassword: string;
  /** Who the audit entry names; default 'rmsctl'. */
  actor?: string;
  clock?: Clock;
}

export interface ChangeKeyPasswordResult {
  clusterId: string;
  keyId: string;
  changedAt: Date;
}

/**
 * `rmsctl key change-password`: re-wraps the cluster key with a new password, once, in the shared
 * database. The key pair does not change, so nothing issued, sealed or sub-enrolled changes either
 * (secrets sealed to the cluster key stay readable); members already running hold the unwrapped key
 * and keep serving, members started later need the new password. The new password must pass the
 * rule provisioning applies (ClusterKey.wrap). Audited as `key.password.change`, without secrets.
 */
export async function changeClusterKeyPassword(input: ChangeKeyPasswordInput): Promise<ChangeKeyPasswordResult> {
  const clock = input.clock ?? systemClock;
  if (input.newPassword === input.currentPassword) throw new RmsError('InvalidInput', 'the new cluster key password is the same as the current one');
  return withProvisionedStore(input.databaseUrl, async (store) => {
    const cluster = await store.clusters.get();
    return store.transaction(async (tx) => {
      const row = await tx.keys.getActive(cluster.id, 'cluster');
      const protection = ClusterKey.describeStored(row.wrappedPrivateKey);
      if (protection.kind === 'pkcs11') {
        // Nothing in the database to re-wrap: the token's user PIN guards the key (docs/adr/0016-pkcs11-key-protection.md).
        throw new RmsError('InvalidInput', `the cluster key is kept in the PKCS#11 token "${protection.token}" and has no password; change the token's user PIN with its own tools (softhsm2-util, pkcs11-tool --change-pin or the HSM's), then the PIN variable of every member`);
      }
      // A wrong current password is KeyPasswordInvalid (exit 4) before anything is written.
      const key = ClusterKey.unwrap(row.wrappedPrivateKey, input.currentPassword);
      const wrapped = key.wrap(input.newPassword);
      // Compare-and-swap: a concurrent change that came first leaves this one with nothing to replace.
      if (!(await tx.keys.replaceWrapped(row.id, row.wrappedPrivateKey, wrapped))) {
        throw new RmsError('Unavailable', 'the cluster key changed while its password was being changed; run the command again');
      }
      const changedAt = clock.now();
      await tx.audit.append({ at: changedAt, actor: input.actor ?? 'rmsctl', action: 'key.password.change', target: cluster.id, after: { keyId: row.id, purpose: 'cluster' } });
      return { clusterId: cluster.id, keyId: row.id, changedAt };
    });
  });
}
