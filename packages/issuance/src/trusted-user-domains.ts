import { createPublicKey, type KeyObject } from 'node:crypto';
import { type Clock, RmsError, systemClock } from '@openrms/domain';
import type { Store } from '@openrms/store';
import { parseXrml, publicKeyFingerprint, publicKeysEqual, readCertificate, verifyChain } from '@openrms/xrml';
import { withProvisionedStore } from './principal-admin';
import { SETTINGS } from './settings';

/*
 * Trusted user domains (PROTOCOL.md §6.1, `trustedRacIssuers`): other roots' SLC keys whose RACs
 * this cluster accepts in AcquireLicense. Such a RAC is only its e-mail address (subject-for: not
 * authoritative). Two sources feed the runtime's racIssuerKeys besides the cluster's own SLC key:
 *   - `trust.racIssuersPem` (a plain PEM list): written at provisioning of a licensing-only
 *     cluster with its root's key. It is part of the cluster, never removed here.
 *   - `trust.userDomains`: what `rmsctl trust user-domain add` imports.
 */

/** What `settings[trust.userDomains]` holds per imported domain. */
export interface StoredUserDomain {
  name: string;
  publicKeyPem: string;
  /** publicKeyFingerprint of the key: SHA-256 of the SPKI DER, lowercase hex. */
  fingerprint: string;
  /** The SLC's principal id when the import was an SLC; absent for a bare PEM key. */
  serverGuid?: string;
  source: 'pem' | 'slc';
  addedAt: string;
  addedBy: string;
}

export interface UserDomainSummary {
  name: string;
  fingerprint: string;
  serverGuid: string | undefined;
  /** 'root': the root cluster's key a licensing-only cluster trusts since provisioning (not removable). */
  kind: 'root' | 'imported';
  addedAt: Date | undefined;
}

function readImported(v: unknown): StoredUserDomain[] {
  return Array.isArray(v) ? (v as StoredUserDomain[]) : [];
}

async function readBuiltinPems(store: Store): Promise<string[]> {
  const v = await store.settings.get(SETTINGS.trustedRacIssuersPem);
  return Array.isArray(v) ? v.filter((p): p is string => typeof p === 'string') : [];
}

/** The PEM keys of every trusted user domain (the root's of a licensing cluster first); the runtime adds them to racIssuerKeys. */
export async function readTrustedRacIssuerKeys(store: Store): Promise<KeyObject[]> {
  const pems = [...(await readBuiltinPems(store)), ...readImported(await store.settings.get(SETTINGS.trustedUserDomains)).map((d) => d.publicKeyPem)];
  return pems.map((pem) => createPublicKey(pem));
}

/** Trusted user domains as the admin pages and `list` show them, from an open store. */
export async function listUserDomainsIn(store: Store): Promise<UserDomainSummary[]> {
  const builtin = (await readBuiltinPems(store)).map<UserDomainSummary>((pem) => ({
    name: 'root cluster',
    fingerprint: publicKeyFingerprint(createPublicKey(pem)),
    serverGuid: undefined,
    kind: 'root',
    addedAt: undefined,
  }));
  const imported = readImported(await store.settings.get(SETTINGS.trustedUserDomains)).map<UserDomainSummary>((d) => ({
    name: d.name,
    fingerprint: d.fingerprint,
    serverGuid: d.serverGuid,
    kind: 'imported',
    addedAt: new Date(d.addedAt),
  }));
  return [...builtin, ...imported];
}

/** `rmsctl trust user-domain list`. */
export async function listUserDomains(databaseUrl: string): Promise<UserDomainSummary[]> {
  return withProvisionedStore(databaseUrl, listUserDomainsIn);
}

interface ParsedIssuer {
  key: KeyObject;
  serverGuid?: string;
  name?: string;
  source: StoredUserDomain['source'];
}

