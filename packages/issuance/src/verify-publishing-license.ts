import type { KeyObject } from 'node:crypto';
import { isRmsError } from '@openrms/domain';
import { parseXrml, publicKeysEqual, readClc, readPublishingLicense, verifyXrmlSignature } from '@openrms/xrml';
import { claimedIssuerKey, fail } from './issuing-context';
import type { IssuingState } from './issuing-state';
import { verifiedThrough, type VerifiedDocuments } from './verified-documents';

type PublishingLicense = ReturnType<typeof readPublishingLicense>;
type Clc = ReturnType<typeof readClc>;

/**
 * The PL chain: online, the PL is signed by our SLC; offline, by a CLC that our SLC issued and
 * whose ISSUE right covers the PL's issue time. The SLC of a trusted publishing domain counts as
 * ours. Any failure is InvalidRightsLabelSignature.
 *
 * With `verified`, signature results come from the verified-document cache when the same bytes
 * were verified before by a key trusted now (the PL by an SLC key, or by the key of a CLC that is
 * itself cached under an SLC key); the issue-range check runs every time. A PL's own validity
 * time is the caller's to check (openPublishingLicense), on every request.
 */
export function verifyPublishingLicense(chain: string[], s: IssuingState, verified?: VerifiedDocuments): PublishingLicense {
  const bad = (why: string): never => fail('InvalidRightsLabelSignature', `the issuance licence does not verify: ${why}`);
  try {
    const plXml = chain[0]!;
    const slcKeys = [s.slc.principal.publicKey, ...(s.publishingDomains ?? []).map((d) => d.slc.principal.publicKey)];
    // Seen before: online under an SLC key, or offline under a cached CLC's key.
    const online = verified?.lookup<PublishingLicense>('PL', plXml, slcKeys);
    if (online) return online.value;
    const cachedClc = chain.length >= 2 ? verified?.lookup<Clc>('CLC', chain[1]!, slcKeys)?.value : undefined;
    const offline = cachedClc && verified?.lookup<PublishingLicense>('PL', plXml, [cachedClc.publicKey]);
    if (cachedClc && offline) return withinIssueRange(offline.value, cachedClc, bad);

    const plDoc = parseXrml(plXml);
    const plIssuer = claimedIssuerKey(plDoc, 'issuance licence', 'InvalidRightsLabelSignature');
    const onlineKey = slcKeys.find((k) => publicKeysEqual(plIssuer, k));
    if (onlineKey) return remember(verified, plXml, onlineKey, readPublishingLicense(verifyXrmlSignature(plDoc, onlineKey)));
    if (chain.length < 2) return bad('an offline issuance licence must be followed by its client licensor certificate');
    const clc = cachedClc ?? verifiedThrough(verified, 'CLC', chain[1]!, slcKeys, () => verifyClc(chain[1]!, slcKeys, bad)).value;
    if (!publicKeysEqual(clc.publicKey, plIssuer)) return bad('it was not signed by the key its client licensor certificate certifies');
    const pl = remember(verified, plXml, clc.publicKey, readPublishingLicense(verifyXrmlSignature(plDoc, clc.publicKey)));
    return withinIssueRange(pl, clc, bad);
  } catch (e) {
    // A document that failed was looked up and not found: a miss, though nothing is remembered.
    verified?.missed();
    if (isRmsError(e, 'InvalidRightsLabelSignature')) throw e;
    return bad(e instanceof Error ? e.message : 'unreadable');
  }
}

function verifyClc(xml: string, slcKeys: KeyObject[], bad: (why: string) => never): { value: Clc; key: KeyObject } {
  const clcDoc = parseXrml(xml);
  const clcIssuer = claimedIssuerKey(clcDoc, 'client licensor certificate', 'InvalidRightsLabelSignature');
  const slcKey = slcKeys.find((k) => publicKeysEqual(clcIssuer, k));
  if (!slcKey) return bad('its client licensor certificate was not issued by this cluster or a trusted publishing domain');
  return { value: readClc(verifyXrmlSignature(clcDoc, slcKey)), key: slcKey };
}

function withinIssueRange(pl: PublishingLicense, clc: Clc, bad: (why: string) => never): PublishingLicense {
  if (pl.issuedTime < clc.issueRange.from || pl.issuedTime >= clc.issueRange.until) return bad('it was issued outside its client licensor certificate’s range');
  return pl;
}

function remember(verified: VerifiedDocuments | undefined, xml: string, key: KeyObject, pl: PublishingLicense): PublishingLicense {
  return verified ? verified.remember('PL', xml, key, pl) : pl;
}
