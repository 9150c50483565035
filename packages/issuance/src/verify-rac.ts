import type { KeyObject } from 'node:crypto';
import { parseXrml, publicKeysEqual, readRac, verifyXrmlSignature, type XrmlDocument } from '@openrms/xrml';
import { claimedIssuerKey, fail, type IssuingContext } from './issuing-context';
import type { IssuingState } from './issuing-state';
import { isExcluded } from './policies';

export interface VerifiedRac {
  doc: XrmlDocument;
  info: ReturnType<typeof readRac>;
  /** The trusted key that verified it: this cluster's SLC key, or a trusted user domain's. */
  issuerKey: KeyObject;
}

/** Signature with a trusted issuer key, then time, then exclusion (PROTOCOL.md §3.3 order). */
export function verifyRac(ctx: IssuingContext, licenseeCerts: string[], s: IssuingState): VerifiedRac {
  let doc: XrmlDocument;
  try {
    doc = parseXrml(licenseeCerts[0]!);
  } catch (e) {
    return fail('UnexpectedPersonaCert', `the rights account certificate cannot be read: ${(e as Error).message}`);
  }
  const claimed = claimedIssuerKey(doc, 'rights account certificate', 'UnexpectedPersonaCert');
  const trusted = s.racIssuerKeys.find((k) => publicKeysEqual(k, claimed));
  if (!trusted) fail('UntrustedPersonaCert', 'the rights account certificate was not issued by a cluster this server trusts');
  let verified: XrmlDocument;
  try {
    verified = verifyXrmlSignature(doc, trusted);
  } catch {
    return fail('InvalidPersonaCertSignature', 'the signature of the rights account certificate does not verify');
  }
  let info: ReturnType<typeof readRac>;
  try {
    info = readRac(verified);
  } catch (e) {
    return fail('UnexpectedPersonaCert', `the rights account certificate is not well formed: ${(e as Error).message}`);
  }
  const now = ctx.clock.now();
  if (now < info.validFrom || now >= info.validUntil) fail('InvalidPersonaCertTime', 'the rights account certificate is expired or not yet valid');
  if (isExcluded(s.policies, info.identity.email, info.publicKey)) fail('DrmacIsExcluded', `${info.identity.email} is excluded by policy`);
  return { doc: verified, info, issuerKey: trusted! };
}
