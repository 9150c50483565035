import { type Clock, newId, RmsError, systemClock } from '@openrms/domain';
import { ClusterKey, publicKeySha256, readKeyExport, writeKeyExport, type PublishingDomainKey } from '@openrms/keys';
import type { Store } from '@openrms/store';
import { type CertificateInfo, parseXrml, publicKeysEqual, readCertificate, verifyChain } from '@openrms/xrml';
import { withProvisionedStore } from './principal-admin';
import { writePrivateFile } from './private-file';
import { SETTINGS } from './settings';

/*
 * Trusted publishing domains (PROTOCOL.md §6.1, `trustedLicensingServers`): another cluster's SLC
 * chain and private key, imported so this cluster licenses the content published for that
 * cluster (a decommissioned or migrated one). The imported key is stored sealed to THIS cluster's
 * public key (purpose 'publishing-domain-key'), not wrapped with the key password: every member
 * already holding the cluster key opens it at load, and a change of the cluster key password
 * leaves it untouched. It only ever opens content keys; what this cluster issues is signed with
 * its own key and chain.
 */

/** What `settings[trust.publishingDomains]` holds per domain; the key itself is in `keys`. */
export interface StoredPublishingDomain {
  keyId: string;
  sourceClusterId: string;
  kind: string;
  name: string;
  url: string;
  /** The imported SLC's principal id (the PL ISSUEDPRINCIPALS server GUID). */
  serverGuid: string;
  publicKeySha256: string;
  /** The imported SLC chain, leaf first. */
  chain: string[];
  importedAt: string;
  importedBy: string;
}

/** A trusted publishing domain as the use-cases see it: its SLC, and a key that only unseals. */
export interface PublishingDomain {
  keyId: string;
  name: string;
  slc: CertificateInfo;
  key: Pick<PublishingDomainKey, 'unsealContentKey'>;
}

const KEY_PURPOSE = 'publishing-domain';
const SEALED_FORMAT = 'openrms-sealed-key-v1';

interface SealedKeyColumn {
  format: typeof SEALED_FORMAT;
  purpose: 'publishing-domain-key';
  sealed: string;
}

export async function readStoredPublishingDomains(store: Store): Promise<StoredPublishingDomain[]> {
  const v = await store.settings.get(SETTINGS.trustedPublishingDomains);
  return Array.isArray(v) ? (v as StoredPublishingDomain[]) : [];
}

async function openClusterKey(store: Store, keyPassword: string): Promise<{ clusterId: string; key: ClusterKey }> {
  const cluster = await store.clusters.get();
  const row = await store.keys.getActive(cluster.id, 'cluster');
  return { clusterId: cluster.id, key: ClusterKey.unwrap(row.wrappedPrivateKey, keyPassword) };
}

export interface ExportClusterKeyInput {
  databaseUrl: string;
  keyPassword: string;
  /** The password the export file is encrypted with (at least 12 characters). */
  exportPassword: string;
  outFile: string;
  force?: boolean;
  actor?: string;
  clock?: Clock;
}

/**
 * `rmsctl key export`: the cluster key (encrypted PKCS#8 under the export password), the active SLC
 * chain and the cluster's identity in one PEM file (format: @openrms/keys key-export.ts), written
 * with mode 0600 and audited as `key.export` (no secret in the entry).
 */
export async function exportClusterKey(input: ExportClusterKeyInput): Promise<{ file: string; clusterId: string; publicKeySha256: string; chainLength: number }> {
  const clock = input.clock ?? systemClock;
  return withProvisionedStore(input.databaseUrl, async (store) => {
    const cluster = await store.clusters.get();
    const protection = ClusterKey.describeStored((await store.keys.getActive(cluster.id, 'cluster')).wrappedPrivateKey);
    if (protection.kind === 'pkcs11') {
      // Refused before the PIN is asked for: the token never lets the key out (docs/adr/0016-pkcs11-key-protection.md).
      throw new RmsError('InvalidInput', `the cluster key is kept in the PKCS#11 token "${protection.token}" (label "${protection.keyLabel}") and cannot be exported; back the token up with its own tools (docs/operations.md, "Keeping the cluster key in an HSM")`);
    }
    const { key } = await openClusterKey(store, input.keyPassword);
    const chain = (await store.slcChains.getActive(cluster.id)).chain;
    const leaf = readCertificate(parseXrml(chain[0]!));
    const now = clock.now();
    const text = writeKeyExport(
      key,
      input.exportPassword,
      { clusterId: cluster.id, kind: cluster.kind, name: cluster.name, url: cluster.url, serverGuid: leaf.principal.id, exportedAt: now.toISOString() },
      chain,
    );
    const file = writePrivateFile(input.outFile, text, input.force);
    const fingerprint = publicKeySha256(key.publicKey);
    await store.audit.append({ at: now, actor: input.actor ?? 'rmsctl', action: 'key.export', target: cluster.id, after: { file, publicKeySha256: fingerprint, chainLength: chain.length } });
    return { file, clusterId: cluster.id, publicKeySha256: fingerprint, chainLength: chain.length };
  });
}

