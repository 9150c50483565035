import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { normalizeGuid, RmsError, type RmsErrorCode } from '@openrms/domain';
import type { RevocationKind, RevocationMatch, RevocationRow, Store } from '@openrms/store';
import { parseXrml, publicKeyFingerprint, publicKeysEqual, readCertificate, readClc, verifyXrmlSignature } from '@openrms/xrml';
import type { VerifiedDocuments } from './verified-documents';

/*
 * What this cluster has revoked (the `revocations` table), as every member enforces it. The set is
 * re-read with the rest of the cluster state (cluster-runtime.ts, within one refresh of a change,
 * ~5 s) and consulted on every request: never folded into anything cached about a document, so a
 * document verified before its revocation is refused from the next refresh on.
 *
 * Faults (docs/adr/0015-revocation.md), from PROTOCOL.md §3.3:
 *   a revoked RAC (by ID or key)                → UnexpectedPersonaCert ("any other RAC validation error")
 *   a RAC signed by a revoked SLC               → UntrustedPersonaCert (its issuer is no longer trusted)
 *   a PL whose content, or whose CLC, is revoked → InvalidRightsLabelSignature (the chain no longer
 *                                                 verifies to anything trusted)
 *   a PL for, or signed by, a revoked SLC       → RightsLabelNoMatchingIssuedPrincipal (that server
 *                                                 no longer counts as trusted)
 *   Certify for a revoked RAC key, SubEnroll of a revoked server → UnauthorizedAccess
 */

/** The part of the cluster state revocation needs (IssuingState has it); absent means nothing is revoked. */
export interface RevocationView {
  revocations?: RevocationSet;
}

/** The SLC keys a CLC of a PL chain may be issued by: this cluster's and its trusted publishing domains'. */
interface ChainKeys {
  slc: { principal: { publicKey: KeyObject } };
  publishingDomains?: readonly { slc: { principal: { publicKey: KeyObject } } }[];
}

function kindKey(kind: RevocationKind, match: RevocationMatch): string {
  return `${kind}:${match}`;
}

/** How a value of each match is compared: GUIDs and fingerprints ignore case; content IDs do too when they are GUIDs. */
export function normalizeRevocationValue(match: RevocationMatch, value: string): string {
  const v = value.trim();
  if (match === 'key') return v.toLowerCase();
  return normalizeGuid(v) ?? v;
}

/** The revoked entries of one cluster, indexed for the per-request checks. */
export class RevocationSet {
  static readonly EMPTY = new RevocationSet([]);

  readonly rows: readonly RevocationRow[];
  /** SHA-256 over what the published list is made of: a list built from another digest is stale. */
  readonly digest: string;
  readonly #index = new Map<string, Set<string>>();

  constructor(rows: readonly RevocationRow[]) {
    this.rows = rows;
    const h = createHash('sha256');
    for (const r of rows) {
      const key = kindKey(r.kind, r.match);
      let set = this.#index.get(key);
      if (!set) this.#index.set(key, (set = new Set()));
      set.add(normalizeRevocationValue(r.match, r.value));
      h.update(JSON.stringify([r.id, r.kind, r.match, r.value, r.idType, r.publicKeyPem]));
      h.update('\n');
    }
    this.digest = h.digest('hex');
    // An SLC revoked from its file is refused by its key too.
    for (const r of rows) {
      if (r.kind === 'SLC' && r.match === 'id' && r.publicKeyPem) {
        try {
          const fp = publicKeyFingerprint(createPublicKey(r.publicKeyPem));
          let set = this.#index.get(kindKey('SLC', 'key'));
          if (!set) this.#index.set(kindKey('SLC', 'key'), (set = new Set()));
          set.add(fp);
        } catch {
          // A key that no longer reads still leaves the server ID revoked.
        }
      }
    }
  }

  get size(): number {
    return this.rows.length;
  }

