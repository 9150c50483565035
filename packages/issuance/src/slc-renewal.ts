import { createPublicKey } from 'node:crypto';
import { type Clock, DAY_MS, isRmsError, RmsError, type RmsErrorCode, systemClock } from '@openrms/domain';
import { ClusterKey } from '@openrms/keys';
import type { Store } from '@openrms/store';
import { type CertificateInfo, ISSUE_SCOPES, type IssueScope, parseXrml, pkcs1PublicKeyBase64, publicKeysEqual, readCertificate, verifyChain } from '@openrms/xrml';
import { activateNewChain, SERVER_SKU, SERVER_VERSION } from './provision-cluster';
import { buildRootSlc, slcRevocationFromSetting } from './provision-root';
import type { RootClusterPort } from './provision-licensing';
import { readRootCredentials, type RootCredentials } from './root-credentials';
import { SETTINGS } from './settings';

/** Renewal starts this many days before the SLC ends (operators may widen it). */
export const DEFAULT_RENEWAL_WINDOW_DAYS = 30;

/** Builds a client for the root from its URL and the stored (unsealed) account: the SOAP ClusterClient in practice. */
export type RootConnector = (target: { url: string; credentials: RootCredentials }) => RootClusterPort;

export interface RenewSlcOptions {
  keyPassword: string;
  clock?: Clock;
  renewalWindowDays?: number;
  /**
   * A licensing-only cluster's way to its root: a port, or a connector given the root URL and
   * the credentials stored sealed at provisioning. Unused by a root cluster.
   */
  root?: RootClusterPort | RootConnector;
  /** Who the audit entry names; default 'system'. */
  actor?: string;
}

export type RenewalOutcome =
  /** A new chain was stored and activated. */
  | 'renewed'
  /** The active SLC ends later than the window: nothing to do. */
  | 'not-due'
  /** Another worker or member swapped the chain while this one was signing: its chain stands. */
  | 'renewed-elsewhere';

export interface RenewSlcResult {
  renewed: boolean;
  reason: RenewalOutcome;
  /** End of the SLC that is active afterwards. */
  validUntil: Date;
  /** End of the SLC that was active before (equals validUntil unless renewed). */
  previousValidUntil: Date;
}

/**
 * Failures that retrying cannot fix: the root refuses us (DACL, credentials), a chain that does not
 * verify or does not certify our key, nothing to renew with, a wrong key password. A worker fails
 * these at once instead of retrying; everything else (root unreachable, database hiccup, the
 * root's own SLC ending first) is worth retrying with backoff.
 */
export const UNRECOVERABLE_JOB_ERRORS: ReadonlySet<RmsErrorCode> = new Set<RmsErrorCode>([
  'AccessDenied',
  'UnauthorizedAccess',
  'ChainInvalid',
  'NotProvisioned',
  'KeyPasswordInvalid',
]);

export function isUnrecoverableJobError(e: unknown): boolean {
  return isRmsError(e) && UNRECOVERABLE_JOB_ERRORS.has(e.code);
}

function untilOf(info: CertificateInfo, fallback: Date): Date {
  return info.validUntil ?? fallback;
}

/** Checks the key password against the stored cluster key (a worker checks once at start-up). */
export async function checkClusterKeyPassword(store: Store, keyPassword: string): Promise<void> {
  const cluster = await store.clusters.get();
  ClusterKey.unwrap((await store.keys.getActive(cluster.id, 'cluster')).wrappedPrivateKey, keyPassword);
}

/**
 * Renews the cluster's SLC when it ends within the renewal window (or has ended): a root cluster
 * re-signs its own SLC (same key, GUID, name, scope and revocation policy, one more year); a
 * licensing-only cluster asks its root through SubEnroll with its own key and GUID and checks the
 * answer against the trusted root key. The new chain replaces the active one in one transaction,
 * only if the active chain is still the one this call renewed (so concurrent workers renew once).
 * Nothing is revoked: what was issued under the old SLC carries its own chain and stays valid.
 */