export interface ImportPublishingDomainInput {
  databaseUrl: string;
  /** This cluster's key password: the imported key is sealed to this cluster's key. */
  keyPassword: string;
  /** The export file's text and password. */
  exportText: string;
  exportPassword: string;
  actor?: string;
  clock?: Clock;
}

export type PublishingDomainSummary = Pick<StoredPublishingDomain, 'keyId' | 'sourceClusterId' | 'kind' | 'name' | 'url' | 'serverGuid' | 'publicKeySha256'> & {
  slcValidUntil: Date | undefined;
  importedAt: Date;
};

function summarise(d: StoredPublishingDomain): PublishingDomainSummary {
  let slcValidUntil: Date | undefined;
  try {
    slcValidUntil = readCertificate(parseXrml(d.chain[0]!)).validUntil;
  } catch {
    slcValidUntil = undefined;
  }
  return {
    keyId: d.keyId,
    sourceClusterId: d.sourceClusterId,
    kind: d.kind,
    name: d.name,
    url: d.url,
    serverGuid: d.serverGuid,
    publicKeySha256: d.publicKeySha256,
    slcValidUntil,
    importedAt: new Date(d.importedAt),
  };
}

/**
 * `rmsctl key import`: another cluster's export becomes a trusted publishing domain of this
 * cluster. The file must open with its password and be intact, its SLC chain must verify up to its
 * own self-signed root, and its leaf must certify the key in the file. Members pick it up at their
 * next refresh. Audited as `trust.publishing-domain.import`.
 */
export async function importPublishingDomain(input: ImportPublishingDomainInput): Promise<PublishingDomainSummary> {
  const { databaseUrl, keyPassword, ...rest } = input;
  // The export is checked (password, signature, chain) before the cluster key is opened.
  const opened = openPublishingDomainExport(rest.exportText, rest.exportPassword);
  return withProvisionedStore(databaseUrl, async (store) => {
    const { clusterId, key } = await openClusterKey(store, keyPassword);
    return storePublishingDomain(store, clusterId, key, opened, rest);
  });
}

/** What importing needs of the cluster key: its public key to seal to, and proof it opens what was sealed. */
export type PublishingDomainSealer = Pick<ClusterKey, 'publicKey' | 'openPublishingDomainKey'>;

/**
 * The same with a key a running member already holds (the admin pages): the export file's text
 * and password, and who imports it. Nothing is written unless every check passed.
 */
export async function importPublishingDomainIn(
  store: Store,
  key: PublishingDomainSealer,
  input: Omit<ImportPublishingDomainInput, 'databaseUrl' | 'keyPassword'>,
): Promise<PublishingDomainSummary> {
  const opened = openPublishingDomainExport(input.exportText, input.exportPassword);
  const cluster = await store.clusters.get();
  return storePublishingDomain(store, cluster.id, key, opened, input);
}

interface OpenedDomainExport {
  opened: ReturnType<typeof readKeyExport>;
  chain: string[];
  leaf: CertificateInfo;
}

