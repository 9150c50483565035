import { createHash } from 'node:crypto';
import { DAY_MS, systemClock, type Clock } from '@openrms/domain';
import { parseXrml, readCertificate } from '@openrms/xrml';
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
  keyFingerprint: string;
  publicKeyPem: string;
}

/** Reads the active chain without the key password: everything shown is public. */
export async function showSlc(databaseUrl: string, clock: Clock = systemClock): Promise<SlcSummary> {
  return withProvisionedStore(databaseUrl, async (store) => {
    const cluster = await store.clusters.get();
    const row = await store.slcChains.getActive(cluster.id);
    const leaf = readCertificate(parseXrml(row.chain[0]!));
    const key = leaf.principal.publicKey;
    const der = key.export({ format: 'der', type: 'spki' });
    const validUntil = leaf.validUntil ?? row.validUntil;
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
      keyFingerprint: createHash('sha256').update(der).digest('hex'),
      publicKeyPem: key.export({ format: 'pem', type: 'spki' }).toString(),
    };
  });
}