/** The XrML documents in a file: a JSON array (leaf first), or one or more `<XrML>` documents one after the other. */
function xrmlDocuments(text: string): string[] {
  const t = text.trim();
  if (t.startsWith('[')) {
    const v = JSON.parse(t) as unknown;
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string')) throw new Error('a JSON chain must be a non-empty array of XrML strings');
    return v as string[];
  }
  const docs = [...t.matchAll(/<XrML\b[\s\S]*?<\/XrML>/g)].map((m) => m[0]);
  if (docs.length === 0) throw new Error('no XrML certificate found');
  return docs;
}

/**
 * What `--slc-file` may hold: the other root's public key in PEM (`rmsctl slc show --pem` there),
 * its SLC, or its SLC chain leaf first (JSON array or XrML documents one after another). A chain of
 * more than one, or a self-signed SLC, must verify (at the leaf's issue time: what counts is that
 * the documents belong together); the trusted key is the leaf's, the one that signs its RACs.
 */
export function parseUserDomainIssuer(text: string): ParsedIssuer {
  if (/-----BEGIN (RSA )?PUBLIC KEY-----/.test(text)) {
    let key: KeyObject;
    try {
      key = createPublicKey(text.trim());
    } catch (e) {
      throw new RmsError('InvalidInput', `the PEM public key cannot be read: ${(e as Error).message}`);
    }
    if (key.asymmetricKeyType !== 'rsa') throw new RmsError('InvalidInput', 'the public key is not an RSA key');
    return { key, source: 'pem' };
  }
  let chain: string[];
  try {
    chain = xrmlDocuments(text);
  } catch (e) {
    throw new RmsError('InvalidInput', `the file is neither a PEM public key nor an SLC (chain): ${(e as Error).message}`);
  }
  try {
    const leaf = readCertificate(parseXrml(chain[0]!));
    const last = readCertificate(parseXrml(chain[chain.length - 1]!));
    const selfSigned = publicKeysEqual(last.issuer.publicKey, last.principal.publicKey);
    if (chain.length > 1 || selfSigned) {
      verifyChain(chain, { trustedRootKeys: [last.issuer.publicKey], now: leaf.validFrom ?? leaf.issuedTime });
    }
    return { key: leaf.principal.publicKey, serverGuid: leaf.principal.id, name: leaf.principal.name ?? undefined, source: 'slc' };
  } catch (e) {
    throw new RmsError('ChainInvalid', `the SLC in the file does not verify: ${(e as Error).message}`);
  }
}

export interface AddUserDomainInput {
  databaseUrl: string;
  /** The file's text: see parseUserDomainIssuer. */
  text: string;
  name?: string;
  actor?: string;
  clock?: Clock;
}

/** `rmsctl trust user-domain add`: members accept its RACs from their next refresh. Audited as `trust.user-domain.add`. */
export async function addUserDomain(input: AddUserDomainInput): Promise<UserDomainSummary> {
  const { databaseUrl, ...rest } = input;
  return withProvisionedStore(databaseUrl, (store) => addUserDomainIn(store, rest));
}