/** Opens an export and proves it is whole: its SLC chain verifies to its own root and certifies its key. */
function openPublishingDomainExport(exportText: string, exportPassword: string): OpenedDomainExport {
  const opened = readKeyExport(exportText, exportPassword);
  const chain = [...opened.chain];
  let leaf: CertificateInfo;
  try {
    const root = readCertificate(parseXrml(chain[chain.length - 1]!));
    if (!publicKeysEqual(root.issuer.publicKey, root.principal.publicKey)) throw new Error('the chain does not end at a self-signed root SLC');
    const claimedLeaf = readCertificate(parseXrml(chain[0]!));
    // Checked at the instant the SLC was issued: a domain is imported to license old content, often
    // after its cluster stopped renewing.
    leaf = verifyChain(chain, { trustedRootKeys: [root.principal.publicKey], now: claimedLeaf.validFrom ?? claimedLeaf.issuedTime })[0]!;
  } catch (e) {
    throw new RmsError('ChainInvalid', `the SLC chain in the export does not verify: ${(e as Error).message}`);
  }
  if (!publicKeysEqual(leaf.principal.publicKey, opened.publicKey)) throw new RmsError('ChainInvalid', 'the SLC in the export certifies another key than the one in it');
  return { opened, chain, leaf };
}

async function storePublishingDomain(
  store: Store,
  clusterId: string,
  key: PublishingDomainSealer,
  { opened, chain, leaf }: OpenedDomainExport,
  input: { actor?: string; clock?: Clock },
): Promise<PublishingDomainSummary> {
  const clock = input.clock ?? systemClock;
  const identity = opened.identity;
  if (publicKeysEqual(key.publicKey, opened.publicKey)) throw new RmsError('InvalidInput', 'this export holds this cluster’s own key; import it into another cluster');
  const existing = await readStoredPublishingDomains(store);
  const known = existing.find((d) => d.publicKeySha256 === identity.publicKeySha256);
  if (known) throw new RmsError('AlreadyExists', `the publishing domain ${known.name} (${known.serverGuid}) is already trusted`);
  const sealed = opened.sealAsPublishingDomainKey(key.publicKey);
  // Proves before anything is written that every member will be able to open it.
  key.openPublishingDomainKey(sealed);
  const now = clock.now();
  const record: StoredPublishingDomain = {
    keyId: newId(),
    sourceClusterId: String(identity.clusterId ?? ''),
    kind: String(identity.kind ?? ''),
    name: String(identity.name ?? leaf.principal.name ?? ''),
    url: String(identity.url ?? leaf.principal.url ?? ''),
    serverGuid: leaf.principal.id,
    publicKeySha256: identity.publicKeySha256,
    chain,
    importedAt: now.toISOString(),
    importedBy: input.actor ?? 'rmsctl',
  };
  const column: SealedKeyColumn = { format: SEALED_FORMAT, purpose: 'publishing-domain-key', sealed: sealed.toString('base64') };
  await store.transaction(async (tx) => {
    await tx.keys.insert({
      id: record.keyId,
      clusterId,
      purpose: KEY_PURPOSE,
      publicKeyPem: opened.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      wrappedPrivateKey: JSON.stringify(column),
      createdAt: now,
      active: true,
    });
    await tx.settings.set(SETTINGS.trustedPublishingDomains, [...(await readStoredPublishingDomains(tx)), record]);
    const after = { sourceClusterId: record.sourceClusterId, name: record.name, url: record.url, serverGuid: record.serverGuid, publicKeySha256: record.publicKeySha256, chainLength: chain.length };
    await tx.audit.append({ at: now, actor: record.importedBy, action: 'trust.publishing-domain.import', target: record.serverGuid, after });
  });
  return summarise(record);
}

/** `rmsctl trust publishing-domain list`: public facts only, no key password needed. */
export async function listPublishingDomains(databaseUrl: string): Promise<PublishingDomainSummary[]> {
  return withProvisionedStore(databaseUrl, listPublishingDomainsIn);
}

/** The same, from an open store (the admin overview). */
export async function listPublishingDomainsIn(store: Store): Promise<PublishingDomainSummary[]> {
  return (await readStoredPublishingDomains(store)).map(summarise);
}

const TOMBSTONE = JSON.stringify({ format: 'removed', purpose: 'publishing-domain-key' });

/**
 * `rmsctl trust publishing-domain remove NAME|SERVER-GUID|FINGERPRINT`: members stop licensing its
 * content from their next refresh. The sealed key is overwritten (the store keeps no copy) and its
 * row deactivated; the chain goes with the settings entry. Audited as
 * `trust.publishing-domain.remove`. Needs no key password: nothing is opened.
 */
