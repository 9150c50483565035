import { createPublicKey } from 'node:crypto';
import { addYears, type Clock, newBracedGuid, newId, RmsError, SLC_VALIDITY_YEARS, type SlcRevocation, systemClock } from '@openrms/domain';
import { ClusterKey } from '@openrms/keys';
import { buildSlc, type IssueScope, SELF_ENROLLMENT_ISSUER_NAME, signXrml, type SlcFields } from '@openrms/xrml';
import { checkProvisionInput, type ClusterProvisionInput, createClusterKey, orDiscardKey, type ProvisionResult, SERVER_SKU, SERVER_VERSION, writeNewCluster } from './provision-cluster';
import { SETTINGS } from './settings';
import { revocationListUrl } from './revocation-list';

export { SERVER_SKU, SERVER_VERSION, type ProvisionResult } from './provision-cluster';

export interface ProvisionRootInput extends ClusterProvisionInput {
  revocation: SlcRevocation;
  clock?: Clock;
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

/** The stored SLC revocation policy (settings `slc.revocation`) as the SLC builder takes it. */
export function slcRevocationFromSetting(stored: unknown): SlcFields['revocation'] {
  const r = stored as { kind?: string; authorityKeysPem?: string[] } | undefined;
  return r?.kind === 'custom' && r.authorityKeysPem ? { kind: 'custom', authorityKeys: r.authorityKeysPem.map((pem) => createPublicKey(pem)) } : { kind: 'standard' };
}

/**
 * The root cluster's self-signed SLC, valid one year from `now`: built at provisioning and again
 * at each renewal (same key, GUID, name, scope and revocation policy).
 */
export function buildRootSlc(
  key: ClusterKey,
  f: { serverGuid: string; name: string; url: string; issueScope: readonly IssueScope[]; revocation: SlcFields['revocation']; now: Date; revocationListUrl?: string },
): string {
  return signXrml(
    buildSlc({
      descriptorGuid: newBracedGuid(),
      issuedTime: f.now,
      validFrom: f.now,
      validUntil: addYears(f.now, SLC_VALIDITY_YEARS),
      issuer: { id: f.serverGuid, name: SELF_ENROLLMENT_ISSUER_NAME, publicKey: key.publicKey, cpsUrl: `${f.url}/certification` },
      subject: { serverGuid: f.serverGuid, name: f.name, url: f.url, publicKey: key.publicKey, version: SERVER_VERSION, sku: SERVER_SKU },
      issueScope: f.issueScope,
      ...(f.revocation ? { revocation: { ...f.revocation, ...(f.revocationListUrl ? { listUrl: f.revocationListUrl } : {}) } } : {}),
    }),
    key,
  );
}

/**
 * Creates a root certification cluster in an empty configuration database: cluster key (stored
 * only wrapped), a self-signed SLC valid one year carrying the revocation policy, and the rest
 * of a new cluster (see writeNewCluster), in one transaction.
 */
export async function provisionRootCluster(input: ProvisionRootInput): Promise<ProvisionResult> {
  const clock = input.clock ?? systemClock;
  const checked = await checkProvisionInput(input);
  const revocation = parseRevocationKeys(input.revocation);
  const clusterId = newId();
  // Generate and wrap (or generate in the token) before touching the database: the slow steps, and they may throw.
  const { key, stored: wrappedKey } = createClusterKey(input, clusterId);
  const now = clock.now();
  const serverGuid = `{${clusterId}}`;
  return orDiscardKey(key, () => {
    const slc = buildRootSlc(key, { serverGuid, name: checked.serverName, url: checked.clusterUrl, issueScope: ['RAC', 'CLC', 'PL', 'UL', 'SLC'], revocation, now, revocationListUrl: revocationListUrl({ url: checked.clusterUrl, id: clusterId }) });
    return writeNewCluster(
      input,
      checked,
      {
        clusterId,
        kind: 'root',
        key,
        wrappedKey,
        chain: [slc],
        trustedRootKeyPem: key.publicKeyPem,
        settings: {
          [SETTINGS.slcRevocation]: input.revocation.kind === 'custom' ? { kind: 'custom', authorityKeysPem: input.revocation.authorityKeysPem } : { kind: 'standard' },
        },
        auditAfter: { revocation: input.revocation.kind },
      },
      now,
    );
  });
}
