import { createPublicKey, type KeyObject } from 'node:crypto';
import { parseVersion, RmsError, type Clock } from '@openrms/domain';
import type { Store } from '@openrms/store';
import { legacyPkcs1Fingerprint, publicKeyFingerprint } from '@openrms/xrml';

/** Cluster-wide licensing policies (PROTOCOL.md §6.4, §6.5), kept in the settings table. */
export interface Policies {
  superUsers: { enabled: boolean; group: string | null };
  /** Users refused new CLCs and ULs, by e-mail or by the sha256 fingerprint of their RAC key. */
  excludedUsers: { email?: string; keyFingerprint?: string }[];
  /** Written into every UL; the client enforces them. */
  excludedApplications: { name: string; min: string; max: string }[];
  /** Minimum SPC Repository (lockbox) version; older clients must re-activate. */
  lockboxMinVersion: string | null;
  /**
   * Which machine certificates Certify accepts: self-issued SPCs (OpenRMS clients activate
   * themselves) and/or SPCs whose chain reaches one of these CA keys.
   */
  spcTrust: { allowSelfIssued: boolean; caKeysPem: string[] };
  /**
   * Whether the server signs publishing licences for clients (AcquireIssuanceLicense) and re-issues
   * them (EditIssuanceLicense); PROTOCOL.md's `onlinePublishingEnabled`. Offline publishing with a
   * CLC is not affected.
   */
  onlinePublishing: boolean;
}

export const POLICIES_KEY = 'policies';

export const DEFAULT_POLICIES: Policies = {
  superUsers: { enabled: false, group: null },
  excludedUsers: [],
  excludedApplications: [],
  lockboxMinVersion: null,
  spcTrust: { allowSelfIssued: true, caKeysPem: [] },
  onlinePublishing: true,
};

export async function readPolicies(store: Store): Promise<Policies> {
  const v = (await store.settings.get(POLICIES_KEY)) as Partial<Policies> | undefined;
  return { ...DEFAULT_POLICIES, ...(v ?? {}) };
}

/** Applies `change` in one transaction, audited with the before and after values. */
/** `change` must read through the `tx` it is given: on SQLite the outer store waits for this transaction. */
export async function updatePolicies(store: Store, actor: string, clock: Clock, change: (p: Policies, tx: Store) => Policies | Promise<Policies>): Promise<Policies> {
  return store.transaction(async (tx) => {
    const before = await readPolicies(tx);
    const after = await change(structuredClone(before), tx);
    await tx.settings.set(POLICIES_KEY, after);
    await tx.settings.bumpConfigVersion();
    await tx.audit.append({ at: clock.now(), actor, action: 'policy.update', target: POLICIES_KEY, before, after });
    return after;
  });
}

export function racKeyFingerprint(key: KeyObject): string {
  return publicKeyFingerprint(key);
}

/** Reads a PEM public key (a user's RAC key) for an exclusion entry. */
export function fingerprintOfPem(pem: string): string {
  try {
    return racKeyFingerprint(createPublicKey(pem));
  } catch {
    throw new RmsError('InvalidInput', 'the key file is not a public key in PEM');
  }
}

/**
 * The fingerprints a RAC key is excluded by, per key object: a RAC the verified-document cache
 * holds brings the same key object on every request, so its two digests are computed once.
 */
const exclusionFingerprints = new WeakMap<KeyObject, readonly string[]>();

function exclusionFingerprintsOf(racKey: KeyObject): readonly string[] {
  let fps = exclusionFingerprints.get(racKey);
  if (!fps) {
    // Entries written before the fingerprint became SPKI-based hold the legacy PKCS#1 form: still honoured.
    fps = [racKeyFingerprint(racKey), legacyPkcs1Fingerprint(racKey)];
    exclusionFingerprints.set(racKey, fps);
  }
  return fps;
}

export function isExcluded(p: Policies, email: string, racKey: KeyObject): boolean {
  if (p.excludedUsers.length === 0) return false;
  const e = email.trim().toLowerCase();
  return p.excludedUsers.some(
    (x) => (x.email !== undefined && x.email.toLowerCase() === e) || (x.keyFingerprint !== undefined && exclusionFingerprintsOf(racKey).includes(x.keyFingerprint.trim().toLowerCase())),
  );
}

export function checkVersion(v: string, what: string): string {
  if (!parseVersion(v)) throw new RmsError('InvalidInput', `${what} must be a version a.b.c.d, got "${v}"`);
  return v;
}
