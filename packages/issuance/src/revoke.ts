import { createPublicKey, type KeyObject } from 'node:crypto';
import { type Clock, newId, normalizeGuid, RmsError, systemClock } from '@openrms/domain';
import type { RevocationKind, RevocationMatch, RevocationRow, Store } from '@openrms/store';
import { type CertificateInfo, CLC_DESCRIPTOR_TYPE, parseXrml, publicKeyFingerprint, publicKeysEqual, RAC_DESCRIPTOR_TYPE, readCertificate, readPublishingLicense, SLC_DESCRIPTOR_TYPE } from '@openrms/xrml';
import { withProvisionedStore } from './principal-admin';
import { normalizeRevocationValue } from './revocations';

/*
 * The administrator's side of revocation (`rmsctl revoke`, the revocation admin page): one row per
 * revoked thing, validated, audited with the actor, and the configuration version moved so every
 * member enforces it from its next refresh. Lifting a revocation is allowed and audited too
 * (docs/adr/0015-revocation.md): relying parties that cached the old list keep refusing until their
 * copy ages out.
 */

/** What to revoke, as the CLI flags and the admin form give it. Exactly one way of naming it. */
export type RevokeTarget =
  /** A RAC or CLC: its certificate ID, its file (the document, or its chain leaf first), or its public key. */
  | { kind: 'RAC' | 'CLC'; id?: string; file?: string; keyPem?: string; byKey?: boolean }
  /** Every licence for one piece of content: the PL's content ID, or the PL file. */
  | { kind: 'PL'; contentId?: string; file?: string }
  /** A licensing cluster's SLC (or a trusted domain's): its server ID (the cluster ID), or its file. */
  | { kind: 'SLC'; serverId?: string; file?: string };

export interface RevokeInput {
  target: RevokeTarget;
  reason?: string | undefined;
}

export interface RevocationSummary {
  id: string;
  kind: RevocationKind;
  match: RevocationMatch;
  value: string;
  subject: string | null;
  reason: string | null;
  revokedAt: Date;
  revokedBy: string;
}

const MAX_REASON = 500;

function summaryOf(r: RevocationRow): RevocationSummary {
  return { id: r.id, kind: r.kind, match: r.match, value: r.value, subject: r.subject, reason: r.reason, revokedAt: r.revokedAt, revokedBy: r.revokedBy };
}

function bad(message: string): never {
  throw new RmsError('InvalidInput', message);
}

/** The first XrML document of a file: one document, several one after another, or a JSON chain (leaf first). */
function leafDocument(text: string, what: string): string {
  const t = text.replace(/^\uFEFF/, '').trim();
  if (t.startsWith('[')) {
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch {
      return bad(`the ${what} file is neither XrML nor a JSON chain`);
    }
    if (!Array.isArray(v) || typeof v[0] !== 'string') return bad(`the ${what} file's JSON chain must be an array of XrML strings`);
    return v[0];
  }
  const m = /<XrML\b[\s\S]*?<\/XrML>/.exec(t);
  if (!m) return bad(`no XrML document found in the ${what} file`);
  return m[0];
}

function certificateOf(text: string, type: string, what: string): CertificateInfo {
  let info: CertificateInfo;
  try {
    info = readCertificate(parseXrml(leafDocument(text, what)));
  } catch (e) {
    if (e instanceof RmsError && e.code === 'InvalidInput' && /file/.test(e.message)) throw e;
    return bad(`the ${what} file cannot be read: ${(e as Error).message}`);
  }
  if (info.descriptorType !== type) bad(`the file holds a ${info.descriptorType ?? 'document'}, not a ${what} (${type})`);
  return info;
}

function guidOf(value: string, what: string): string {
  const g = normalizeGuid(value.trim());
  if (!g) bad(`${what} "${value}" is not a GUID`);
  return g!;
}

function rsaKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem.trim());
  } catch {
    return bad('the key file is not a public key in PEM');
  }
  if (key.asymmetricKeyType !== 'rsa') bad('the key is not an RSA key');
  return key;
}

type NewRevocation = Pick<RevocationRow, 'kind' | 'match' | 'value' | 'idType' | 'publicKeyPem' | 'subject'>;

const pemOf = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }).toString();

