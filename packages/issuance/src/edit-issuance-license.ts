import { addYears, DEFAULT_ISSUED_VALIDITY_YEARS, isRmsError, type RightsPolicy } from '@openrms/domain';
import type { ContentKey } from '@openrms/keys';
import { buildPublishingLicense, ERD_AAD, issuerFromCertificate, parseXrml, readPublishingLicense, readRightsData, signXrml } from '@openrms/xrml';
import { type Caller, fail, type IssuingContext, isOwnServer, recordIssued, stillWanted } from './issuing-context';
import { subjectFor } from './subject-for';
import { verifyPublishingLicense } from './verify-publishing-license';
import { refuseRevokedPublishingLicense } from './revocations';

export interface EditIssuanceLicenseRequest {
  /**
   * The signed PL, leaf first. [MS-RMSI] sends only the leaf, so on the wire only a PL our SLC
   * signed (online publishing) can be checked; a CLC-signed PL verifies when its CLC follows.
   */
  signedChain: string[];
  /** The new PL as the client wrote it: its rights data sealed under a content key of its own. */
  unsignedLicense: string;
}

const APP_SPECIFIC_EDITING = 'Allow_Server_Editing';
const lower = (s: string) => s.trim().toLowerCase();

/**
 * [MS-RMSI] 3.4.4.1 EditIssuanceLicense: re-issues a PL with new rights for content already
 * protected, keeping the signed PL's content key. Only the owner of the signed PL (or a super
 * user) may, and only when its rights data allows server editing (PROTOCOL.md §5.11).
 */
export async function editIssuanceLicense(ctx: IssuingContext, caller: Caller, req: EditIssuanceLicenseRequest): Promise<{ chain: string[] }> {
  const s = ctx.state();
  // Re-issuing is the server signing a PL, as in online publishing, and is off when that is.
  if (!s.policies.onlinePublishing) fail('OnlinePublishingDisabled', 'online publishing is turned off on this cluster, and with it server editing of issuance licences');

  // The signed PL: verified with a key this cluster trusts, and issued for this cluster.
  let signed: ReturnType<typeof verifyPublishingLicense>;
  try {
    signed = verifyPublishingLicense(req.signedChain, s, ctx.verifiedDocuments);
  } catch (e) {
    // [MS-RMSI] 3.4.4.1: whatever makes the signed PL unverifiable (signature, untrusted issuer,
    // unreadable) is InvalidSignedIssuanceLicense; a key outside the crypto mode stays the common fault.
    if (isRmsError(e) && e.code !== 'UnsupportedCryptographicSet') fail('InvalidSignedIssuanceLicense', e.message.replace('issuance licence', 'signed issuance licence'));
    throw e;
  }
  if (!isOwnServer(signed.server, s)) fail('InvalidSignedIssuanceLicense', 'the signed issuance licence was issued for another server');
  // Revoked content (or its CLC, or the SLC it names) is not re-issued: [MS-RMSI] has no own name
  // for it, so it is the operation's fault for a signed PL that does not stand (docs/adr/0015-revocation.md).
  try {
    refuseRevokedPublishingLicense(s, req.signedChain, signed, ctx.verifiedDocuments);
  } catch (e) {
    if (isRmsError(e)) fail('InvalidSignedIssuanceLicense', `the signed issuance licence cannot be edited: ${e.message}`);
    throw e;
  }

  let unsigned: ReturnType<typeof readPublishingLicense>;
  try {
    unsigned = readPublishingLicense(parseXrml(req.unsignedLicense, { allowUnsigned: true }));
  } catch (e) {
    return fail('Argument', `the unsigned issuance licence is malformed: ${(e as Error).message}`);
  }
  if (!isOwnServer(unsigned.server, s)) fail('UnsignedIssuanceLicenseNoMatchingIssuedPrincipal', 'the unsigned issuance licence is addressed to another server');

  const old = openRightsData(ctx, signed.enablingBits, signed.encryptedRightsData, 'signed');
  const next = openRightsData(ctx, unsigned.enablingBits, unsigned.encryptedRightsData, 'unsigned');
  if (next.policy.templateGuid) {
    const t = await ctx.store.templates.find(s.cluster.id, next.policy.templateGuid);
    if (!t || t.status !== 'published') fail('InvalidOfficialRightsTemplate', `template ${next.policy.templateGuid} is not an official template of this cluster`);
  }
  if (lower(old.policy.appSpecific?.[APP_SPECIFIC_EDITING] ?? '') !== 'true') {
    fail('ServerRepublishIllegal', `the signed issuance licence does not allow server editing (${APP_SPECIFIC_EDITING}=True)`);
  }

  // Our additions to the spec: only the owner or a super user re-issues, for the same content.
  const superUser = await assertOwnerOrSuperUser(ctx, caller, old.policy.ownerEmail);
  if (!superUser && lower(next.policy.ownerEmail) !== lower(old.policy.ownerEmail)) {
    fail('UnauthorizedAccess', 'only a super user may change the owner of protected content');
  }
  if (unsigned.contentId.toLowerCase() !== signed.contentId.toLowerCase()) {
    fail('Argument', 'the unsigned issuance licence is for other content than the signed one');
  }

  const { version, sku } = unsigned.server;
  if (version === undefined || sku === undefined) fail('Argument', 'the unsigned issuance licence server principal lacks Server-Version or Server-SKU');
  const now = ctx.clock.now();
  // The old content key, sealed to our SLC key again; the new rights data re-encrypted under it.
  const rebuilt = buildPublishingLicense({
    issuedTime: now,
    ...(unsigned.validity ? { validity: unsigned.validity } : {}),
    descriptorGuid: unsigned.descriptorGuid,
    ...(unsigned.descriptor ? { descriptor: unsigned.descriptor } : {}),
    issuer: issuerFromCertificate(s.slc),
    licensingUrl: `${s.cluster.url}/licensing`,
    server: {
      serverGuid: unsigned.server.serverGuid,
      publicKey: unsigned.server.publicKey,
      version: version!,
      sku: sku!,
      ...(unsigned.server.name !== undefined ? { name: unsigned.server.name } : {}),
      ...(unsigned.server.url !== undefined ? { url: unsigned.server.url } : {}),
    },
    enablingBits: old.contentKey.sealTo(s.slc.principal.publicKey),
    ...(unsigned.referral ? { referral: unsigned.referral } : {}),
    contentId: unsigned.contentId,
    owner: unsigned.owner,
    encryptedRightsData: old.contentKey.encrypt(next.erd, ERD_AAD),
  });
  stillWanted(caller);
  const pl = signXrml(rebuilt, ctx.key);
  await recordIssued(ctx, 'PL', caller.principal.email, unsigned.contentId, pl, now, unsigned.validity?.until ?? addYears(now, DEFAULT_ISSUED_VALIDITY_YEARS));
  // [MS-RMSI]: only the leaf is returned.
  return { chain: [pl] };
}

