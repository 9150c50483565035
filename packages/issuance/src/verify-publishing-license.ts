import { isRmsError } from '@openrms/domain';
import { parseXrml, publicKeysEqual, readClc, readPublishingLicense, verifyXrmlSignature } from '@openrms/xrml';
import { claimedIssuerKey, fail } from './issuing-context';
import type { IssuingState } from './issuing-state';

/**
 * The PL chain: online, the PL is signed by our SLC; offline, by a CLC that our SLC issued and
 * whose ISSUE right covers the PL's issue time. Any failure is InvalidRightsLabelSignature.
 */
export function verifyPublishingLicense(chain: string[], s: IssuingState): ReturnType<typeof readPublishingLicense> {
  const bad = (why: string): never => fail('InvalidRightsLabelSignature', `the issuance licence does not verify: ${why}`);
  try {
    const plDoc = parseXrml(chain[0]!);
    const plIssuer = claimedIssuerKey(plDoc, 'issuance licence', 'InvalidRightsLabelSignature');
    const slcKey = s.slc.principal.publicKey;
    if (publicKeysEqual(plIssuer, slcKey)) return readPublishingLicense(verifyXrmlSignature(plDoc, slcKey));
    if (chain.length < 2) return bad('an offline issuance licence must be followed by its client licensor certificate');
    const clcDoc = parseXrml(chain[1]!);
    if (!publicKeysEqual(claimedIssuerKey(clcDoc, 'client licensor certificate', 'InvalidRightsLabelSignature'), slcKey)) {
      return bad('its client licensor certificate was not issued by this cluster');
    }
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
