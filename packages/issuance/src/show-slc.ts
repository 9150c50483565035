import { DAY_MS, systemClock, type Clock } from '@openrms/domain';
import { ClusterKey, type KeyProtection } from '@openrms/keys';
import { parseXrml, publicKeyFingerprint, readCertificate } from '@openrms/xrml';
import { withProvisionedStore } from './principal-admin';

export interface SlcSummary {
  clusterId: string;
  clusterName: string;
  clusterKind: string;
  subject: string;
  issuer: string;
  validFrom: Date;
  validUntil: Date;
  daysLeft: number;
  chainLength: number;
  keyBits: number;
  /** publicKeyFingerprint of the cluster key: what `rms` and the admin overview print too. */
  keyFingerprint: string;
  /** The key the chain ends at, which clients trust on first use: the cluster key for a root cluster, the root's for a licensing-only one. */
  rootKeyFingerprint: string;
  publicKeyPem: string;
  /** Where the cluster key is kept (password-wrapped in the database, or a PKCS#11 token): public facts, no PIN. */
  keyProtection: KeyProtection;
}

/** Reads the active chain without the key password: everything shown is public. */
export async function showSlc(databaseUrl: string, clock: Clock = systemClock): Promise<SlcSummary> {
  return withProvisionedStore(databaseUrl, async (store) => {
    const cluster = await store.clusters.get();
    const row = await store.slcChains.getActive(cluster.id);
    const leaf = readCertificate(parseXrml(row.chain[0]!));
    const key = leaf.principal.publicKey;
    const last = row.chain.length > 1 ? readCertificate(parseXrml(row.chain[row.chain.length - 1]!)) : leaf;
    const validUntil = leaf.validUntil ?? row.validUntil;
    const keyProtection = ClusterKey.describeStored((await store.keys.getActive(cluster.id, 'cluster')).wrappedPrivateKey);
    return {
      clusterId: cluster.id,
      clusterName: cluster.name,
      clusterKind: cluster.kind,
      subject: `${leaf.principal.name ?? ''} ${leaf.principal.id}`.trim(),
      issuer: `${leaf.issuer.name ?? ''} ${leaf.issuer.id}`.trim(),
      validFrom: leaf.validFrom ?? row.validFrom,
      validUntil,
      daysLeft: Math.floor((validUntil.getTime() - clock.now().getTime()) / DAY_MS),
      chainLength: row.chain.length,
      keyBits: key.asymmetricKeyDetails?.modulusLength ?? 0,
      keyFingerprint: publicKeyFingerprint(key),
      rootKeyFingerprint: publicKeyFingerprint(last.issuer.publicKey),
      publicKeyPem: key.export({ format: 'pem', type: 'spki' }).toString(),
      keyProtection,
    };
  });
}
