import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { BUILTIN_GROUPS, clusterBaseUrl, type ClusterKind, defaultDacl, newId, RmsError } from '@openrms/domain';
import { ClusterKey } from '@openrms/keys';
import { openStore, type Store } from '@openrms/store';
import { type CertificateInfo, parseXrml, readCertificate } from '@openrms/xrml';
import { hashPassword } from './passwords';
import { checkPrincipalName, isValidEmail } from './principal-admin';
import { SETTINGS } from './settings';

export const SERVER_SKU = 'OpenRMS';
export const SERVER_VERSION = '6.1.0.0';

/** What every first server of a cluster is given, root or licensing-only. */
export interface ClusterProvisionInput {
  databaseUrl: string;
  clusterUrl: string;
  serviceAccount: string;
  admin: { name: string; password: string; email?: string | undefined };
  /** The cluster key password; not used when keyProtection keeps the key in a PKCS#11 token. */
  keyPassword?: string | undefined;
  /** Where the new cluster key is kept: wrapped with keyPassword in the database (the default), or in a token. */
  keyProtection?: ProvisionKeyProtection | undefined;
  serverName?: string | undefined;
}

/**
 * A cluster key generated inside a PKCS#11 token (docs/adr/0016-pkcs11-key-protection.md): the
 * database records module, token and key label, never the PIN; every member opens the same token.
 */
export interface ProvisionKeyProtection {
  kind: 'pkcs11';
  module: string;
  token: string;
  pin: string;
  /** CKA_LABEL of the key objects; default `openrms-cluster-<cluster id>`. */
  keyLabel?: string | undefined;
}

/**
 * The new cluster key and what the database stores for it. Slow (key generation) and may throw
 * (a wrong PIN, a missing token): call before the database is touched, and `discard()` the key if
 * the cluster is not written after all.
 */
export function createClusterKey(input: ClusterProvisionInput, clusterId: string): { key: ClusterKey; stored: string } {
  const p = input.keyProtection;
  if (p?.kind === 'pkcs11') {
    return ClusterKey.create({ kind: 'pkcs11', module: p.module, token: p.token, pin: p.pin, label: p.keyLabel ?? `openrms-cluster-${clusterId}` });
  }
  if (!input.keyPassword) throw new RmsError('InvalidInput', 'the cluster key password is missing');
  return ClusterKey.create({ kind: 'password', password: input.keyPassword });
}

/** Runs the rest of provisioning; a key generated in a token for a cluster that was not written is removed again. */
export async function orDiscardKey<T>(key: ClusterKey, rest: () => Promise<T>): Promise<T> {
  try {
    return await rest();
  } catch (e) {
    try {
      key.discard();
    } catch {
      // The token went away too; the operator sees the first error, and the stray key has no cluster.
    }
    throw e;
  }
}

export interface CheckedProvisionInput {
  clusterUrl: string;
  adminEmail: string;
  adminHash: string;
  serverName: string;
}

/** Everything that can be refused is refused here, before a key is made or a database touched. */
export async function checkProvisionInput(input: ClusterProvisionInput): Promise<CheckedProvisionInput> {
  let clusterUrl: string;
  try {
    clusterUrl = clusterBaseUrl(input.clusterUrl);
  } catch {
    throw new RmsError('InvalidInput', `--cluster-url must be an http(s) URL, got "${input.clusterUrl}"`);
  }
  const adminEmail = input.admin.email ?? `${input.admin.name}@${new URL(clusterUrl).hostname}`;
  if (!isValidEmail(adminEmail)) throw new RmsError('InvalidInput', `"${adminEmail}" is not a valid e-mail address`);
  checkPrincipalName(input.admin.name, 'administrator');
  checkPrincipalName(input.serviceAccount, 'service account');
  return { clusterUrl, adminEmail, adminHash: await hashPassword(input.admin.password), serverName: input.serverName ?? hostname() };
}

export interface ClusterRecords {
  clusterId: string;
  kind: ClusterKind;
  key: ClusterKey;
  wrappedKey: string;
  /** The signed SLC chain, leaf first. */
  chain: string[];
  trustedRootKeyPem: string;
  settings: Record<string, unknown>;
  auditAfter: Record<string, unknown>;
}

export interface ProvisionResult {
  clusterId: string;
  clusterUrl: string;
  adminName: string;
  slc: { validFrom: Date; validUntil: Date };
}

/**
 * Writes a new cluster into an empty configuration database in one transaction: the cluster, its
 * wrapped key, the active SLC chain, trust settings, built-in groups, the administrator, the
 * service account, this first member and the default DACLs. A failure leaves nothing behind; a
 * database that already holds a cluster is refused unchanged.
 */
