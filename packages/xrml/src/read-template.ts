import { RmsError, type RightGrant, type TimeRange } from '@openrms/domain';
import { OFFICIAL_TEMPLATE_BODY_TYPE, PUBLISHING_DP_TYPE } from './build-rights-data';
import { parseDescriptorName } from './descriptor-name';
import { distributionPointUrl, readDistributionPoints, readReferral, REFERRAL_DP_TYPE, type ReferralInfo } from './distribution-point';
import type { XrmlDocument } from './parse-xrml';
import { readPrincipal, type XrmlPrincipalInfo } from './read-certificate';
import { documentBody, onlyChildren, readDescriptorObject, readIssuedTime, readMsGuid } from './read-document';
import { readAppSpecific, readGrants, readPolicyValidity } from './xrml-rights';
import { attrOf, childElements, requiredChild, requiredText, textOf } from './xrml-dom';
import type { RsaPublicKey } from './xrml-public-key';

export interface TemplateInfo {
  /** Read from a verifyXrmlSignature result; false means every value is an unverified claim. */
  verified: boolean;
  guid: string;
  name: string;
  description?: string;
  lcid: number;
  issuedTime: Date;
  publishingUrl: string;
  referral?: ReferralInfo;
  grants: RightGrant[];
  validity?: TimeRange;
  appSpecific?: Record<string, string>;
  issuer: XrmlPrincipalInfo;
  issuerPublicKey: RsaPublicKey;
}

/** Reads a rights policy template the caller verified with the SLC key. Missing or wrong elements are InvalidInput. */
export function readTemplate(doc: XrmlDocument): TemplateInfo {
  const body = documentBody(doc, 'template', [OFFICIAL_TEMPLATE_BODY_TYPE]);
  onlyChildren(body, ['ISSUEDTIME', 'DESCRIPTOR', 'ISSUER', 'DISTRIBUTIONPOINT', 'WORK', 'AUTHENTICATEDDATA'], 'template');
  const descriptor = readDescriptorObject(body, undefined, 'template');
  const named = parseDescriptorName(requiredText(descriptor, 'NAME'));
  const issuer = readPrincipal(requiredChild(body, 'ISSUER'));
  const dps = readDistributionPoints(body);
  for (const dp of dps) {
    if (dp.type !== PUBLISHING_DP_TYPE && dp.type !== REFERRAL_DP_TYPE) {
      throw new RmsError('InvalidInput', `template: unexpected DISTRIBUTIONPOINT type ${JSON.stringify(dp.type ?? null)}`);
    }
  }

  const work = requiredChild(body, 'WORK');
  onlyChildren(work, ['OBJECT', 'PRECONDITIONLIST', 'RIGHTSGROUP'], 'template WORK');
  // A template's WORK OBJECT is the empty `<ID type=""/>`; a content GUID there means this is an ERD.
  const id = requiredChild(requiredChild(work, 'OBJECT'), 'ID');
  if (attrOf(id, 'type') !== '' || textOf(id) !== '') throw new RmsError('InvalidInput', 'template WORK OBJECT must be <ID type=""/>');
  for (const ad of childElements(body, 'AUTHENTICATEDDATA')) {
    if (attrOf(ad, 'id') !== 'APPSPECIFIC') throw new RmsError('InvalidInput', `template AUTHENTICATEDDATA id ${JSON.stringify(attrOf(ad, 'id') ?? null)} is not supported`);
  }

  const info: TemplateInfo = {
    verified: doc.verified,
    guid: readMsGuid(descriptor, 'template DESCRIPTOR ID'),
    name: named.name,
    lcid: named.lcid,
    issuedTime: readIssuedTime(body),
    publishingUrl: distributionPointUrl(dps, PUBLISHING_DP_TYPE, true),
    grants: readGrants(work),
    issuer,
    issuerPublicKey: issuer.publicKey,
  };
  if (named.description !== undefined) info.description = named.description;
  const referral = readReferral(dps);
  if (referral) info.referral = referral;
  const validity = readPolicyValidity(work);
  if (validity) info.validity = validity;
  const appSpecific = readAppSpecific(body);
  if (appSpecific) info.appSpecific = appSpecific;
  return info;
}
