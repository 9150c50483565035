import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { BUILTIN_GROUPS, clusterBaseUrl, type ClusterKind, defaultDacl, newId, RmsError } from '@openrms/domain';
import type { ClusterKey } from '@openrms/keys';
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
  keyPassword: string;
  serverName?: string | undefined;
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
      await tx.audit.append({ at: now, actor: input.admin.name, action: 'cluster.provision', target: rec.clusterId, after: { kind: rec.kind, url: checked.clusterUrl, serviceAccount: input.serviceAccount, ...rec.auditAfter } });
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
