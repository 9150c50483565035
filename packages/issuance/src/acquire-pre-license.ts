import { MINUTE_MS, addYears } from '@openrms/domain';
import { buildRac, issuerFromCertificate, parseXrml, readRac } from '@openrms/xrml';
import { issueUseLicenseTo, openPublishingLicense, type UseLicensee } from './acquire-license';
import { type Caller, fail, type IssuingContext, stillWanted, yieldToEventLoop } from './issuing-context';
import type { IssuingState } from './issuing-state';
import { isExcluded } from './policies';
import { isValidEmail } from './principal-rules';
import { userKeyPair } from './user-key-pair';

export interface PreLicenseRequest {
  /** The recipients' e-mail addresses. */
  licenseeIdentities: string[];
  /** The signed PL: only the leaf, as [MS-RMSI] says (an offline PL also needs its CLC after it). */
  issuanceLicense: string[];
}

/** One UL per identity, in order, or that person's error; `chain` is the server's SLC chain. */
export interface PreLicenseResult {
  licenses: ({ license: string } | { error: unknown })[];
  chain: string[];
}

/**
 * [MS-RMSI] AcquirePreLicense: use licences for named people before they ask, each bound to the
 * person's RAC key (the one every RAC of theirs carries), so the UL can travel with the content.
 * A PL that cannot be used fails the request; everything about one person fails only their UL.
 */
export async function acquirePreLicense(ctx: IssuingContext, caller: Caller, items: PreLicenseRequest[]): Promise<PreLicenseResult[]> {
  const s = ctx.state();
  const out: PreLicenseResult[] = [];
  for (const item of items) {
    const opened = await openPublishingLicense(ctx, item.issuanceLicense, s);
    const licenses: PreLicenseResult['licenses'] = [];
    for (const email of item.licenseeIdentities) {
      await yieldToEventLoop();
      stillWanted(caller);
      try {
        const licensee = await preCertified(ctx, s, email);
        const { chain } = await issueUseLicenseTo(ctx, caller, s, opened, licensee);
        licenses.push({ license: chain[0]! });
      } catch (error) {
        licenses.push({ error });
      }
    }
    out.push({ licenses, chain: s.chain });
  }
  return out;
}

/**
 * The person's RAC principal as Certify or Precertify would write it, built in memory and never
 * signed, recorded or returned: only its ISSUEDPRINCIPALS PRINCIPAL goes into the UL.
 */
async function preCertified(ctx: IssuingContext, s: IssuingState, email: string): Promise<UseLicensee> {
  // Only the root holds the users' RAC keys. [MS-RMSI] 3.5.4.1: a server without enough information
  // to retrieve a person's key answers that person with InvalidLicensee (docs/adr/0017-rmsi-faults.md).
  if (s.cluster.kind !== 'root') fail('AcquirePreLicenseInvalidLicensee', 'this licensing-only cluster does not hold rights account keys; pre-license at the root cluster');
  const identities = ctx.identities();
  const user = email && isValidEmail(email) ? await identities.findUser({ by: 'email', value: email }) : undefined;
  if (!user) fail('AcquirePreLicenseInvalidLicensee', `no user has the e-mail address ${email}`);
  if (user.disabled) fail('AcquirePreLicenseInvalidLicensee', `the account of ${email} is disabled`);
  if (!user.email || !isValidEmail(user.email)) fail('AcquirePreLicenseInvalidLicensee', `the account of ${email} has no valid e-mail address`);
  const rowId = await identities.rowOf(user);
  const key = await userKeyPair(ctx, rowId);
  // As AcquireLicense refuses an excluded user's RAC (PROTOCOL.md §6.5), so is their pre-licence.
  if (isExcluded(s.policies, user.email, key.publicKey)) fail('DrmacIsExcluded', `${user.email} is excluded by policy`);
  // A person whose RAC key an administrator revoked gets no pre-licence either (docs/adr/0015-revocation.md).
  if (s.revocations?.hasKey('RAC', key.publicKey)) fail('UnexpectedPersonaCert', `the rights account key of ${user.email} has been revoked`);
  const now = ctx.clock.now();
  const rac = readRac(
    parseXrml(
      buildRac({
        descriptorGuid: '{00000000-0000-0000-0000-000000000000}',
        issuedTime: now,
        validFrom: new Date(now.getTime() - s.validity.backdateMinutes * MINUTE_MS),
        validUntil: addYears(now, s.validity.racYears),
        issuer: issuerFromCertificate(s.slc),
        activationUrl: `${s.cluster.url}/certification`,
        identity: { idType: 'Federation', id: `{${rowId}}`, email: user.email },
        publicKey: key.publicKey,
        credentialType: 'Persistent',
        credentialCreationTime: now,
      }),
      // Our own just-built document: only its principal is read, nothing it says is trusted.
      { allowUnsigned: true },
    ),
  );
  return { email: rac.identity.email, principalXml: rac.principalXml, publicKey: rac.publicKey, authoritative: true };
}
