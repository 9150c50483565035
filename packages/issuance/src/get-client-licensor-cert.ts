import { newBracedGuid } from '@openrms/domain';
import { RsaKeyPair } from '@openrms/keys';
import { buildClc, issuerFromCertificate, signXrml } from '@openrms/xrml';
import { type Caller, type IssuingContext, recordIssued, stillWanted, yieldToEventLoop } from './issuing-context';
import { verifyRac } from './verify-rac';
import { refuseRevokedRac } from './revocations';

/** A CLC per persona: a fresh key pair, its private key sealed to the RAC, valid as long as the RAC. */
export async function getClientLicensorCert(ctx: IssuingContext, caller: Caller, personaChains: string[][]): Promise<{ chain: string[] }[]> {
  const s = ctx.state();
  const out: { chain: string[] }[] = [];
  for (const persona of personaChains) {
    await yieldToEventLoop();
    const rac = verifyRac(ctx, persona, s);
    refuseRevokedRac(s, rac.info, rac.issuerKey);
    const now = ctx.clock.now();
    const clcKey = RsaKeyPair.generate(2048);
    const descriptorGuid = newBracedGuid();
    const unsigned = buildClc({
      descriptorGuid,
      issuedTime: now,
      issuer: issuerFromCertificate(s.slc),
      licensingUrl: `${s.cluster.url}/licensing`,
      identity: rac.info.identity,
      publicKey: clcKey.publicKey,
      issueRange: { from: rac.info.validFrom, until: rac.info.validUntil },
      enablingBits: clcKey.sealPrivateKeyTo(rac.info.publicKey, 'clc-private-key'),
    });
    stillWanted(caller);
    const clc = signXrml(unsigned, ctx.key);
    await recordIssued(ctx, 'CLC', rac.info.identity.email, descriptorGuid, clc, now, rac.info.validUntil);
    out.push({ chain: [clc, ...s.chain] });
  }
  return out;
}
