import { createHash, createPublicKey } from 'node:crypto';
import {
  addYears,
  BUILTIN_GROUPS,
  type Clock,
  clusterBaseUrl,
  defaultDacl,
  newBracedGuid,
  newId,
  RmsError,
  SLC_VALIDITY_YEARS,
  type SlcRevocation,
  systemClock,
} from '@openrms/domain';
import { ClusterKey } from '@openrms/keys';
import { openStore, type Store } from '@openrms/store';
import { buildSlc, readCertificate, parseXrml, signXrml, SELF_ENROLLMENT_ISSUER_NAME } from '@openrms/xrml';
import { hostname } from 'node:os';
import { hashPassword } from './passwords';
import { SETTINGS } from './settings';
import { checkPrincipalName, isValidEmail } from './principal-admin';

export const SERVER_SKU = 'OpenRMS';
export const SERVER_VERSION = '6.1.0.0';

export interface ProvisionRootInput {
  databaseUrl: string;
  clusterUrl: string;
  serviceAccount: string;
  admin: { name: string; password: string; email?: string | undefined };
  keyPassword: string;
  revocation: SlcRevocation;
  serverName?: string | undefined;
  clock?: Clock;
}

export interface ProvisionResult {
  clusterId: string;
  clusterUrl: string;
  adminName: string;
  slc: { validFrom: Date; validUntil: Date };
}

function parseRevocationKeys(revocation: SlcRevocation) {
  if (revocation.kind !== 'custom') return { kind: 'standard' as const };
  return {
    kind: 'custom' as const,
    authorityKeys: revocation.authorityKeysPem.map((pem, i) => {
      try {
        const k = createPublicKey(pem);
        if (k.asymmetricKeyType !== 'rsa') throw new Error('not RSA');
        return k;
      } catch {
        throw new RmsError('InvalidInput', `revocation authority key ${i + 1} is not an RSA public key in PEM`);
      }
    }),
  };
}

/**
 * Creates a root certification cluster in an empty configuration database: schema, cluster key
 * (stored only wrapped), self-signed SLC valid one year, built-in groups, the administrator, the
 * service account and the default DACLs — all in one transaction, so a failure leaves nothing behind.
 */
export async function provisionRootCluster(input: ProvisionRootInput): Promise<ProvisionResult> {
  const clock = input.clock ?? systemClock;
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
  const revocation = parseRevocationKeys(input.revocation);
  const adminHash = await hashPassword(input.admin.password);
  // Generate and wrap before touching the database: these are the slow steps and may throw.
  const key = ClusterKey.generate(2048);
  const wrapped = key.wrap(input.keyPassword);

  const store = await openStore(input.databaseUrl, { migrate: true });
  try {
    return await store.transaction(async (tx) => {
      const existing = await tx.clusters.find();
      if (existing) {
        throw new RmsError(
          'AlreadyExists',
          `this database already holds the ${existing.kind} cluster "${existing.name}" (${existing.url}); nothing was changed`,
        );
      }
      const now = clock.now();
      const clusterId = newId();
      const host = new URL(clusterUrl).hostname;
      const serverName = input.serverName ?? hostname();
      await tx.clusters.create({ id: clusterId, kind: 'root', name: host, url: clusterUrl, createdAt: now });

      const keyId = newId();
      await tx.keys.insert({ id: keyId, clusterId, purpose: 'cluster', publicKeyPem: key.publicKeyPem, wrappedPrivateKey: wrapped, createdAt: now, active: true });

      const validUntil = addYears(now, SLC_VALIDITY_YEARS);
      const serverGuid = `{${clusterId}}`;
      const unsigned = buildSlc({
        descriptorGuid: newBracedGuid(),
        issuedTime: now,
        validFrom: now,
        validUntil,
        issuer: { id: serverGuid, name: SELF_ENROLLMENT_ISSUER_NAME, publicKey: key.publicKey, cpsUrl: `${clusterUrl}/certification` },
        subject: { serverGuid, name: serverName, url: clusterUrl, publicKey: key.publicKey, version: SERVER_VERSION, sku: SERVER_SKU },
        issueScope: ['RAC', 'CLC', 'PL', 'UL', 'SLC'],
        revocation,
      });
      const slc = signXrml(unsigned, key);
      const info = readCertificate(parseXrml(slc));
      const chainId = newId();
      await tx.slcChains.insert({
        id: chainId,
        clusterId,
        keyId,
        chain: [slc],
        subject: info.principal.name ?? serverGuid,
        issuer: info.issuer.name ?? serverGuid,
        validFrom: info.validFrom ?? now,
        validUntil: info.validUntil ?? validUntil,
        createdAt: now,
        active: true,
      });
      await tx.issued.record({
        id: newId(),
        clusterId,
        kind: 'SLC',
        subject: serverGuid,
        documentGuid: info.descriptorGuid,
        issuedAt: now,
        validUntil: info.validUntil ?? validUntil,
        documentSha256: createHash('sha256').update(slc).digest('hex'),
      });
      await tx.settings.set(SETTINGS.trustedRootKeyPem, key.publicKeyPem);
      await tx.settings.set(SETTINGS.slcRevocation, input.revocation.kind === 'custom' ? { kind: 'custom', authorityKeysPem: input.revocation.authorityKeysPem } : { kind: 'standard' });

      const groupIds = await createBuiltinGroups(tx, now);
      const adminId = newId();
      await tx.principals.createUser({ id: adminId, name: input.admin.name, email: adminEmail, passwordHash: adminHash, builtin: false, createdAt: now });
      await tx.principals.addMember(groupIds.administrators, adminId);
      const svc = await tx.principals.findByName(input.serviceAccount);
      const svcId = svc?.id ?? newId();
      if (!svc) {
        await tx.principals.createUser({ id: svcId, name: input.serviceAccount, email: `${input.serviceAccount}@${host}`, passwordHash: null, builtin: true, createdAt: now });
      }
      await tx.principals.addMember(groupIds.serviceGroup, svcId);
      await tx.servers.upsert({ id: newId(), clusterId, name: serverName, url: clusterUrl, serviceAccount: input.serviceAccount, joinedAt: now });

      for (const rule of defaultDacl(groupIds)) {
        await tx.dacl.add({ id: newId(), ...rule, createdAt: now, createdBy: 'provisioning' });
      }
      await tx.audit.append({
        at: now,
        actor: input.admin.name,
        action: 'cluster.provision',
        target: clusterId,
        after: { kind: 'root', url: clusterUrl, revocation: input.revocation.kind, serviceAccount: input.serviceAccount },
      });
      return { clusterId, clusterUrl, adminName: input.admin.name, slc: { validFrom: info.validFrom ?? now, validUntil: info.validUntil ?? validUntil } };
    });
  } finally {
    await store.close();
  }
}

async function createBuiltinGroups(tx: Store, now: Date) {
  const ids = { administrators: newId(), serviceGroup: newId(), authenticatedUsers: newId(), everyone: newId() };
  await tx.principals.createGroup({ id: ids.administrators, name: BUILTIN_GROUPS.administrators, builtin: true, createdAt: now });
  await tx.principals.createGroup({ id: ids.serviceGroup, name: BUILTIN_GROUPS.serviceGroup, builtin: true, createdAt: now });
  await tx.principals.createGroup({ id: ids.authenticatedUsers, name: BUILTIN_GROUPS.authenticatedUsers, builtin: true, createdAt: now });
  await tx.principals.createGroup({ id: ids.everyone, name: BUILTIN_GROUPS.everyone, builtin: true, createdAt: now });
  return ids;
}
