import { type Clock, clusterBaseUrl, newId, RmsError, systemClock } from '@openrms/domain';
import { parseXrml, pkcs1PublicKeyBase64, publicKeysEqual, readCertificate, verifyChain } from '@openrms/xrml';
import { checkProvisionInput, type ClusterProvisionInput, createClusterKey, orDiscardKey, type ProvisionResult, SERVER_SKU, SERVER_VERSION, writeNewCluster } from './provision-cluster';
import { type RootCredentials, sealRootCredentials } from './root-credentials';
import { SETTINGS } from './settings';

/** The calls a new licensing-only cluster makes to its root (a SOAP client in practice). */
export interface RootClusterPort {
  getLicensorCertificate(): Promise<string[]>;
  subEnroll(req: { publicKeyPkcs1: Buffer; guid: string; sku: string; version: string; name: string; url: string }): Promise<string[]>;
}

export interface ProvisionLicensingInput extends ClusterProvisionInput {
  rootUrl: string;
  root: RootClusterPort;
  /**
   * The root account used for SubEnroll, kept (sealed to the new cluster key) so the SLC can be
   * renewed unattended (docs/adr/0010-slc-renewal.md). Without it, renewal needs
   * updateRootCredentials first.
   */
  rootCredentials?: RootCredentials;
  clock?: Clock;
}

/**
 * Creates a licensing-only cluster: a new key, an SLC signed by the root through SubEnroll, the
 * root's key as trust anchor and as the issuer of the RACs it accepts. The root is asked before
 * anything is written, so a refusal or an unreachable root leaves the database as it was.
 */
export async function provisionLicensingCluster(input: ProvisionLicensingInput): Promise<ProvisionResult & { rootUrl: string; chainLength: number }> {
  const clock = input.clock ?? systemClock;
  const checked = await checkProvisionInput(input);
  let rootUrl: string;
  try {
    rootUrl = clusterBaseUrl(input.rootUrl);
  } catch {
    throw new RmsError('InvalidInput', `--root-url must be an http(s) URL, got "${input.rootUrl}"`);
  }
  if (rootUrl === checked.clusterUrl) throw new RmsError('InvalidInput', 'a licensing-only cluster needs its own URL, not the root cluster’s');
  const clusterId = newId();
  const guid = `{${clusterId}}`;
  const { key, stored: wrappedKey } = createClusterKey(input, clusterId);
  // A key generated in a token for a cluster that is not written (the root refused, say) is removed again.
  return orDiscardKey(key, async () => {
    const sealedRootCredentials = input.rootCredentials ? sealRootCredentials(key.publicKey, input.rootCredentials) : undefined;

    const rootChain = await input.root.getLicensorCertificate();
    if (rootChain.length === 0) throw new RmsError('Unavailable', `${rootUrl} returned no licensor certificate`);
    const rootSlc = readCertificate(parseXrml(rootChain[rootChain.length - 1]!));
    // Trust on first contact with the root, as an administrator who typed its URL intends; the
    // root's self-signed SLC must verify with its own key.
    const rootKey = rootSlc.principal.publicKey;
    verifyChain(rootChain, { trustedRootKeys: [rootKey], now: clock.now() });

    const chain = await input.root.subEnroll({ publicKeyPkcs1: Buffer.from(pkcs1PublicKeyBase64(key.publicKey), 'base64'), guid, sku: SERVER_SKU, version: SERVER_VERSION, name: checked.serverName, url: checked.clusterUrl });
    let leaf;
    try {
      const infos = verifyChain(chain, { trustedRootKeys: [rootKey], now: clock.now() });
      leaf = infos[0]!;
    } catch (e) {
      throw new RmsError('ChainInvalid', `the root returned a chain that does not verify: ${(e as Error).message}`);
    }
    if (!publicKeysEqual(leaf.principal.publicKey, key.publicKey) || leaf.principal.id.toLowerCase() !== guid) {
      throw new RmsError('ChainInvalid', 'the root returned an SLC for another key or server');
    }
    const rootPem = rootKey.export({ format: 'pem', type: 'spki' }).toString();
    const result = await writeNewCluster(
      input,
      checked,
      {
        clusterId,
        kind: 'licensing',
        key,
        wrappedKey,
        chain,
        trustedRootKeyPem: rootPem,
        settings: {
          [SETTINGS.rootClusterUrl]: rootUrl,
          [SETTINGS.trustedRacIssuersPem]: [rootPem],
          ...(sealedRootCredentials ? { [SETTINGS.rootCredentials]: sealedRootCredentials } : {}),
        },
        auditAfter: { rootUrl, chainLength: chain.length, ...(input.rootCredentials ? { rootAccount: input.rootCredentials.name } : {}) },
      },
      clock.now(),
    );
    return { ...result, rootUrl, chainLength: chain.length };
  });
}