/** The same on an open store (the admin pages): the file is checked before anything is written. */
export async function addUserDomainIn(store: Store, input: Omit<AddUserDomainInput, 'databaseUrl'>): Promise<UserDomainSummary> {
  const clock = input.clock ?? systemClock;
  const parsed = parseUserDomainIssuer(input.text);
  const fingerprint = publicKeyFingerprint(parsed.key);
  const name = (input.name ?? parsed.name ?? `user-domain-${fingerprint.slice(0, 12)}`).trim();
  if (!name || name.length > 200 || /[\u0000-\u001f]/.test(name)) throw new RmsError('InvalidInput', 'the name must be 1 to 200 printable characters');
  if (/^(sha256:)?[0-9a-f]{8,64}$/i.test(name)) throw new RmsError('InvalidInput', 'the name must not look like a fingerprint');
  const cluster = await store.clusters.get();
  const own = readCertificate(parseXrml((await store.slcChains.getActive(cluster.id)).chain[0]!)).principal.publicKey;
  if (publicKeysEqual(own, parsed.key)) throw new RmsError('InvalidInput', 'this is this cluster’s own SLC key; its RACs are always accepted');
  const now = clock.now();
  const record: StoredUserDomain = {
    name,
    publicKeyPem: parsed.key.export({ format: 'pem', type: 'spki' }).toString(),
    fingerprint,
    ...(parsed.serverGuid ? { serverGuid: parsed.serverGuid } : {}),
    source: parsed.source,
    addedAt: now.toISOString(),
    addedBy: input.actor ?? 'rmsctl',
  };
  await store.transaction(async (tx) => {
    const existing = await listUserDomainsIn(tx);
    const known = existing.find((d) => d.fingerprint === fingerprint);
    if (known) throw new RmsError('AlreadyExists', `the key sha256:${fingerprint} is already trusted as user domain ${known.name}`);
    if (existing.some((d) => d.name.toLowerCase() === name.toLowerCase())) throw new RmsError('AlreadyExists', `a trusted user domain is already named ${name}; choose another name`);
    await tx.settings.set(SETTINGS.trustedUserDomains, [...readImported(await tx.settings.get(SETTINGS.trustedUserDomains)), record]);
    await tx.settings.bumpConfigVersion();
    await tx.audit.append({ at: now, actor: record.addedBy, action: 'trust.user-domain.add', target: name, after: { fingerprint, serverGuid: record.serverGuid ?? null, source: record.source } });
  });
  return { name, fingerprint, serverGuid: record.serverGuid, kind: 'imported', addedAt: now };
}

const normaliseFingerprint = (s: string) => s.trim().toLowerCase().replace(/^sha256:/, '').replace(/[:…]/g, '');

/**
 * `rmsctl trust user-domain remove NAME|FINGERPRINT` (a fingerprint prefix of 8 or more hex digits
 * that names one domain will do). The root key of a licensing-only cluster is refused. Audited as
 * `trust.user-domain.remove`.
 */
export async function removeUserDomain(input: { databaseUrl: string; which: string; actor?: string; clock?: Clock }): Promise<UserDomainSummary> {
  const { databaseUrl, ...rest } = input;
  return withProvisionedStore(databaseUrl, (store) => removeUserDomainIn(store, rest));
}

/** The same on an open store (the admin pages). */
export async function removeUserDomainIn(store: Store, input: { which: string; actor?: string; clock?: Clock }): Promise<UserDomainSummary> {
  const clock = input.clock ?? systemClock;
  const which = input.which.trim();
  if (!which) throw new RmsError('InvalidInput', 'name the trusted user domain by its name or fingerprint');
  return store.transaction(async (tx) => {
    const all = await listUserDomainsIn(tx);
    const fp = normaliseFingerprint(which);
    let hits = all.filter((d) => d.kind === 'imported' && d.name.toLowerCase() === which.toLowerCase());
    if (hits.length === 0 && /^[0-9a-f]{8,64}$/.test(fp)) hits = all.filter((d) => d.fingerprint.startsWith(fp));
    if (hits.length > 1) throw new RmsError('InvalidInput', `"${which}" matches ${hits.length} trusted user domains; give the whole fingerprint`);
    const hit = hits[0];
    if (!hit) throw new RmsError('NotFound', `no trusted user domain is named or has the fingerprint "${which}"`);
    if (hit.kind === 'root') {
      throw new RmsError('InvalidInput', `sha256:${hit.fingerprint} is the key of this licensing-only cluster's root cluster, trusted since provisioning; it cannot be removed (users certified by the root would lose every licence)`);
    }
    const kept = readImported(await tx.settings.get(SETTINGS.trustedUserDomains)).filter((d) => d.fingerprint !== hit.fingerprint);
    await tx.settings.set(SETTINGS.trustedUserDomains, kept);
    await tx.settings.bumpConfigVersion();
    await tx.audit.append({ at: clock.now(), actor: input.actor ?? 'rmsctl', action: 'trust.user-domain.remove', target: hit.name, before: { fingerprint: hit.fingerprint, serverGuid: hit.serverGuid ?? null } });
    return hit;
  });
}
