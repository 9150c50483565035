import { type Clock, RmsError, systemClock } from '@openrms/domain';
import type { Store } from '@openrms/store';
import { withProvisionedStore } from './principal-admin';

export interface DecommissionResult {
  clusterId: string;
  clusterName: string;
  /** False when the cluster already was decommissioned (nothing changed, nothing audited). */
  changed: boolean;
}

/**
 * `rmsctl cluster decommission`: sets the cluster's one-way `decommissioned` flag in one audited
 * transaction (`cluster.decommission`). Members read it at their next refresh; from then on they
 * issue nothing and AcquireContentKey answers (PROTOCOL.md §6.7, docs/adr/0013-decommissioning.md).
 * There is deliberately no way back: keys already released cannot be taken back either.
 */
export async function decommissionClusterIn(store: Store, actor: string, clock: Clock = systemClock): Promise<DecommissionResult> {
  return store.transaction(async (tx) => {
    const cluster = await tx.clusters.get();
    if (cluster.decommissioned) return { clusterId: cluster.id, clusterName: cluster.name, changed: false };
    await tx.clusters.update(cluster.id, { decommissioned: true });
    await tx.audit.append({ at: clock.now(), actor, action: 'cluster.decommission', target: cluster.id, before: { decommissioned: false }, after: { decommissioned: true } });
    return { clusterId: cluster.id, clusterName: cluster.name, changed: true };
  });
}

export interface DecommissionInput {
  databaseUrl: string;
  /** The operator's explicit agreement: the change cannot be undone. */
  confirm: boolean;
  actor?: string | undefined;
  clock?: Clock;
}

export async function decommissionCluster(input: DecommissionInput): Promise<DecommissionResult> {
  if (!input.confirm) {
    throw new RmsError(
      'InvalidInput',
      'decommissioning cannot be undone: every member stops issuing certificates and licences for good, and AcquireContentKey hands out the content key of any PL it is given; run again with --confirm',
    );
  }
  return withProvisionedStore(input.databaseUrl, (store) => decommissionClusterIn(store, input.actor ?? 'rmsctl', input.clock));
}
