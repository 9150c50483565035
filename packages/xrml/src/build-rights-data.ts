import { RmsError, type RightsPolicy } from '@openrms/domain';
import { create } from 'xmlbuilder2';
import { writeIssuer, type XrmlIssuerFields } from './build-slc';
import { formatDescriptorName } from './descriptor-name';
import { writeDistributionPoint } from './distribution-point';
import { formatXrmlTime } from './xrml-time';
import { writeAppSpecific, writeGrants, writePolicyValidity } from './xrml-rights';
import { guidValue, httpUrlValue, optional, trimmedXmlValue } from './xrml-writer';

export const RIGHTS_DATA_BODY_TYPE = 'Microsoft Rights Template';
export const OFFICIAL_TEMPLATE_BODY_TYPE = 'Microsoft Official Rights Template';
export const PUBLISHING_DP_TYPE = 'Publishing-URL';
export const PUBLISHING_DP_NAME = 'Publishing Point';
/** [Win] the ID of a template's Publishing-URL distribution point (PROTOCOL.md §4.6 template). */
export const TEMPLATE_PUBLISHING_DP_GUID = '{9a23d98e-4449-4ba5-812a-f30808f3cb16}';

export interface RightsDataFields {
  issuedTime: Date;
  /** DESCRIPTOR ID; when `policy.templateGuid` is set the template GUID is written instead. */
  descriptorGuid: string;
  policy: RightsPolicy;
  /** DESCRIPTOR NAME, as `LCID <lcid>:NAME <name>:DESCRIPTION <description>;`. */
  name?: string;
  description?: string;
  /** Default 1033. */
  lcid?: number;
  /** Official-template ERDs only: the template's ISSUER (the SLC principal). */
  templateIssuer?: XrmlIssuerFields;
  /** Official-template ERDs only: the `Publishing-URL` distribution point. */
  publishingUrl?: string;
}

/**
 * Builds the plaintext rights data (ERD) of a PL, PROTOCOL.md §4.6 "ERD": ISSUEDTIME, DESCRIPTOR,
 * [ISSUER, Publishing-URL DP], WORK (OBJECT, METADATA/OWNER, [PRECONDITIONLIST], RIGHTSGROUP),
 * AUTHENTICATEDDATA APPSPECIFIC*. Not signed: the caller encrypts it into the PL's
 * `Encrypted-Rights-Data`, which the PL signature then covers.
 */
export function buildRightsData(fields: RightsDataFields): string {
  const policy = fields.policy;
  if (!policy || typeof policy !== 'object') throw new RmsError('InvalidInput', 'policy is required');
  const official = policy.templateGuid !== undefined;
  if (!official && (fields.templateIssuer !== undefined || fields.publishingUrl !== undefined)) {
    throw new RmsError('InvalidInput', 'templateIssuer and publishingUrl belong to template-based rights data (policy.templateGuid)');
  }
  if (fields.description !== undefined && fields.name === undefined) throw new RmsError('InvalidInput', 'description needs a name');

  const doc = create();
  const body = doc.ele('XrML', { version: '1.2' }).ele('BODY', { type: official ? OFFICIAL_TEMPLATE_BODY_TYPE : RIGHTS_DATA_BODY_TYPE, version: '3.0' });
  body.ele('ISSUEDTIME').txt(formatXrmlTime(fields.issuedTime));
  const descriptor = body.ele('DESCRIPTOR').ele('OBJECT');
  descriptor.ele('ID', { type: 'MS-GUID' }).txt(guidValue(official ? policy.templateGuid! : fields.descriptorGuid, official ? 'templateGuid' : 'descriptorGuid'));
  if (fields.name !== undefined) {
    descriptor.ele('NAME').txt(formatDescriptorName({ name: fields.name, ...optional('description', fields.description), ...optional('lcid', fields.lcid) }));
  }
  if (fields.templateIssuer !== undefined) writeIssuer(body, fields.templateIssuer);
  if (fields.publishingUrl !== undefined) {
    writeDistributionPoint(body, {
      type: PUBLISHING_DP_TYPE,
      guid: TEMPLATE_PUBLISHING_DP_GUID,
      name: PUBLISHING_DP_NAME,
      url: httpUrlValue(fields.publishingUrl, 'publishingUrl'),
    });
  }

  const work = body.ele('WORK');
  work.ele('OBJECT').ele('ID', { type: 'MS-GUID' }).txt(guidValue(policy.contentId, 'contentId'));
  const owner = work.ele('METADATA').ele('OWNER').ele('OBJECT');
  owner.ele('ID', { type: 'Unspecified' });
  owner.ele('NAME').txt(trimmedXmlValue(policy.ownerEmail, 'ownerEmail'));
  writePolicyValidity(work, policy.validity);
  writeGrants(work, policy.grants);
  writeAppSpecific(body, policy.appSpecific);
  return doc.end({ headless: true, prettyPrint: false });
}
