import type { KeyObject } from 'node:crypto';
import { isRmsError, RmsError } from '@openrms/domain';
import type { ClusterKey, ContentKey } from '@openrms/keys';
import { parseXrml, publicKeysEqual, readPublishingLicense } from '@openrms/xrml';
import { type Caller, fail, type IssuingContext, isOwnServer, stillWanted } from './issuing-context';
import type { IssuingState } from './issuing-state';
import { verifyPublishingLicense } from './verify-publishing-license';

export interface ContentKeyRelease {
  /** The raw content key (AES-256), as [MS-RMSI] 3.2.4.1 returns it: base64Binary, unsealed. */
  contentKey: Buffer;
  contentKeyType: 'AES';
}

/**
 * [MS-RMSI] AcquireContentKey: on a decommissioned cluster only, the content key of a PL published
 * for this cluster (or a trusted publishing domain), with no policy check, so that content can be
 * decrypted once and for all (docs/adr/0013-decommissioning.md). Every call is audited with the
 * caller and the content id, never the key.
 */
export async function acquireContentKey(ctx: IssuingContext, caller: Caller, plChain: string[]): Promise<ContentKeyRelease> {
  const s = ctx.state();
  let contentId: string | null = null;
  // What an unverified PL says it is: written to the audit entry of a refusal, never as its target.
  let claimedContentId: string | null = null;
  try {
    if (!s.decommissioned) fail('ClusterNotDecommissioned', 'this cluster is not decommissioned: content keys are released only after `rmsctl cluster decommission`');
    if (plChain.length === 0) fail('ArgumentNull', 'IssuanceLicense must hold the publishing licence chain');
    // [MS-RMSI] 3.2.4.1 decides by the PL's ISSUEDPRINCIPALS first: which key may open it, if any.
    const claimed = claimedPublishingLicense(plChain[0]!);
    claimedContentId = claimed.contentId.slice(0, 100);
    const opener = openerFor(ctx, s, claimed.server);
    // Then ours on top (docs/adr/0017-rmsi-faults.md): the chain verifies with a key we trust.
    const pl = verifyPublishingLicense(plChain, s, ctx.verifiedDocuments);
    contentId = pl.contentId;
    const contentKey = unsealWith(opener, pl);
    stillWanted(caller);
    const released = contentKey.releaseForDecommissioning();
    await audit(ctx, caller, 'content-key.release', contentId, { contentId, serverGuid: pl.server.serverGuid, keyType: 'AES' });
    return { contentKey: released, contentKeyType: 'AES' };
  } catch (e) {
    const reason = isRmsError(e) ? e.code : 'UnspecifiedError';
    await audit(ctx, caller, 'content-key.release.refused', contentId, { contentId, ...(contentId === null && claimedContentId !== null ? { claimedContentId } : {}), reason });
    throw e;
  }
}

/** The PL as it claims to be, read only to pick the key that may open it; its signature is checked next. */
function claimedPublishingLicense(xml: string): ReturnType<typeof readPublishingLicense> {
  try {
    return readPublishingLicense(parseXrml(xml, { allowUnsigned: true }));
  } catch (e) {
    return fail('InvalidRightsLabelSignature', `the issuance licence cannot be read: ${(e as Error).message}`);
  }
}

/** Our key when the PL names this cluster, a trusted publishing domain's when it names that domain. */
function openerFor(ctx: IssuingContext, s: IssuingState, server: { serverGuid: string; publicKey: KeyObject }): Pick<ContentKeyOpener, 'unsealContentKey'> {
  if (isOwnServer(server, s)) return ctx.key;
  const domain = (s.publishingDomains ?? []).find(
    (d) => d.slc.principal.id.toLowerCase() === server.serverGuid.toLowerCase() && publicKeysEqual(d.slc.principal.publicKey, server.publicKey),
  );
  if (!domain) fail('ContentKeyNoMatchingIssuedPrincipal', 'the issuance licence was published for neither this cluster nor one of its trusted publishing domains');
  return domain.key;
}

function unsealWith(opener: Pick<ContentKeyOpener, 'unsealContentKey'>, pl: ReturnType<typeof verifyPublishingLicense>): ContentKey {
  try {
    return opener.unsealContentKey(pl.enablingBits);
  } catch {
    throw new RmsError('EnablingBitsHashDoesNotMatch', 'the content key in the issuance licence cannot be opened by this server');
  }
}

type ContentKeyOpener = Pick<ClusterKey, 'unsealContentKey'>;

async function audit(ctx: IssuingContext, caller: Caller, action: string, contentId: string | null, after: Record<string, unknown>): Promise<void> {
  await ctx.store.audit.append({ at: ctx.clock.now(), actor: caller.principal.name, action, target: contentId, after, correlationId: caller.requestId });
}