  /** Anything of this kind revoked by this match at all (lets the checks skip work when not). */
  any(kind: RevocationKind, match: RevocationMatch): boolean {
    return (this.#index.get(kindKey(kind, match))?.size ?? 0) > 0;
  }

  has(kind: RevocationKind, match: RevocationMatch, value: string): boolean {
    return this.#index.get(kindKey(kind, match))?.has(normalizeRevocationValue(match, value)) ?? false;
  }

  hasKey(kind: RevocationKind, key: KeyObject): boolean {
    return this.any(kind, 'key') && this.has(kind, 'key', publicKeyFingerprint(key));
  }

  /** A server (an SLC's principal) revoked by its ID or its key. */
  serverRevoked(server: { serverGuid?: string; publicKey?: KeyObject }): boolean {
    return (server.serverGuid !== undefined && this.has('SLC', 'id', server.serverGuid)) || (server.publicKey !== undefined && this.hasKey('SLC', server.publicKey));
  }
}

/** The revocations as stored now (the runtime calls this at each refresh). */
export async function readRevocationSet(store: Store, clusterId: string): Promise<RevocationSet> {
  return new RevocationSet(await store.revocations.list(clusterId));
}

function refuse(code: RmsErrorCode, message: string): never {
  throw new RmsError(code, message);
}

/**
 * GetClientLicensorCert, AcquireLicense (and every use-case handed a RAC): the RAC itself revoked
 * (its certificate ID or its key), or issued by a revoked SLC.
 */
export function refuseRevokedRac(s: RevocationView, rac: { descriptorGuid: string; publicKey: KeyObject }, issuerKey: KeyObject): void {
  const set = s.revocations;
  if (!set || set.size === 0) return;
  if (set.has('RAC', 'id', rac.descriptorGuid)) refuse('UnexpectedPersonaCert', 'the rights account certificate has been revoked');
  if (set.hasKey('RAC', rac.publicKey)) refuse('UnexpectedPersonaCert', 'the key of the rights account certificate has been revoked');
  if (set.hasKey('SLC', issuerKey)) refuse('UntrustedPersonaCert', 'the rights account certificate was issued by a server licensor certificate that has been revoked');
}

/**
 * AcquireLicense and AcquirePreLicense, after the PL chain verified: its content revoked, its CLC
 * (offline PL) revoked by ID or key, or the server it was published for (or that signed it) revoked.
 */
export function refuseRevokedPublishingLicense(
  s: RevocationView & ChainKeys,
  chain: readonly string[],
  pl: { contentId: string; issuer: { publicKey: KeyObject }; server: { serverGuid: string; publicKey: KeyObject } },
  verified?: VerifiedDocuments,
): void {
  const set = s.revocations;
  if (!set || set.size === 0) return;
  if (set.has('PL', 'content', pl.contentId)) refuse('InvalidRightsLabelSignature', 'the content of this issuance licence has been revoked');
  if (set.serverRevoked(pl.server) || set.hasKey('SLC', pl.issuer.publicKey)) {
    refuse('RightsLabelNoMatchingIssuedPrincipal', 'the issuance licence was published for a server licensor certificate that has been revoked');
  }
  if (set.hasKey('CLC', pl.issuer.publicKey)) refuse('InvalidRightsLabelSignature', 'the client licensor certificate that signed this issuance licence has been revoked');
  if (set.any('CLC', 'id') && chain.length >= 2) {
    const clc = signedClcOf(s, chain[1]!, pl.issuer.publicKey, verified);
    if (clc && set.has('CLC', 'id', clc.descriptorGuid)) refuse('InvalidRightsLabelSignature', 'the client licensor certificate that signed this issuance licence has been revoked');
    if (clc && set.hasKey('SLC', clc.issuerKey)) refuse('InvalidRightsLabelSignature', 'the client licensor certificate that signed this issuance licence was issued by a revoked server licensor certificate');
  }
}

/**
 * The CLC of an offline PL chain, read from its signed bytes (verified again with the SLC key that
 * issued it: only what was signed may decide). Undefined for an online PL, whose second chain
 * member is an SLC.
 */
function signedClcOf(s: ChainKeys, xml: string, plIssuerKey: KeyObject, verified?: VerifiedDocuments): { descriptorGuid: string; issuerKey: KeyObject } | undefined {
  try {
    const keys = [s.slc.principal.publicKey, ...(s.publishingDomains ?? []).map((d) => d.slc.principal.publicKey)];
    // Verified for this request already (verifyPublishingLicense): the cache has it under the key that did.
    const hit = verified?.lookup<ReturnType<typeof readClc>>('CLC', xml, keys);
    if (hit && hit.key !== 'self') return publicKeysEqual(hit.value.publicKey, plIssuerKey) ? { descriptorGuid: hit.value.descriptorGuid, issuerKey: hit.key } : undefined;
    const doc = parseXrml(xml);
    const claimed = readCertificate(doc).issuer.publicKey;
    const issuerKey = keys.find((k) => publicKeysEqual(k, claimed));
    if (!issuerKey) return undefined;
    const clc = readClc(verifyXrmlSignature(doc, issuerKey));
    return publicKeysEqual(clc.publicKey, plIssuerKey) ? { descriptorGuid: clc.descriptorGuid, issuerKey } : undefined;
  } catch {
    // The chain verified already (verifyPublishingLicense); a second member that is no CLC is an online PL's SLC.
    return undefined;
  }
}

/** Certify: a person whose RAC key is revoked gets no new RAC with it. */
export function refuseRevokedUserKey(s: RevocationView, userKey: KeyObject, who: string): void {
  const set = s.revocations;
  if (!set || set.size === 0) return;
  if (set.hasKey('RAC', userKey)) refuse('UnauthorizedAccess', `the rights account key of ${who} has been revoked; an administrator must lift the revocation (rmsctl revoke remove) before it is certified again`);
}

/** SubEnroll (and so a licensing-only cluster's renewal): a revoked server gets no new SLC. */
export function refuseRevokedServer(s: RevocationView, server: { serverGuid: string; publicKey: KeyObject }): void {
  const set = s.revocations;
  if (!set || set.size === 0) return;
  if (set.serverRevoked(server)) refuse('UnauthorizedAccess', `the server licensor certificate of ${server.serverGuid} has been revoked; it is not signed again`);
}
