import { isRmsError, RmsError } from '@openrms/domain';
import type { ContentKey } from '@openrms/keys';
import { publicKeysEqual } from '@openrms/xrml';
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
  try {
    if (!s.decommissioned) fail('ClusterNotDecommissioned', 'this cluster is not decommissioned: content keys are released only after `rmsctl cluster decommission`');
    if (plChain.length === 0) fail('ArgumentNull', 'IssuanceLicense must hold the publishing licence chain');
    const pl = verifyPublishingLicense(plChain, s);
    contentId = pl.contentId;
    const contentKey = openContentKey(ctx, s, pl);
    stillWanted(caller);
    const released = contentKey.releaseForDecommissioning();
    await audit(ctx, caller, 'content-key.release', contentId, { contentId, serverGuid: pl.server.serverGuid, keyType: 'AES' });
    return { contentKey: released, contentKeyType: 'AES' };
  } catch (e) {
    const reason = isRmsError(e) ? e.code : 'UnspecifiedError';
    await audit(ctx, caller, 'content-key.release.refused', contentId, { contentId, reason });
    throw e;
  }
}

function openContentKey(ctx: IssuingContext, s: IssuingState, pl: ReturnType<typeof verifyPublishingLicense>): ContentKey {
  const opener = isOwnServer(pl.server, s)
    ? ctx.key
    : (s.publishingDomains ?? []).find(
        (d) => d.slc.principal.id.toLowerCase() === pl.server.serverGuid.toLowerCase() && publicKeysEqual(d.slc.principal.publicKey, pl.server.publicKey),
      )?.key;
  if (!opener) fail('UnsignedIssuanceLicenseNoMatchingIssuedPrincipal', 'the issuance licence was published for another cluster');
  try {
    return opener.unsealContentKey(pl.enablingBits);
  } catch {
    throw new RmsError('EnablingBitsHashDoesNotMatch', 'the content key in the issuance licence cannot be opened by this server');
  }
}

async function audit(ctx: IssuingContext, caller: Caller, action: string, contentId: string | null, after: Record<string, unknown>): Promise<void> {
  await ctx.store.audit.append({ at: ctx.clock.now(), actor: caller.principal.name, action, target: contentId, after, correlationId: caller.requestId });
}
