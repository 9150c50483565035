import { createHash, type KeyObject } from 'node:crypto';
import { type Clock, newId, RmsError } from '@openrms/domain';
import type { ClusterKey } from '@openrms/keys';
import type { Store } from '@openrms/store';
import { publicKeysEqual, readCertificate, type XrmlDocument } from '@openrms/xrml';
import type { AuthenticatedPrincipal } from './authenticated-principal';
import type { Identities } from './identities';
import type { IssuedRecorder } from './issued-records';
import type { IssuingState } from './issuing-state';
import type { UserKeyCache } from './user-key-cache';
import type { VerifiedDocuments } from './verified-documents';

/**
 * What every client use-case works with: the cluster key (which stays inside `keys`; only its
 * ClusterKey methods are used), the cluster's current state, the store and the clock.
 */
export interface IssuingContext {
  key: ClusterKey;
  /** Read once per request: the runtime refreshes it in the background. */
  state: () => IssuingState;
  store: Store;
  clock: Clock;
  /** Who people are and which groups they are in: the Directory port (local tables and/or a directory). */
  identities: () => Identities;
  /** Asks a trusted peer cluster whether a person is in one of its groups (group expansion). */
  peerMembership?: PeerMembershipQuery;
  /** The peers configured now, with their credentials. */
  peers?: () => GroupExpansionPeer[];
  /** A peer could not answer (the licence is then decided without it). */
  onPeerError?: (domain: string, reason: string) => void;
  /** Signature results of documents seen before (RAC, CLC, PL, SPC); absent = verify every time. */
  verifiedDocuments?: VerifiedDocuments;
  /** Writes the `issued` records of concurrent requests in one transaction; absent = one insert each. */
  issuedRecorder?: IssuedRecorder;
  /** Users' key pairs opened recently; absent = unsealed on every request. */
  userKeys?: UserKeyCache;
}

export interface GroupExpansionPeer {
  domain: string;
  url: string;
  credentials: { name: string; password: string };
}

/** What asks a peer (the soap package's client, injected by the app). */
export type PeerMembershipQuery = (peer: GroupExpansionPeer, question: { principalName: string; targetGroups: string[]; crossForestCallsSoFar: number }) => Promise<boolean>;

export interface Caller {
  requestId: string;
  principal: Pick<AuthenticatedPrincipal, 'id' | 'name' | 'email'>;
  /** Aborted when the client has gone: nothing is signed or recorded for nobody. */
  signal?: AbortSignal;
}

/**
 * Between the items of a batch: lets the event loop run (SQLite's driver answers synchronously, so
 * a batch could otherwise hold the loop for seconds), so other connections are accepted and read,
 * and a client that hung up is noticed before the next signature.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Before a signature: a client that has gone gets nothing issued on its behalf. */
export function stillWanted(caller: Pick<Caller, 'signal'>): void {
  if (caller.signal?.aborted) throw new RmsError('ClientGone', 'the client went away before the answer was signed');
}

/**
 * Every certificate and licence operation refuses on a decommissioned cluster (PROTOCOL.md §6.7);
 * only AcquireContentKey answers there.
 */
export function notDecommissioned(s: Pick<IssuingState, 'decommissioned'>): void {
  if (s.decommissioned) throw new RmsError('ClusterDecommissioned', 'this cluster has been decommissioned: it issues no certificates or licences');
}

export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export function fail(code: RmsError['code'], message: string): never {
  throw new RmsError(code, message);
}

/** The ISSUER key a document names, read before its signature is checked (only to pick the trusted key). */
export function claimedIssuerKey(doc: XrmlDocument, what: string, code: RmsError['code']): KeyObject {
  try {
    return readCertificate(doc).issuer.publicKey;
  } catch {
    return fail(code, `the ${what} has no readable ISSUER key`);
  }
}

export function isOwnServer(server: { serverGuid: string; publicKey: KeyObject }, s: IssuingState): boolean {
  return server.serverGuid.toLowerCase() === s.slc.principal.id.toLowerCase() && publicKeysEqual(server.publicKey, s.slc.principal.publicKey);
}

export async function recordIssued(
  ctx: IssuingContext,
  kind: 'RAC' | 'CLC' | 'PL' | 'UL',
  subject: string,
  documentGuid: string,
  xml: string,
  issuedAt: Date,
  validUntil: Date,
): Promise<void> {
  const record = {
    id: newId(),
    clusterId: ctx.state().cluster.id,
    kind,
    subject,
    documentGuid,
    issuedAt,
    validUntil,
    documentSha256: sha256(xml),
  };
  // Resolves once the record is committed either way: the answer never leaves before it.
  await (ctx.issuedRecorder ? ctx.issuedRecorder.record(record) : ctx.store.issued.record(record));
}
