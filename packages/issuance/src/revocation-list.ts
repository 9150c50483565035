import { createPublicKey } from 'node:crypto';
import { type Clock, DAY_MS, newBracedGuid, RmsError, systemClock } from '@openrms/domain';
import type { ClusterKey } from '@openrms/keys';
import type { RevocationRow, Store } from '@openrms/store';
import { buildRevocationList, type CertificateInfo, issuerFromCertificate, parseXrml, readCertificate, type RevocationEntry, signXrml } from '@openrms/xrml';
import { RevocationSet } from './revocations';

/*
 * The cluster's signed revocation list (PROTOCOL.md §6.6, XrML 1.2 §3.17): built from the
 * `revocations` table, signed with the cluster key (through the keys package's Signer), stored in
 * the settings table so every member serves the same bytes at revocationListUrl. It is re-signed
 * when what it lists changes (the first member to notice, at its next refresh) and, unchanged,
 * once a day by the scheduled job, so it never reaches its VALIDITYTIME UNTIL while the cluster runs.
 */

/** Settings key of the published list. */
export const REVOCATION_LIST_SETTING = 'revocation.list';
/** How long a list says it stays current (VALIDITYTIME UNTIL = ISSUEDTIME + this). */
export const REVOCATION_LIST_VALIDITY_DAYS = 7;
/** An unchanged list is signed again once it is this old (well inside its validity). */
export const REVOCATION_LIST_RESIGN_AFTER_MS = DAY_MS;

export interface PublishedRevocationList {
  xml: string;
  /** ISO strings: ISSUEDTIME and VALIDITYTIME UNTIL of the list. */
  issuedAt: string;
  nextUpdate: string;
  /** RevocationSet.digest of what it lists. */
  digest: string;
  entries: number;
}

/** Where a member serves the list of cluster `clusterId` (under the licensing endpoints). */
export function revocationListPath(clusterId: string): string {
  return `/_wmcs/licensing/revocation/${clusterId}.xml`;
}

/** The list's public URL, as the SLC's revocation condition names it. `clusterUrl` is the cluster's _wmcs base. */
export function revocationListUrl(cluster: { url: string; id: string }): string {
  return `${cluster.url.replace(/\/+$/, '')}/licensing/revocation/${cluster.id}.xml`;
}

export async function readPublishedRevocationList(store: Store): Promise<PublishedRevocationList | undefined> {
  const v = (await store.settings.get(REVOCATION_LIST_SETTING)) as Partial<PublishedRevocationList> | undefined;
  return v && typeof v.xml === 'string' && typeof v.digest === 'string' && typeof v.issuedAt === 'string' ? (v as PublishedRevocationList) : undefined;
}

/**
 * What each stored revocation is written as. Nothing that names a person (e-mail addresses, the
 * reason) is published: the list is public, and IDs and keys are what relying parties match.
 */
export function revocationEntriesOf(rows: readonly RevocationRow[]): RevocationEntry[] {
  const out: RevocationEntry[] = [];
  for (const r of rows) {
    if (r.match === 'id' && (r.kind === 'RAC' || r.kind === 'CLC')) out.push({ type: 'license-id', idType: 'MS-GUID', id: r.value });
    else if (r.match === 'key' && r.publicKeyPem) out.push({ type: 'principal-key', publicKey: createPublicKey(r.publicKeyPem) });
    else if (r.match === 'content') out.push({ type: 'content-id', idType: r.idType ?? 'MS-GUID', id: r.value });
    else if (r.kind === 'SLC' && r.match === 'id') {
      out.push({ type: 'principal-id', objectType: 'MS-DRM-Server', idType: 'MS-GUID', id: r.value });
      if (r.publicKeyPem) out.push({ type: 'principal-key', publicKey: createPublicKey(r.publicKeyPem) });
    }
  }
  return out;
}

export interface PublishRevocationListOptions {
  key: ClusterKey;
  clock?: Clock;
  /** The active SLC as the runtime verified it (the list's ISSUER copies its principal); read from the store when absent. */
  slc?: CertificateInfo;
  /** Re-sign an unchanged list once it is this old (default REVOCATION_LIST_RESIGN_AFTER_MS). */
  resignAfterMs?: number;
  /** Sign a new list even if the stored one is current. */
  force?: boolean;
}

export interface PublishRevocationListResult {
  /** 'changed': the revocations differ from the stored list's; 'due': it was old; 'current': nothing done. */
  reason: 'changed' | 'due' | 'forced' | 'current';
  list: PublishedRevocationList;
}

/**
 * Builds, signs and stores the list when what it lists changed or it is due for re-signing.
 * Idempotent and safe on several members at once: each writes a list of the same entries, the
 * last one stays, and the configuration version moves so every member serves it within a refresh.
 */
export async function publishRevocationList(store: Store, opts: PublishRevocationListOptions): Promise<PublishRevocationListResult> {
  const clock = opts.clock ?? systemClock;
  const now = clock.now();
  const cluster = await store.clusters.get();
  const set = new RevocationSet(await store.revocations.list(cluster.id));
  const stored = await readPublishedRevocationList(store);
  const age = stored ? now.getTime() - Date.parse(stored.issuedAt) : Infinity;
  let reason: PublishRevocationListResult['reason'];
  if (opts.force) reason = 'forced';
  else if (!stored || stored.digest !== set.digest) reason = 'changed';
  else if (!(age < (opts.resignAfterMs ?? REVOCATION_LIST_RESIGN_AFTER_MS))) reason = 'due';
  else return { reason: 'current', list: stored };

  const slc = opts.slc ?? readCertificate(parseXrml((await store.slcChains.getActive(cluster.id)).chain[0]!));
  const nextUpdate = new Date(now.getTime() + REVOCATION_LIST_VALIDITY_DAYS * DAY_MS);
  const unsigned = buildRevocationList({ descriptorGuid: newBracedGuid(), issuedTime: now, nextUpdate, issuer: issuerFromCertificate(slc), entries: revocationEntriesOf(set.rows) });
  // Checked with the public key before it is stored: a list nobody can verify is never published.
  const xml = signXrml(unsigned, opts.key, { verifyWith: opts.key.publicKey });
  const list: PublishedRevocationList = { xml, issuedAt: now.toISOString(), nextUpdate: nextUpdate.toISOString(), digest: set.digest, entries: set.size };
  await store.transaction(async (tx) => {
    await tx.settings.set(REVOCATION_LIST_SETTING, list);
    await tx.settings.bumpConfigVersion();
  });
  return { reason, list };
}

/** The stored list, or NotFound (a cluster whose members have not published one yet). */
export async function getPublishedRevocationList(store: Store): Promise<PublishedRevocationList> {
  const list = await readPublishedRevocationList(store);
  if (!list) throw new RmsError('NotFound', 'no revocation list has been published yet: a running member publishes one within seconds of starting');
  return list;
}
