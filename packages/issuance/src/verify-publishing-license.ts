import { isRmsError } from '@openrms/domain';
import { parseXrml, publicKeysEqual, readClc, readPublishingLicense, verifyXrmlSignature } from '@openrms/xrml';
import { claimedIssuerKey, fail } from './issuing-context';
import type { IssuingState } from './issuing-state';

/**
 * The PL chain: online, the PL is signed by our SLC; offline, by a CLC that our SLC issued and
 * whose ISSUE right covers the PL's issue time. The SLC of a trusted publishing domain counts as
 * ours. Any failure is InvalidRightsLabelSignature.
 */
export function verifyPublishingLicense(chain: string[], s: IssuingState): ReturnType<typeof readPublishingLicense> {
  const bad = (why: string): never => fail('InvalidRightsLabelSignature', `the issuance licence does not verify: ${why}`);
  try {
    const plDoc = parseXrml(chain[0]!);
    const plIssuer = claimedIssuerKey(plDoc, 'issuance licence', 'InvalidRightsLabelSignature');
    const slcKeys = [s.slc.principal.publicKey, ...(s.publishingDomains ?? []).map((d) => d.slc.principal.publicKey)];
    const onlineKey = slcKeys.find((k) => publicKeysEqual(plIssuer, k));
    if (onlineKey) return readPublishingLicense(verifyXrmlSignature(plDoc, onlineKey));
    if (chain.length < 2) return bad('an offline issuance licence must be followed by its client licensor certificate');
    const clcDoc = parseXrml(chain[1]!);
    const clcIssuer = claimedIssuerKey(clcDoc, 'client licensor certificate', 'InvalidRightsLabelSignature');
    const slcKey = slcKeys.find((k) => publicKeysEqual(clcIssuer, k));
    if (!slcKey) return bad('its client licensor certificate was not issued by this cluster or a trusted publishing domain');
    const clc = readClc(verifyXrmlSignature(clcDoc, slcKey));
    if (!publicKeysEqual(clc.publicKey, plIssuer)) return bad('it was not signed by the key its client licensor certificate certifies');
    const pl = readPublishingLicense(verifyXrmlSignature(plDoc, clc.publicKey));
    if (pl.issuedTime < clc.issueRange.from || pl.issuedTime >= clc.issueRange.until) return bad('it was issued outside its client licensor certificate’s range');
    return pl;
  } catch (e) {
    if (isRmsError(e, 'InvalidRightsLabelSignature')) throw e;
    return bad(e instanceof Error ? e.message : 'unreadable');
  }
}