export async function removePublishingDomain(input: { databaseUrl: string; which: string; actor?: string; clock?: Clock }): Promise<PublishingDomainSummary> {
  const { databaseUrl, ...rest } = input;
  return withProvisionedStore(databaseUrl, (store) => removePublishingDomainIn(store, rest));
}

/** The same on an open store (the admin pages). */
export async function removePublishingDomainIn(store: Store, input: { which: string; actor?: string; clock?: Clock }): Promise<PublishingDomainSummary> {
  const clock = input.clock ?? systemClock;
  const which = input.which.trim();
  const lower = which.toLowerCase();
  const fp = lower.replace(/^sha256:/, '').replace(/[:…]/g, '');
  if (!which) throw new RmsError('InvalidInput', 'name the trusted publishing domain by its name, server GUID or key fingerprint');
  return store.transaction(async (tx) => {
    const all = await readStoredPublishingDomains(tx);
    let hits = all.filter((d) => d.name.toLowerCase() === lower || d.serverGuid.toLowerCase() === lower || d.keyId === which);
    if (hits.length === 0 && /^[0-9a-f]{8,64}$/.test(fp)) hits = all.filter((d) => d.publicKeySha256.startsWith(fp));
    if (hits.length > 1) throw new RmsError('InvalidInput', `"${which}" matches ${hits.length} trusted publishing domains; give the server GUID or the whole fingerprint`);
    const hit = hits[0];
    if (!hit) throw new RmsError('NotFound', `no trusted publishing domain is named or has the server GUID or fingerprint "${which}"`);
    const row = await tx.keys.find(hit.keyId);
    if (row && row.purpose === KEY_PURPOSE) {
      await tx.keys.replaceWrapped(row.id, row.wrappedPrivateKey, TOMBSTONE);
      await tx.keys.setActive(row.id, false);
    }
    await tx.settings.set(
      SETTINGS.trustedPublishingDomains,
      all.filter((d) => d.keyId !== hit.keyId),
    );
    const before = { sourceClusterId: hit.sourceClusterId, name: hit.name, url: hit.url, serverGuid: hit.serverGuid, publicKeySha256: hit.publicKeySha256 };
    await tx.audit.append({ at: clock.now(), actor: input.actor ?? 'rmsctl', action: 'trust.publishing-domain.remove', target: hit.serverGuid, before });
    return summarise(hit);
  });
}

/**
 * The trusted publishing domains, their keys opened with the cluster key (a member does this at
 * load and on refresh; `previous` spares the RSA work for domains already open). A domain whose
 * key row is gone or does not match its SLC fails the load: licensing its content silently
 * would otherwise stop.
 */
export async function loadPublishingDomains(store: Store, key: ClusterKey, previous: readonly PublishingDomain[] = []): Promise<PublishingDomain[]> {
  const stored = await readStoredPublishingDomains(store);
  const out: PublishingDomain[] = [];
  for (const d of stored) {
    const again = previous.find((p) => p.keyId === d.keyId);
    if (again) {
      out.push(again);
      continue;
    }
    const row = await store.keys.find(d.keyId);
    if (!row || row.purpose !== KEY_PURPOSE || !row.active) continue;
    let column: SealedKeyColumn;
    try {
      column = JSON.parse(row.wrappedPrivateKey) as SealedKeyColumn;
    } catch {
      throw new RmsError('InvalidInput', `the stored key of publishing domain ${d.name} is not in a known format`);
    }
    if (column.format !== SEALED_FORMAT) throw new RmsError('InvalidInput', `the stored key of publishing domain ${d.name} has an unknown format`);
    const domainKey = key.openPublishingDomainKey(Buffer.from(column.sealed, 'base64'));
    const slc = readCertificate(parseXrml(d.chain[0]!));
    if (!publicKeysEqual(slc.principal.publicKey, domainKey.publicKey)) {
      throw new RmsError('ChainInvalid', `the SLC of publishing domain ${d.name} does not certify its stored key`);
    }
    out.push({ keyId: d.keyId, name: d.name, slc, key: domainKey });
  }
  return out;
}
