import type { KeyObject } from 'node:crypto';
import { parseXrml, publicKeysEqual, readRac, verifyXrmlSignature, type XrmlDocument } from '@openrms/xrml';
import { claimedIssuerKey, fail, type IssuingContext } from './issuing-context';
import type { IssuingState } from './issuing-state';
import { isExcluded } from './policies';
import { verifiedThrough } from './verified-documents';

export interface VerifiedRac {
  /** Read from the verified document; shared with other requests when it came from the cache (read-only). */
  info: ReturnType<typeof readRac>;
  /** The trusted key that verified it: this cluster's SLC key, or a trusted user domain's. */
  issuerKey: KeyObject;
}

/**
 * Signature with a trusted issuer key, then time, then exclusion (PROTOCOL.md §3.3 order). The
 * signature result may come from the verified-document cache (same bytes, verified by a key that
 * is trusted now); time and exclusion are checked here on every request.
 */
export function verifyRac(ctx: IssuingContext, licenseeCerts: string[], s: IssuingState): VerifiedRac {
  const xml = licenseeCerts[0]!;
  const { value: info, key } = verifiedThrough(ctx.verifiedDocuments, 'RAC', xml, s.racIssuerKeys, () => verifyRacSignature(xml, s));
  const now = ctx.clock.now();
  if (now < info.validFrom || now >= info.validUntil) fail('InvalidPersonaCertTime', 'the rights account certificate is expired or not yet valid');
  if (isExcluded(s.policies, info.identity.email, info.publicKey)) fail('DrmacIsExcluded', `${info.identity.email} is excluded by policy`);
  return { info, issuerKey: key as KeyObject };
}

/** Parse, pick the trusted key the RAC names, verify, read: what the cache stands in for. */
function verifyRacSignature(xml: string, s: IssuingState): { value: ReturnType<typeof readRac>; key: KeyObject } {
  let doc: XrmlDocument;
  try {
    doc = parseXrml(xml);
  } catch (e) {
    return fail('UnexpectedPersonaCert', `the rights account certificate cannot be read: ${(e as Error).message}`);
  }
  const claimed = claimedIssuerKey(doc, 'rights account certificate', 'UnexpectedPersonaCert');
  const trusted = s.racIssuerKeys.find((k) => publicKeysEqual(k, claimed));
  if (!trusted) return fail('UntrustedPersonaCert', 'the rights account certificate was not issued by a cluster this server trusts');
  let verified: XrmlDocument;
  try {
    verified = verifyXrmlSignature(doc, trusted);
  } catch {
    return fail('InvalidPersonaCertSignature', 'the signature of the rights account certificate does not verify');
  }
  try {
    return { value: readRac(verified), key: trusted };
  } catch (e) {
    return fail('UnexpectedPersonaCert', `the rights account certificate is not well formed: ${(e as Error).message}`);
  }
}
