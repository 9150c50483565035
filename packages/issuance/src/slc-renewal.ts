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
import { revocationListUrl } from './revocation-list';

/** Renewal starts this many days before the SLC ends (operators may widen it). */
export const DEFAULT_RENEWAL_WINDOW_DAYS = 30;

/** Builds a client for the root from its URL and the stored (unsealed) account: the SOAP ClusterClient in practice. */
export type RootConnector = (target: { url: string; credentials: RootCredentials }) => RootClusterPort;

export interface RenewSlcOptions {
  keyPassword?: string;
  /**
   * The cluster key already unwrapped (a worker keeps what checkClusterKeyPassword returned), so a
   * running worker keeps renewing after `rmsctl key change-password`. Used while it is still the
   * active cluster key; otherwise keyPassword unwraps the stored one.
   */
  key?: ClusterKey;
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
  | 'renewed-elsewhere'
  /**
   * A licensing-only cluster whose root's SLC ends no later than its own: SubEnroll cannot give a
   * longer SLC until the root renews, so nothing was asked; the next scheduled run checks again.
   */
  | 'waiting-for-root';

export interface RenewSlcResult {
  renewed: boolean;
  reason: RenewalOutcome;
  /** End of the SLC that is active afterwards. */
  validUntil: Date;
  /** End of the SLC that was active before (equals validUntil unless renewed). */
  previousValidUntil: Date;
  /** Why nothing was renewed, for an operator (set when reason is 'waiting-for-root'). */
  detail?: string;
  /** When waiting for the root: the end of the root's SLC as the root serves it. */
  rootValidUntil?: Date;
  /**
   * When waiting for the root: true for the first run that found this state (it wrote the
   * `slc.renew.waiting` audit entry; callers log it once, not on every run).
   */
  firstNotice?: boolean;
}

/**
 * `{ validUntil, rootValidUntil }` of the last 'waiting-for-root' audit entry, so the same wait is
 * audited once however often the job runs (like SETTINGS.slcWarned for expiry warnings).
 */
export const SLC_WAITING_FOR_ROOT_SETTING = 'slc.waitingForRoot';

/**
 * Failures that retrying cannot fix: the root refuses us (DACL, credentials) or rejects the request
 * itself (not a root, our key or arguments refused, decommissioned), a chain that does not verify
 * or does not certify our key, nothing to renew with, a wrong key password, a bad setting. A worker
 * fails these at once instead of retrying; everything else (root unreachable, database hiccup) is
 * worth retrying with backoff. The root's own SLC ending first is no failure at all
 * ('waiting-for-root').
 */
export const UNRECOVERABLE_JOB_ERRORS: ReadonlySet<RmsErrorCode> = new Set<RmsErrorCode>([
  'AccessDenied',
  'UnauthorizedAccess',
  'ChainInvalid',
  'NotProvisioned',
  'KeyPasswordInvalid',
  'InvalidInput',
  'InvalidOperation',
  'Argument',
  'ArgumentNull',
  'UnsupportedCryptographicSet',
  'ClusterDecommissioned',
]);

/**
 * The SOAP client reports a root's fault as 'Unavailable' with the faultstring (only
 * UnauthorizedAccess becomes AccessDenied); these exception names say the request itself is
 * refused, which no retry changes.
 */
const ROOT_REFUSALS: readonly [RegExp, RmsErrorCode][] = [
  [/refused: System\.ArgumentNullException/, 'ArgumentNull'],
  [/refused: System\.ArgumentException/, 'Argument'],
  [/refused: System\.InvalidOperationException/, 'InvalidOperation'],
  [/refused: \S*UnsupportedCryptographicSetException/, 'UnsupportedCryptographicSet'],
  [/refused: \S*ClusterDecommissionedException/, 'ClusterDecommissioned'],
];

function classifyRootFailure(e: unknown): unknown {
  if (!isRmsError(e, 'Unavailable')) return e;
  const hit = ROOT_REFUSALS.find(([re]) => re.test(e.message));
  return hit ? new RmsError(hit[1], e.message, { cause: e }) : e;
}

export function isUnrecoverableJobError(e: unknown): boolean {
  return isRmsError(e) && UNRECOVERABLE_JOB_ERRORS.has(e.code);
}

function untilOf(info: CertificateInfo, fallback: Date): Date {
  return info.validUntil ?? fallback;
}

/**
 * Checks the key password against the stored cluster key (a worker checks once at start-up) and
 * returns the key, to pass to renewSlcIfDue as `key`.
 */
export async function checkClusterKeyPassword(store: Store, keyPassword: string): Promise<ClusterKey> {
  const cluster = await store.clusters.get();
  return ClusterKey.unwrap((await store.keys.getActive(cluster.id, 'cluster')).wrappedPrivateKey, keyPassword);
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
  const key = opts.key && publicKeysEqual(opts.key.publicKey, createPublicKey(keyRow.publicKeyPem)) ? opts.key : ClusterKey.unwrap(keyRow.wrappedPrivateKey, opts.keyPassword);
  if (!publicKeysEqual(leaf.principal.publicKey, key.publicKey)) {
    throw new RmsError('ChainInvalid', 'the active SLC does not certify the cluster key; renewal would not fix that');
  }
  const rootPem = await store.settings.get(SETTINGS.trustedRootKeyPem);
  if (typeof rootPem !== 'string') throw new RmsError('NotProvisioned', 'the cluster has no trusted root key recorded');
  const trustedRootKeys = [createPublicKey(rootPem)];

  const answer = cluster.kind === 'root' ? { chain: await resignRootSlc(store, key, leaf, cluster, now) } : await subEnrollAgain(store, key, leaf, currentUntil, trustedRootKeys, opts, now);
  if ('rootUntil' in answer) return waitForRoot(store, cluster.id, currentUntil, answer.rootUntil, opts.actor ?? 'system', now);
  const { chain } = answer;

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
async function resignRootSlc(store: Store, key: ClusterKey, leaf: CertificateInfo, cluster: { url: string; id: string }, now: Date): Promise<string[]> {
  const scope = (leaf.issueScope ?? ['RAC', 'CLC', 'PL', 'UL', 'SLC']).filter((s): s is IssueScope => (ISSUE_SCOPES as readonly string[]).includes(s));
  const serverGuid = leaf.principal.id;
  return [
    buildRootSlc(key, {
      serverGuid,
      name: leaf.principal.name ?? serverGuid,
      url: leaf.principal.url ?? cluster.url,
      issueScope: scope,
      revocation: slcRevocationFromSetting(await store.settings.get(SETTINGS.slcRevocation)),
      now,
      // A renewed SLC names the list even when the one it replaces (issued before lists) did not.
      revocationListUrl: revocationListUrl(cluster),
    }),
  ];
}

/**
 * The 'waiting-for-root' result; the first run that sees this wait (our SLC's end and the root's)
 * audits it, later runs only report it.
 */
async function waitForRoot(store: Store, clusterId: string, currentUntil: Date, rootUntil: Date, actor: string, now: Date): Promise<RenewSlcResult> {
  const detail = `the root's SLC ends ${rootUntil.toISOString()}, no later than ours (${currentUntil.toISOString()}): SubEnroll cannot give a longer SLC until the root renews its own; the next scheduled run checks again`;
  const state = { validUntil: currentUntil.toISOString(), rootValidUntil: rootUntil.toISOString() };
  const firstNotice = await store.transaction(async (tx) => {
    const seen = (await tx.settings.get(SLC_WAITING_FOR_ROOT_SETTING)) as Partial<typeof state> | undefined;
    if (seen?.validUntil === state.validUntil && seen.rootValidUntil === state.rootValidUntil) return false;
    await tx.settings.set(SLC_WAITING_FOR_ROOT_SETTING, state);
    await tx.audit.append({ at: now, actor, action: 'slc.renew.waiting', target: clusterId, after: state });
    return true;
  });
  return { renewed: false, reason: 'waiting-for-root', validUntil: currentUntil, previousValidUntil: currentUntil, detail, rootValidUntil: rootUntil, firstNotice };
}

/**
 * The end of the root's SLC as the root serves it, checked against the trusted root key. An SLC
 * that has already ended is still the root's (signature checked at its last valid instant): the
 * root must renew it, which is a wait, not a broken chain.
 */
function rootSlcUntil(rootChain: string[], trustedRootKeys: ReturnType<typeof createPublicKey>[], rootUrl: string, now: Date): Date | undefined {
  const check = (at: Date) => (verifyChain(rootChain, { trustedRootKeys, now: at }) as [CertificateInfo])[0].validUntil;
  try {
    return check(now);
  } catch (e) {
    let claimed: Date | undefined;
    try {
      claimed = readCertificate(parseXrml(rootChain[0]!)).validUntil;
    } catch {
      claimed = undefined;
    }
    if (claimed && claimed.getTime() <= now.getTime()) {
      try {
        return check(new Date(claimed.getTime() - 1));
      } catch {
        // fall through: not merely expired
      }
    }
    throw new RmsError('ChainInvalid', `the root at ${rootUrl} serves a licensor certificate that the trusted root key does not verify: ${(e as Error).message}`);
  }
}

/**
 * SubEnroll at the root with this cluster's key and GUID, checked like provisioning checks it; or,
 * when the root's own SLC ends no later than ours, the root's end (nothing asked).
 */
async function subEnrollAgain(store: Store, key: ClusterKey, leaf: CertificateInfo, currentUntil: Date, trustedRootKeys: ReturnType<typeof createPublicKey>[], opts: RenewSlcOptions, now: Date): Promise<{ chain: string[] } | { rootUntil: Date }> {
  const rootUrl = await store.settings.get(SETTINGS.rootClusterUrl);
  if (typeof rootUrl !== 'string') throw new RmsError('NotProvisioned', 'this licensing-only cluster has no root URL recorded');
  if (!opts.root) throw new RmsError('NotProvisioned', 'renewing a licensing-only cluster needs a way to its root');
  const port = typeof opts.root === 'function' ? opts.root({ url: rootUrl, credentials: await readRootCredentials(store, key) }) : opts.root;

  // The root signs at most until its own SLC ends; asking before it renewed itself gains nothing.
  let rootChain: string[];
  try {
    rootChain = await port.getLicensorCertificate();
  } catch (e) {
    throw classifyRootFailure(e);
  }
  const rootUntil = rootSlcUntil(rootChain, trustedRootKeys, rootUrl, now);
  if (rootUntil && rootUntil.getTime() <= currentUntil.getTime()) return { rootUntil };

  const guid = leaf.principal.id.toLowerCase();
  let chain: string[];
  try {
    chain = await port.subEnroll({
      publicKeyPkcs1: Buffer.from(pkcs1PublicKeyBase64(key.publicKey), 'base64'),
      guid,
      sku: SERVER_SKU,
      version: SERVER_VERSION,
      name: leaf.principal.name ?? guid,
      url: leaf.principal.url ?? (await store.clusters.get()).url,
    });
  } catch (e) {
    throw classifyRootFailure(e);
  }
  let newLeaf: CertificateInfo;
  try {
    [newLeaf] = verifyChain(chain, { trustedRootKeys, now }) as [CertificateInfo];
  } catch (e) {
    throw new RmsError('ChainInvalid', `the root returned a chain that does not verify: ${(e as Error).message}`);
  }
  if (!publicKeysEqual(newLeaf.principal.publicKey, key.publicKey) || newLeaf.principal.id.toLowerCase() !== guid) {
    throw new RmsError('ChainInvalid', 'the root returned an SLC for another key or server');
  }
  // The member that signed may not have loaded the root's renewed SLC yet (members re-read it
  // every few seconds): worth a retry.
  if (!newLeaf.validUntil || newLeaf.validUntil.getTime() <= currentUntil.getTime()) {
    throw new RmsError('Unavailable', `the root signed an SLC ending ${newLeaf.validUntil?.toISOString() ?? 'never'}, no later than ours although its own SLC ends ${rootUntil?.toISOString() ?? 'never'}: retrying`);
  }
  return { chain };
}
