import { OWNER_RIGHT, RmsError, type RightGrant, type RightsPolicy } from '@openrms/domain';
import { create } from 'xmlbuilder2';
import { OFFICIAL_TEMPLATE_BODY_TYPE, PUBLISHING_DP_NAME, PUBLISHING_DP_TYPE, TEMPLATE_PUBLISHING_DP_GUID } from './build-rights-data';
import { writeIssuer, type XrmlIssuerFields } from './build-slc';
import { formatDescriptorName } from './descriptor-name';
import { writeDistributionPoint, writeReferral, type ReferralInfo } from './distribution-point';
import { formatXrmlTime } from './xrml-time';
import { writeAppSpecific, writeGrants, writePolicyValidity } from './xrml-rights';
import { guidValue, httpUrlValue, optional } from './xrml-writer';

export type TemplatePolicy = Omit<RightsPolicy, 'contentId' | 'ownerEmail'>;

export interface TemplateFields {
  guid: string;
  issuedTime: Date;
  /** The SLC principal: issuerFromCertificate(slcInfo). */
  issuer: XrmlIssuerFields;
  /** `Publishing-URL` DP: the intranet licensing URL. */
  publishingUrl: string;
  name: string;
  description?: string;
  /** Default 1033. */
  lcid?: number;
  /** Optional `Referral-Info` DP after Publishing-URL. */
  referral?: ReferralInfo;
  /**
   * Grants (in order), validity and APPSPECIFIC data. An `OWNER` grant for the owner is added first
   * when the grants hold none, as the spec's templates always carry one. `templateGuid`, if set,
   * must equal `guid`.
   */
  policy: TemplatePolicy;
}

/** The grant every template carries (PROTOCOL.md §4.6): OWNER for `ID type="Internal"` `Owner`. */
export const TEMPLATE_OWNER_GRANT: RightGrant = { right: OWNER_RIGHT, grantee: { kind: 'owner' } };

/**
 * Builds an unsigned rights policy template, PROTOCOL.md §4.6 "Rights policy template": ISSUEDTIME,
 * DESCRIPTOR (untyped OBJECT, ID = template GUID, NAME), ISSUER (the SLC principal), Publishing-URL
 * DP, WORK (`<OBJECT><ID type=""/></OBJECT>`, [PRECONDITIONLIST], RIGHTSGROUP), APPSPECIFIC data.
 * Sign the result with the SLC key; its AcquireTemplateInformation hash is the signature's digest.
 */
export function buildTemplate(fields: TemplateFields): string {
  const guid = guidValue(fields.guid, 'template guid');
  const policy = fields.policy;
  if (!policy || typeof policy !== 'object') throw new RmsError('InvalidInput', 'policy is required');
  if (policy.templateGuid !== undefined && guidValue(policy.templateGuid, 'policy.templateGuid') !== guid) {
    throw new RmsError('InvalidInput', 'policy.templateGuid differs from the template guid');
  }
  if (!Array.isArray(policy.grants)) throw new RmsError('InvalidInput', 'policy.grants must be an array');
  const hasOwnerGrant = policy.grants.some((g) => g.right === OWNER_RIGHT && g.grantee?.kind === 'owner');
  const grants = hasOwnerGrant ? policy.grants : [TEMPLATE_OWNER_GRANT, ...policy.grants];

  const doc = create();
  const body = doc.ele('XrML', { version: '1.2' }).ele('BODY', { type: OFFICIAL_TEMPLATE_BODY_TYPE, version: '3.0' });
  body.ele('ISSUEDTIME').txt(formatXrmlTime(fields.issuedTime));
  const descriptor = body.ele('DESCRIPTOR').ele('OBJECT');
  descriptor.ele('ID', { type: 'MS-GUID' }).txt(guid);
  descriptor
    .ele('NAME')
    .txt(formatDescriptorName({ name: fields.name, ...optional('description', fields.description), ...optional('lcid', fields.lcid) }));
  writeIssuer(body, fields.issuer);
  writeDistributionPoint(body, {
    type: PUBLISHING_DP_TYPE,
    guid: TEMPLATE_PUBLISHING_DP_GUID,
    name: PUBLISHING_DP_NAME,
    url: httpUrlValue(fields.publishingUrl, 'publishingUrl'),
  });
  if (fields.referral !== undefined) writeReferral(body, fields.referral);
  const work = body.ele('WORK');
  work.ele('OBJECT').ele('ID', { type: '' });
  writePolicyValidity(work, policy.validity);
  writeGrants(work, grants);
  writeAppSpecific(body, policy.appSpecific);
  return doc.end({ headless: true, prettyPrint: false });
}