export async function renewSlcIfDue(store: Store, opts: RenewSlcOptions): Promise<RenewSlcResult> {
  const clock = opts.clock ?? systemClock;
  const windowDays = opts.renewalWindowDays ?? DEFAULT_RENEWAL_WINDOW_DAYS;
  if (!(windowDays >= 0)) throw new RmsError('InvalidInput', 'the renewal window must be zero or more days');
  const now = clock.now();
  const cluster = await store.clusters.get();
  const active = await store.slcChains.getActive(cluster.id);
  const leaf = readCertificate(parseXrml(active.chain[0]!));
  const currentUntil = untilOf(leaf, active.validUntil);
  if (currentUntil.getTime() - now.getTime() > windowDays * DAY_MS) {
    return { renewed: false, reason: 'not-due', validUntil: currentUntil, previousValidUntil: currentUntil };
  }

  const keyRow = await store.keys.getActive(cluster.id, 'cluster');
  const key = ClusterKey.unwrap(keyRow.wrappedPrivateKey, opts.keyPassword);
  if (!publicKeysEqual(leaf.principal.publicKey, key.publicKey)) {
    throw new RmsError('ChainInvalid', 'the active SLC does not certify the cluster key; renewal would not fix that');
  }
  const rootPem = await store.settings.get(SETTINGS.trustedRootKeyPem);
  if (typeof rootPem !== 'string') throw new RmsError('NotProvisioned', 'the cluster has no trusted root key recorded');
  const trustedRootKeys = [createPublicKey(rootPem)];

  const chain = cluster.kind === 'root' ? await resignRootSlc(store, key, leaf, cluster.url, now) : await subEnrollAgain(store, key, leaf, currentUntil, trustedRootKeys, opts, now);

  const [newLeaf] = verifyChain(chain, { trustedRootKeys, now });
  const validFrom = newLeaf!.validFrom ?? now;
  const validUntil = untilOf(newLeaf!, now);
  const outcome = await store.transaction(async (tx) => {
    const current = await tx.slcChains.getActiveForUpdate(cluster.id);
    if (current.id !== active.id) return 'renewed-elsewhere' as const;
    await activateNewChain(tx, { clusterId: cluster.id, keyId: keyRow.id, chain, leaf: newLeaf!, validFrom, validUntil, now });
    await tx.settings.set(SETTINGS.slcLastRenewal, { at: now.toISOString(), validUntil: validUntil.toISOString() });
    await tx.settings.bumpConfigVersion();
    await tx.audit.append({
      at: now,
      actor: opts.actor ?? 'system',
      action: 'slc.renew',
      target: cluster.id,
      before: { chainId: active.id, validFrom: (leaf.validFrom ?? active.validFrom).toISOString(), validUntil: currentUntil.toISOString() },
      after: { validFrom: validFrom.toISOString(), validUntil: validUntil.toISOString(), chainLength: chain.length, kind: cluster.kind },
    });
    return 'renewed' as const;
  });
  if (outcome === 'renewed-elsewhere') {
    const now2 = await store.slcChains.getActive(cluster.id);
    return { renewed: false, reason: outcome, validUntil: now2.validUntil, previousValidUntil: currentUntil };
  }
  return { renewed: true, reason: outcome, validUntil, previousValidUntil: currentUntil };
}

/** The root's SLC again, as provisioning built it, from now for one year. */
async function resignRootSlc(store: Store, key: ClusterKey, leaf: CertificateInfo, clusterUrl: string, now: Date): Promise<string[]> {
  const scope = (leaf.issueScope ?? ['RAC', 'CLC', 'PL', 'UL', 'SLC']).filter((s): s is IssueScope => (ISSUE_SCOPES as readonly string[]).includes(s));
  const serverGuid = leaf.principal.id;
  return [
    buildRootSlc(key, {
      serverGuid,
      name: leaf.principal.name ?? serverGuid,
      url: leaf.principal.url ?? clusterUrl,
      issueScope: scope,
      revocation: slcRevocationFromSetting(await store.settings.get(SETTINGS.slcRevocation)),
      now,
    }),
  ];
}

/** SubEnroll at the root with this cluster's key and GUID, checked like provisioning checks it. */
async function subEnrollAgain(store: Store, key: ClusterKey, leaf: CertificateInfo, currentUntil: Date, trustedRootKeys: ReturnType<typeof createPublicKey>[], opts: RenewSlcOptions, now: Date): Promise<string[]> {
  const rootUrl = await store.settings.get(SETTINGS.rootClusterUrl);
  if (typeof rootUrl !== 'string') throw new RmsError('NotProvisioned', 'this licensing-only cluster has no root URL recorded');
  if (!opts.root) throw new RmsError('NotProvisioned', 'renewing a licensing-only cluster needs a way to its root');
  const port = typeof opts.root === 'function' ? opts.root({ url: rootUrl, credentials: await readRootCredentials(store, key) }) : opts.root;

  // The root signs at most until its own SLC ends; asking before it renewed itself gains nothing.
  const rootChain = await port.getLicensorCertificate();
  let rootLeaf: CertificateInfo;
  try {
    [rootLeaf] = verifyChain(rootChain, { trustedRootKeys, now }) as [CertificateInfo];
  } catch (e) {
    throw new RmsError('ChainInvalid', `the root at ${rootUrl} serves a licensor certificate that the trusted root key does not verify: ${(e as Error).message}`);
  }
  const rootUntil = rootLeaf.validUntil;
  if (rootUntil && rootUntil.getTime() <= currentUntil.getTime()) {
    throw new RmsError('Unavailable', `the root's SLC ends ${rootUntil.toISOString()}, no later than ours (${currentUntil.toISOString()}): the root must renew its SLC first`);
  }

  const guid = leaf.principal.id.toLowerCase();
  const chain = await port.subEnroll({
    publicKeyPkcs1: Buffer.from(pkcs1PublicKeyBase64(key.publicKey), 'base64'),
    guid,
    sku: SERVER_SKU,
    version: SERVER_VERSION,
    name: leaf.principal.name ?? guid,
    url: leaf.principal.url ?? (await store.clusters.get()).url,
  });
  let newLeaf: CertificateInfo;
  try {
    [newLeaf] = verifyChain(chain, { trustedRootKeys, now }) as [CertificateInfo];
  } catch (e) {
    throw new RmsError('ChainInvalid', `the root returned a chain that does not verify: ${(e as Error).message}`);
  }
  if (!publicKeysEqual(newLeaf.principal.publicKey, key.publicKey) || newLeaf.principal.id.toLowerCase() !== guid) {
    throw new RmsError('ChainInvalid', 'the root returned an SLC for another key or server');
  }
  if (!newLeaf.validUntil || newLeaf.validUntil.getTime() <= currentUntil.getTime()) {
    throw new RmsError('Unavailable', `the root signed an SLC ending ${newLeaf.validUntil?.toISOString() ?? 'never'}, no later than ours: the root must renew its SLC first`);
  }
  return chain;
}
