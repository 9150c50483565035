import type { RightsPolicy } from '@openrms/domain';
import type { ContentKey } from '@openrms/keys';
import { ERD_AAD, readRightsData } from '@openrms/xrml';
import { fail, type IssuingContext } from './issuing-context';

/**
 * Opens a PL's content key with the cluster key (or, for a PL addressed to a trusted publishing
 * domain, with that domain's key), then the rights data it protects.
 */
export async function openPolicy(
  ctx: IssuingContext,
  enablingBits: Buffer,
  encryptedRightsData: Buffer,
  opener: { unsealContentKey(blob: Buffer): ContentKey } = ctx.key,
): Promise<RightsPolicy & { contentKey: ContentKey }> {
  let contentKey: ContentKey;
  try {
    contentKey = opener.unsealContentKey(enablingBits);
  } catch {
    return fail('EnablingBitsHashDoesNotMatch', 'the content key in the issuance licence cannot be opened by this server');
  }
  let erd: Buffer;
  try {
    erd = contentKey.decrypt(encryptedRightsData, ERD_AAD);
  } catch {
    return fail('EnablingBitsHashDoesNotMatch', 'the rights data does not match the content key');
  }
  return { ...readRightsData(erd.toString('utf8')), contentKey };
}
