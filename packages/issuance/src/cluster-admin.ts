import { createPublicKey } from 'node:crypto';
import { hostname } from 'node:os';
import { type Clock, DAY_MS, newId, RmsError, systemClock } from '@openrms/domain';
import { ClusterKey } from '@openrms/keys';
import { parseXrml, publicKeyFingerprint, publicKeysEqual, readCertificate, verifyChain } from '@openrms/xrml';
import type { Store, ServerRow } from '@openrms/store';
import { checkPrincipalName, withProvisionedStore } from './principal-admin';
import { SETTINGS } from './settings';

export interface JoinInput {
  databaseUrl: string;
  serviceAccount: string;
  keyPassword: string;
  /** This member's own URL (what the load balancer sends traffic to). */
  serverUrl: string;
  serverName?: string | undefined;
}

/**
 * Adds a server to an existing cluster: it proves it can open the cluster key with the password
 * and that the active chain verifies; no enrollment, the same SLC and key. Audited.
 */
export async function joinCluster(input: JoinInput, clock: Clock = systemClock) {
  checkPrincipalName(input.serviceAccount, 'service account');
  let url: URL;
  try {
    url = new URL(input.serverUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw new RmsError('InvalidInput', `--server-url must be an http(s) URL, got "${input.serverUrl}"`);
  }
  const name = input.serverName ?? hostname();
  return withProvisionedStore(input.databaseUrl, async (store) => {
    const cluster = await store.clusters.get();
    const key = ClusterKey.unwrap((await store.keys.getActive(cluster.id, 'cluster')).wrappedPrivateKey, input.keyPassword);
    const chain = (await store.slcChains.getActive(cluster.id)).chain;
    const rootPem = await store.settings.get(SETTINGS.trustedRootKeyPem);
    const [leaf] = verifyChain(chain, { trustedRootKeys: [createPublicKey(String(rootPem))], now: clock.now() });
    if (!publicKeysEqual(leaf!.principal.publicKey, key.publicKey)) throw new RmsError('ChainInvalid', 'the active SLC does not certify the cluster key');
    const now = clock.now();
    return store.transaction(async (tx) => {
      const existing = (await tx.servers.list(cluster.id)).find((s) => s.name === name);
      const id = existing?.id ?? newId();
      const row = await tx.servers.upsert({ id, clusterId: cluster.id, name, url: url.toString().replace(/\/+$/, ''), serviceAccount: input.serviceAccount, joinedAt: existing?.joinedAt ?? now });
      const svc = await tx.principals.findByName(input.serviceAccount);
      if (!svc) throw new RmsError('NotFound', `service account "${input.serviceAccount}" is not a principal of this cluster`);
      await tx.audit.append({ at: now, actor: input.serviceAccount, action: 'cluster.join', target: id, before: existing ?? null, after: { name, url: row.url, serviceAccount: input.serviceAccount } });
      return { cluster, server: row, rejoined: existing !== undefined };
    });
  });
}

/** Members are considered alive while their heartbeat (every 5 s) is younger than this. */
export const MEMBER_STALE_MS = 30_000;

export interface ClusterOverview {
  cluster: { id: string; kind: string; name: string; url: string };
  /** A licensing-only cluster's root (_wmcs base URL). */
  rootUrl: string | null;
  slc: {
    subject: string;
    issuer: string;
    validFrom: Date;
    validUntil: Date;
    daysLeft: number;
    chainLength: number;
    /** publicKeyFingerprint of the cluster key, and of the key the chain ends at (what clients trust). */
    keyFingerprint: string;
    rootKeyFingerprint: string;
  };
  members: (ServerRow & { alive: boolean })[];
  /** Accounts members joined with, first the one the cluster was provisioned with. */
  serviceAccounts: string[];
  /** The configuration database URL without its password. */
  databaseDisplayUrl: string;
}

/** clusterStatus on an open store. */
export async function clusterStatusIn(store: Store, clock: Clock = systemClock): Promise<ClusterOverview> {
  const cluster = await store.clusters.get();
  const chainRow = await store.slcChains.getActive(cluster.id);
  const leaf = readCertificate(parseXrml(chainRow.chain[0]!));
  const last = chainRow.chain.length > 1 ? readCertificate(parseXrml(chainRow.chain[chainRow.chain.length - 1]!)) : leaf;
  const now = clock.now();
  const servers = await store.servers.list(cluster.id);
  const rootUrl = await store.settings.get(SETTINGS.rootClusterUrl);
  const validUntil = leaf.validUntil ?? chainRow.validUntil;
  return {
    cluster: { id: cluster.id, kind: cluster.kind, name: cluster.name, url: cluster.url },
    rootUrl: typeof rootUrl === 'string' ? rootUrl : null,
    slc: {
      subject: `${leaf.principal.name ?? ''} ${leaf.principal.id}`.trim(),
      issuer: `${leaf.issuer.name ?? ''} ${leaf.issuer.id}`.trim(),
      validFrom: leaf.validFrom ?? chainRow.validFrom,
      validUntil,
      daysLeft: Math.floor((validUntil.getTime() - now.getTime()) / DAY_MS),
      chainLength: chainRow.chain.length,
      keyFingerprint: publicKeyFingerprint(leaf.principal.publicKey),
      rootKeyFingerprint: publicKeyFingerprint(last.issuer.publicKey),
    },
    members: servers.map((s) => ({ ...s, alive: s.lastHeartbeatAt !== null && now.getTime() - s.lastHeartbeatAt.getTime() < MEMBER_STALE_MS })),
    serviceAccounts: [...new Set(servers.map((s) => s.serviceAccount).filter((a): a is string => a !== null))],
    databaseDisplayUrl: store.displayUrl,
  };
}

/** `rmsctl cluster status`. */
export async function clusterStatus(databaseUrl: string, clock: Clock = systemClock): Promise<ClusterOverview> {
  return withProvisionedStore(databaseUrl, (store) => clusterStatusIn(store, clock));
}