/** One way of naming the target, read into the row it becomes. */
export function revocationFor(target: RevokeTarget): NewRevocation {
  const given = Object.entries(target).filter(([k, v]) => k !== 'kind' && k !== 'byKey' && typeof v === 'string' && v.trim() !== '');
  if (given.length !== 1) bad(`name the ${target.kind} one way: ${target.kind === 'PL' ? 'a content ID or a PL file' : target.kind === 'SLC' ? 'a server ID or an SLC file' : 'a certificate ID, a file or a public key'}`);
  switch (target.kind) {
    case 'RAC':
    case 'CLC': {
      if (target.keyPem) {
        const key = rsaKey(target.keyPem);
        return { kind: target.kind, match: 'key', value: publicKeyFingerprint(key), idType: null, publicKeyPem: pemOf(key), subject: null };
      }
      if (target.id) {
        if (target.byKey) bad('revoking by key needs the certificate file or its public key');
        return { kind: target.kind, match: 'id', value: guidOf(target.id, `${target.kind} ID`), idType: 'MS-GUID', publicKeyPem: null, subject: null };
      }
      const cert = certificateOf(target.file!, target.kind === 'RAC' ? RAC_DESCRIPTOR_TYPE : CLC_DESCRIPTOR_TYPE, target.kind);
      const subject = cert.principal.name ?? null;
      if (target.byKey) {
        const key = cert.principal.publicKey;
        return { kind: target.kind, match: 'key', value: publicKeyFingerprint(key), idType: null, publicKeyPem: pemOf(key), subject };
      }
      return { kind: target.kind, match: 'id', value: cert.descriptorGuid, idType: 'MS-GUID', publicKeyPem: null, subject };
    }
    case 'PL': {
      if (target.contentId) return { kind: 'PL', match: 'content', value: guidOf(target.contentId, 'content ID'), idType: 'MS-GUID', publicKeyPem: null, subject: null };
      let pl: ReturnType<typeof readPublishingLicense>;
      try {
        pl = readPublishingLicense(parseXrml(leafDocument(target.file!, 'PL')));
      } catch (e) {
        if (e instanceof RmsError && /file/.test(e.message)) throw e;
        return bad(`the PL file cannot be read: ${(e as Error).message}`);
      }
      return { kind: 'PL', match: 'content', value: pl.contentId, idType: 'MS-GUID', publicKeyPem: null, subject: pl.owner.email };
    }
    case 'SLC': {
      if (target.serverId) return { kind: 'SLC', match: 'id', value: guidOf(target.serverId, 'server ID'), idType: 'MS-GUID', publicKeyPem: null, subject: null };
      const cert = certificateOf(target.file!, SLC_DESCRIPTOR_TYPE, 'SLC');
      return { kind: 'SLC', match: 'id', value: guidOf(cert.principal.id, 'SLC server ID'), idType: 'MS-GUID', publicKeyPem: pemOf(cert.principal.publicKey), subject: cert.principal.name ?? null };
    }
    default:
      return bad(`cannot revoke a ${(target as { kind?: string }).kind ?? '?'}: revoke a RAC, CLC, PL or SLC`);
  }
}

/** `rmsctl revoke …` / the admin page: records one revocation, audited; members enforce it from their next refresh. */
export async function revokeIn(store: Store, actor: string, input: RevokeInput, clock: Clock = systemClock): Promise<RevocationSummary> {
  const reason = input.reason?.trim() || null;
  if (reason !== null && reason.length > MAX_REASON) bad(`the reason is longer than ${MAX_REASON} characters`);
  const r = revocationFor(input.target);
  const now = clock.now();
  return store.transaction(async (tx) => {
    const cluster = await tx.clusters.get();
    if (r.kind === 'SLC') {
      const own = readCertificate(parseXrml((await tx.slcChains.getActive(cluster.id)).chain[0]!));
      const ownKey = r.publicKeyPem ? publicKeysEqual(createPublicKey(r.publicKeyPem), own.principal.publicKey) : false;
      if (ownKey || normalizeGuid(own.principal.id) === r.value) bad('a cluster cannot revoke its own SLC (decommission it instead)');
    }
    const row: RevocationRow = { id: newId(), clusterId: cluster.id, ...r, value: normalizeRevocationValue(r.match, r.value), reason, revokedAt: now, revokedBy: actor };
    await tx.revocations.insert(row);
    await tx.settings.bumpConfigVersion();
    await tx.audit.append({
      at: now,
      actor,
      action: 'revocation.add',
      target: `${row.kind} ${row.match} ${row.value}`,
      after: { id: row.id, kind: row.kind, match: row.match, value: row.value, subject: row.subject, reason: row.reason },
    });
    return summaryOf(row);
  });
}

export async function listRevocationsIn(store: Store): Promise<RevocationSummary[]> {
  const cluster = await store.clusters.get();
  return (await store.revocations.list(cluster.id)).map(summaryOf);
}

/**
 * Lifts a revocation, named by its id (or an unambiguous leading part of it, 8 or more characters,
 * as `rmsctl revoke list` prints it). Audited with what was lifted.
 */
export async function unrevokeIn(store: Store, actor: string, which: string, clock: Clock = systemClock): Promise<RevocationSummary> {
  const w = which.trim().toLowerCase();
  if (w.length < 8) bad('name the revocation by its id (8 or more leading characters of it)');
  const now = clock.now();
  return store.transaction(async (tx) => {
    const cluster = await tx.clusters.get();
    const hits = (await tx.revocations.list(cluster.id)).filter((r) => r.id.toLowerCase().startsWith(w));
    if (hits.length === 0) throw new RmsError('NotFound', `no revocation ${which}`);
    if (hits.length > 1) bad(`"${which}" names ${hits.length} revocations; give more of the id`);
    const row = hits[0]!;
    await tx.revocations.remove(cluster.id, row.id);
    await tx.settings.bumpConfigVersion();
    await tx.audit.append({ at: now, actor, action: 'revocation.remove', target: `${row.kind} ${row.match} ${row.value}`, before: { id: row.id, kind: row.kind, match: row.match, value: row.value, subject: row.subject, reason: row.reason } });
    return summaryOf(row);
  });
}

export function revoke(databaseUrl: string, actor: string, input: RevokeInput, clock?: Clock): Promise<RevocationSummary> {
  return withProvisionedStore(databaseUrl, (store) => revokeIn(store, actor, input, clock));
}

export function listRevocations(databaseUrl: string): Promise<RevocationSummary[]> {
  return withProvisionedStore(databaseUrl, listRevocationsIn);
}

export function unrevoke(databaseUrl: string, actor: string, which: string, clock?: Clock): Promise<RevocationSummary> {
  return withProvisionedStore(databaseUrl, (store) => unrevokeIn(store, actor, which, clock));
}
