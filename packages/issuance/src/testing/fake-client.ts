/**
 * A minimal client built from the same document builders a real client uses, for tests of the
 * server-side use-cases: real keys, real signatures, no shortcuts through the server's internals.
 */
import { randomBytes } from 'node:crypto';
import type { Store } from '@openrms/store';
import type { Caller, LicensingService } from '../licensing-service';
import { newBracedGuid, type RightGrant } from '@openrms/domain';
import { ContentKey, RsaKeyPair } from '@openrms/keys';
import {
  buildPublishingLicense,
  buildRightsData,
  buildSpc,
  issuerFromCertificate,
  parseXrml,
  readCertificate,
  readClc,
  readRac,
  signXrml,
  ERD_AAD,
} from '@openrms/xrml';

export class FakeClient {
  readonly machineKey = RsaKeyPair.generate();
  readonly spc: string;
  racChain: string[] = [];
  racKey: RsaKeyPair | undefined;

  constructor(now: Date) {
    this.spc = signXrml(
      buildSpc({
        descriptorGuid: newBracedGuid(),
        issuedTime: now,
        machineGuid: newBracedGuid(),
        publicKey: this.machineKey.publicKey,
        platform: 'linux-x64',
        manufacturer: 'OpenRMS tests',
        repositoryVersion: '1.0.0.0',
        hardwareDigest: randomBytes(32),
      }),
      this.machineKey,
    );
  }

  /** Stores a RAC chain from Certify and opens its private key with the machine key. */
  acceptRac(chain: string[]): RsaKeyPair {
    const info = readRac(parseXrml(chain[0]!));
    this.racChain = chain;
    this.racKey = this.machineKey.unsealKeyPair(info.enablingBits!, 'rac-private-key');
    return this.racKey;
  }

  /** An offline PL signed with the CLC key, for `grants`, owned by `ownerEmail`. */
  publishOffline(clcChain: string[], ownerEmail: string, grants: RightGrant[], opts: { now: Date; serverSlc?: string; templateGuid?: string }) {
    const clc = readClc(parseXrml(clcChain[0]!));
    const clcKey = this.racKey!.unsealKeyPair(clc.enablingBits, 'clc-private-key');
    const slc = readCertificate(parseXrml(opts.serverSlc ?? clcChain[1]!));
    const contentKey = ContentKey.generate();
    const contentId = newBracedGuid();
    const erd = buildRightsData({
      issuedTime: opts.now,
      descriptorGuid: newBracedGuid(),
      policy: { contentId, ownerEmail, grants, ...(opts.templateGuid ? { templateGuid: opts.templateGuid } : {}) },
    });
    const unsigned = buildPublishingLicense({
      issuedTime: opts.now,
      issuer: issuerFromCertificate(readCertificate(parseXrml(clcChain[0]!))),
      licensingUrl: clc.licensingUrl,
      server: {
        serverGuid: slc.principal.id,
        publicKey: slc.principal.publicKey,
        version: slc.principal.securityLevels['Server-Version'] ?? '6.1.0.0',
        sku: slc.principal.securityLevels['Server-SKU'] ?? 'OpenRMS',
      },
      enablingBits: contentKey.sealTo(slc.principal.publicKey),
      contentId,
      owner: { idType: 'Federation', email: ownerEmail },
      encryptedRightsData: contentKey.encrypt(Buffer.from(erd), ERD_AAD),
    });
    return { pl: signXrml(unsigned, clcKey), unsigned, contentKey, contentId };
  }
}

/** The caller a signed-on user would be, read from the store by name. */
export async function callerNamed(store: Store, name: string, requestId = `req-${name}`): Promise<Caller> {
  const p = await store.principals.getByName(name);
  return { requestId, principal: { id: p.id, name: p.name, email: p.email! } };
}

/** A fake client whose machine the cluster certified for `caller` (its RAC accepted). */
export async function certifiedClient(licensing: Pick<LicensingService, 'certify'>, caller: Caller, now: Date): Promise<FakeClient> {
  const c = new FakeClient(now);
  const { chain } = await licensing.certify(caller, { machineChain: [c.spc], persistent: true });
  c.acceptRac(chain);
  return c;
}
