import { addYears, DEFAULT_ISSUED_VALIDITY_YEARS } from '@openrms/domain';
import { issuerFromCertificate, parseXrml, readPublishingLicense, signXrml, withServerSignatureFields } from '@openrms/xrml';
import { type Caller, fail, type IssuingContext, isOwnServer, recordIssued, stillWanted, yieldToEventLoop } from './issuing-context';
import { openPolicy } from './open-policy';

/** Online publishing: the server signs the caller's unsigned PLs after checking owner and template. */
export async function acquireIssuanceLicense(ctx: IssuingContext, caller: Caller, unsignedLicenses: string[]): Promise<{ chain: string[] }[]> {
  const s = ctx.state();
  if (!s.policies.onlinePublishing) fail('OnlinePublishingDisabled', 'online publishing is turned off on this cluster; publish offline with a client licensor certificate');
  const out: { chain: string[] }[] = [];
  for (const xml of unsignedLicenses) {
    await yieldToEventLoop();
    let pl: ReturnType<typeof readPublishingLicense>;
    try {
      pl = readPublishingLicense(parseXrml(xml, { allowUnsigned: true }));
    } catch (e) {
      return fail('UnspecifiedError', `the unsigned issuance licence is malformed: ${(e as Error).message}`);
    }
    if (!isOwnServer(pl.server, s)) {
      fail('UnsignedIssuanceLicenseNoMatchingIssuedPrincipal', 'the issuance licence is addressed to another server');
    }
    const policy = await openPolicy(ctx, pl.enablingBits, pl.encryptedRightsData);
    if (policy.ownerEmail.toLowerCase() !== caller.principal.email.toLowerCase()) {
      fail('Argument', 'the owner named in the rights data must be the publisher');
    }
    if (policy.templateGuid) {
      const t = await ctx.store.templates.find(s.cluster.id, policy.templateGuid);
      if (!t || t.status !== 'published') fail('InvalidOfficialRightsTemplate', `template ${policy.templateGuid} is not an official template of this cluster`);
    }
    const now = ctx.clock.now();
    const rebuilt = withServerSignatureFields(xml, { issuedTime: now, issuer: issuerFromCertificate(s.slc), licensingUrl: `${s.cluster.url}/licensing` });
    stillWanted(caller);
    const signed = signXrml(rebuilt, ctx.key);
    await recordIssued(ctx, 'PL', caller.principal.email, pl.contentId, signed, now, pl.validity?.until ?? addYears(now, DEFAULT_ISSUED_VALIDITY_YEARS));
    out.push({ chain: [signed, ...s.chain] });
  }
  return out;
}
