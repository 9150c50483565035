import type { KeyObject } from 'node:crypto';
import { addYears, evaluateRights, newBracedGuid, type RightsPolicy } from '@openrms/domain';
import { buildUseLicense, issuerFromCertificate, parseXrml, publicKeysEqual, readTemplate, signXrml } from '@openrms/xrml';
import type { ContentKey } from '@openrms/keys';
import { type Caller, fail, type IssuingContext, isOwnServer, recordIssued, stillWanted, yieldToEventLoop } from './issuing-context';
import type { IssuingState } from './issuing-state';
import { peerGroupsOf } from './group-expansion';
import { openPolicy } from './open-policy';
import { subjectFor } from './subject-for';
import { verifyPublishingLicense } from './verify-publishing-license';
import { verifyRac } from './verify-rac';
import { refuseRevokedPublishingLicense, refuseRevokedRac } from './revocations';

export interface LicenseRequest {
  licenseeCerts: string[];
  issuanceLicense: string[];
}

/** Use licences, one per item; a failing item answers its error without failing the others. */
export async function acquireLicense(ctx: IssuingContext, caller: Caller, items: LicenseRequest[]): Promise<({ chain: string[] } | { error: unknown })[]> {
  const out: ({ chain: string[] } | { error: unknown })[] = [];
  for (const item of items) {
    await yieldToEventLoop();
    // The whole batch stops, rather than answering each remaining item with the same fault.
    stillWanted(caller);
    try {
      out.push(await acquireOneLicense(ctx, caller, item));
    } catch (error) {
      out.push({ error });
    }
  }
  return out;
}

async function acquireOneLicense(ctx: IssuingContext, caller: Caller, item: LicenseRequest): Promise<{ chain: string[] }> {
  const s = ctx.state();
  const rac = verifyRac(ctx, item.licenseeCerts, s);
  refuseRevokedRac(s, rac.info, rac.issuerKey);
  const pl = await openPublishingLicense(ctx, item.issuanceLicense, s);
  // This cluster answers for the people whose RACs it signed itself (a root) or whose directory it reads.
  const authoritative = publicKeysEqual(rac.issuerKey, s.slc.principal.publicKey);
  return issueUseLicenseTo(ctx, caller, s, pl, { email: rac.info.identity.email, principalXml: rac.info.principalXml, publicKey: rac.info.publicKey, authoritative });
}

/** A PL chain verified, within its validity, with its policy opened (the template's, for our templates). */
export interface OpenedPublishingLicense {
  pl: ReturnType<typeof verifyPublishingLicense>;
  contentKey: ContentKey;
  policy: RightsPolicy;
}

export async function openPublishingLicense(ctx: IssuingContext, chain: string[], s: IssuingState): Promise<OpenedPublishingLicense> {
  const pl = verifyPublishingLicense(chain, s, ctx.verifiedDocuments);
  refuseRevokedPublishingLicense(s, chain, pl, ctx.verifiedDocuments);
  const now = ctx.clock.now();
  if (pl.validity && (now < pl.validity.from || now >= pl.validity.until)) {
    fail('IssuanceLicenseIsNotWithinValidTimeRange', 'the issuance licence is outside its validity period');
  }
  // Our own SLC first, then the trusted publishing domains (PROTOCOL.md §5.7 step 3).
  const opener = contentKeyOpenerFor(ctx, pl.server, s);
  const opened = await openPolicy(ctx, pl.enablingBits, pl.encryptedRightsData, opener.key);
  // Templates are this cluster's; a domain's PL carries its own policy.
  const policy = opener.own ? await effectivePolicy(ctx, opened, s) : opened;
  return { pl, contentKey: opened.contentKey, policy };
}

/** Who a UL is for: the RAC's principal (copied verbatim into the UL) and its key. */
export interface UseLicensee {
  email: string;
  principalXml: string;
  publicKey: KeyObject;
  /** This cluster is the authority for the address (see subjectFor). */
  authoritative: boolean;
}

/** Evaluates the rights of one person in an opened PL and signs and records their UL. */
export async function issueUseLicenseTo(
  ctx: IssuingContext,
  caller: Caller,
  s: IssuingState,
  { pl, contentKey, policy }: OpenedPublishingLicense,
  licensee: UseLicensee,
): Promise<{ chain: string[] }> {
  const now = ctx.clock.now();
  const subject = await subjectFor(ctx, licensee.email, s.policies, { authoritative: licensee.authoritative });
  let decision = evaluateRights(policy, subject, now);
  if (decision.rights.length === 0) {
    // Grants to groups another organisation's directory holds: ask the trusted peer for that domain.
    const grantEmails = policy.grants.flatMap((g) => (g.grantee.kind === 'email' ? [g.grantee.email] : []));
    const theirs = await peerGroupsOf(ctx, licensee.email, grantEmails);
    if (theirs.length) decision = evaluateRights(policy, { ...subject, groupEmails: [...subject.groupEmails, ...theirs] }, now);
  }
  if (decision.rights.length === 0) fail('NoRightsForRequestedPrincipal', `${licensee.email} has no rights in this issuance licence`);

  const racKey = licensee.publicKey;
  let validUntil = addYears(now, s.validity.useLicenseYears);
  if (policy.validity && policy.validity.until < validUntil) validUntil = policy.validity.until;
  const descriptorGuid = newBracedGuid();
  const unsigned = buildUseLicense({
    descriptorGuid,
    issuedTime: now,
    validFrom: now,
    validUntil,
    issuer: issuerFromCertificate(s.slc),
    licenseePrincipalXml: licensee.principalXml,
    contentId: pl.contentId,
    owner: pl.owner,
    rights: decision.rights.map((r) => ({
      right: r.right,
      enablingBits: contentKey.sealTo(racKey),
      ...(r.range ? { range: r.range } : {}),
      ...(r.intervalDays !== undefined ? { intervalDays: r.intervalDays } : {}),
    })),
    ...(pl.referral ? { referral: pl.referral } : {}),
    applicationExclusions: s.policies.excludedApplications,
  });
  stillWanted(caller);
  const ul = signXrml(unsigned, ctx.key);
  await recordIssued(ctx, 'UL', licensee.email, descriptorGuid, ul, now, validUntil);
  return { chain: [ul, ...s.chain] };
}

function contentKeyOpenerFor(
  ctx: IssuingContext,
  server: { serverGuid: string; publicKey: KeyObject },
  s: IssuingState,
): { own: boolean; key: { unsealContentKey(blob: Buffer): ContentKey } } {
  if (isOwnServer(server, s)) return { own: true, key: ctx.key };
  const domain = (s.publishingDomains ?? []).find(
    (d) => d.slc.principal.id.toLowerCase() === server.serverGuid.toLowerCase() && publicKeysEqual(d.slc.principal.publicKey, server.publicKey),
  );
  if (!domain) return fail('RightsLabelNoMatchingIssuedPrincipal', 'the issuance licence was published for another cluster');
  return { own: false, key: domain.key };
}

/** A PL made from one of our templates is governed by the server's copy of the template. */
async function effectivePolicy(ctx: IssuingContext, p: RightsPolicy, s: IssuingState): Promise<RightsPolicy> {
  if (!p.templateGuid) return p;
  const t = await ctx.store.templates.find(s.cluster.id, p.templateGuid);
  if (!t) return p;
  const tpl = readTemplate(parseXrml(t.xml));
  return { ...p, grants: tpl.grants, ...(tpl.validity ? { validity: tpl.validity } : {}) };
}