/** Opens a PL's content key with the cluster key and decrypts its rights data (kept as bytes, to re-encrypt). */
function openRightsData(ctx: IssuingContext, enablingBits: Buffer, encrypted: Buffer, which: 'signed' | 'unsigned'): { contentKey: ContentKey; erd: Buffer; policy: RightsPolicy } {
  const code = which === 'signed' ? 'InvalidSignedIssuanceLicense' : 'EnablingBitsHashDoesNotMatch';
  let contentKey: ContentKey;
  try {
    contentKey = ctx.key.unsealContentKey(enablingBits);
  } catch {
    return fail(code, `the content key in the ${which} issuance licence cannot be opened by this server`);
  }
  let erd: Buffer;
  try {
    erd = contentKey.decrypt(encrypted, ERD_AAD);
  } catch {
    return fail(code, `the rights data of the ${which} issuance licence does not match its content key`);
  }
  try {
    return { contentKey, erd, policy: readRightsData(erd.toString('utf8')) };
  } catch (e) {
    return fail(which === 'signed' ? code : 'Argument', `the rights data of the ${which} issuance licence is malformed: ${(e as Error).message}`);
  }
}

/** The caller owns the content (any of their addresses), or is a super user; returns whether a super user. */
async function assertOwnerOrSuperUser(ctx: IssuingContext, caller: Caller, ownerEmail: string): Promise<boolean> {
  const email = caller.principal.email;
  if (!email) return fail('UnauthorizedAccess', 'the caller has no e-mail address, so cannot own protected content');
  let subject: Awaited<ReturnType<typeof subjectFor>>;
  try {
    subject = await subjectFor(ctx, email, ctx.state().policies, { authoritative: true });
  } catch (e) {
    if (isRmsError(e, 'NoRightsForRequestedPrincipal')) return fail('UnauthorizedAccess', e.message);
    throw e;
  }
  if (subject.superUser) return true;
  const mine = [email, ...(subject.aliases ?? [])].map(lower);
  if (!mine.includes(lower(ownerEmail))) fail('UnauthorizedAccess', 'only the owner of the content or a super user may edit its issuance licence');
  return false;
}