export async function writeNewCluster(input: ClusterProvisionInput, checked: CheckedProvisionInput, rec: ClusterRecords, now: Date): Promise<ProvisionResult> {
  const leaf = readCertificate(parseXrml(rec.chain[0]!));
  const validFrom = leaf.validFrom ?? now;
  const validUntil = leaf.validUntil!;
  const store = await openStore(input.databaseUrl, { migrate: true });
  try {
    return await store.transaction(async (tx) => {
      const existing = await tx.clusters.find();
      if (existing) {
        throw new RmsError('AlreadyExists', `this database already holds the ${existing.kind} cluster "${existing.name}" (${existing.url}); nothing was changed`);
      }
      const host = new URL(checked.clusterUrl).hostname;
      await tx.clusters.create({ id: rec.clusterId, kind: rec.kind, name: host, url: checked.clusterUrl, createdAt: now });
      const keyId = newId();
      await tx.keys.insert({ id: keyId, clusterId: rec.clusterId, purpose: 'cluster', publicKeyPem: rec.key.publicKeyPem, wrappedPrivateKey: rec.wrappedKey, createdAt: now, active: true });
      await activateNewChain(tx, { clusterId: rec.clusterId, keyId, chain: rec.chain, leaf, validFrom, validUntil, now });
      await tx.settings.set(SETTINGS.trustedRootKeyPem, rec.trustedRootKeyPem);
      for (const [k, v] of Object.entries(rec.settings)) await tx.settings.set(k, v);

      const groupIds = await createBuiltinGroups(tx, now);
      const adminId = newId();
      await tx.principals.createUser({ id: adminId, name: input.admin.name, email: checked.adminEmail, passwordHash: checked.adminHash, builtin: false, createdAt: now });
      await tx.principals.addMember(groupIds.administrators, adminId);
      const svc = await tx.principals.findByName(input.serviceAccount);
      const svcId = svc?.id ?? newId();
      if (!svc) {
        await tx.principals.createUser({ id: svcId, name: input.serviceAccount, email: `${input.serviceAccount}@${host}`, passwordHash: null, builtin: true, createdAt: now });
      }
      await tx.principals.addMember(groupIds.serviceGroup, svcId);
      await tx.servers.upsert({ id: newId(), clusterId: rec.clusterId, name: checked.serverName, url: checked.clusterUrl, serviceAccount: input.serviceAccount, joinedAt: now });
      for (const rule of defaultDacl(groupIds)) {
        await tx.dacl.add({ id: newId(), ...rule, createdAt: now, createdBy: 'provisioning' });
      }
      await tx.audit.append({ at: now, actor: input.admin.name, action: 'cluster.provision', target: rec.clusterId, after: { kind: rec.kind, url: checked.clusterUrl, serviceAccount: input.serviceAccount, keyProtection: ClusterKey.describeStored(rec.wrappedKey), ...rec.auditAfter } });
      return { clusterId: rec.clusterId, clusterUrl: checked.clusterUrl, adminName: input.admin.name, slc: { validFrom, validUntil } };
    });
  } finally {
    await store.close();
  }
}

/**
 * Stores a verified SLC chain as the cluster's active one (inserting an active chain deactivates
 * the others) and records the SLC as issued. Call inside the transaction that decides the swap.
 */
export async function activateNewChain(
  tx: Store,
  c: { clusterId: string; keyId: string; chain: string[]; leaf: CertificateInfo; validFrom: Date; validUntil: Date; now: Date },
): Promise<void> {
  await tx.slcChains.insert({
    id: newId(),
    clusterId: c.clusterId,
    keyId: c.keyId,
    chain: c.chain,
    subject: c.leaf.principal.name ?? c.leaf.principal.id,
    issuer: c.leaf.issuer.name ?? c.leaf.issuer.id,
    validFrom: c.validFrom,
    validUntil: c.validUntil,
    createdAt: c.now,
    active: true,
  });
  await tx.issued.record({
    id: newId(),
    clusterId: c.clusterId,
    kind: 'SLC',
    subject: c.leaf.principal.id,
    documentGuid: c.leaf.descriptorGuid,
    issuedAt: c.now,
    validUntil: c.validUntil,
    documentSha256: createHash('sha256').update(c.chain[0]!).digest('hex'),
  });
}

async function createBuiltinGroups(tx: Store, now: Date) {
  const ids = { administrators: newId(), serviceGroup: newId(), authenticatedUsers: newId(), everyone: newId() };
  await tx.principals.createGroup({ id: ids.administrators, name: BUILTIN_GROUPS.administrators, builtin: true, createdAt: now });
  await tx.principals.createGroup({ id: ids.serviceGroup, name: BUILTIN_GROUPS.serviceGroup, builtin: true, createdAt: now });
  await tx.principals.createGroup({ id: ids.authenticatedUsers, name: BUILTIN_GROUPS.authenticatedUsers, builtin: true, createdAt: now });
  await tx.principals.createGroup({ id: ids.everyone, name: BUILTIN_GROUPS.everyone, builtin: true, createdAt: now });
  return ids;
}
