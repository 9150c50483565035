import { RmsError, type TimeRange } from '@openrms/domain';
import { writeContentWork, type ContentOwner } from './build-publishing-license';
import { writeIssuer, type XrmlIssuerFields } from './build-slc';
import { writeReferral, type ReferralInfo } from './distribution-point';
import { writeEnablingBits } from './enabling-bits';
import { readGroupIdentity } from './group-identity';
import { canonicalElement, CanonicalDocument, type CanonicalFragment } from './canonical-xml';
import { FragmentCache, parseElementFragment } from './import-element';
import { readPrincipal } from './read-certificate';
import { requiredChild } from './xrml-dom';
import { formatXrmlTime } from './xrml-time';
import { writeRightElement, writeTimeConditions, MAIN_RIGHTS } from './xrml-rights';
import { guidValue, trimmedXmlValue, writeObject, writeTimeRange } from './xrml-writer';

export const USE_LICENSE_PURPOSE = 'Content-License';
export const USE_LICENSE_DESCRIPTOR_TYPE = 'Content-License';

export interface UseLicenseRight {
  right: string;
  /** The content key sealed to the RAC key (packages/keys). */
  enablingBits: Buffer;
  range?: TimeRange;
  intervalDays?: number;
}

/** One `POLICYLIST type="exclusion"` entry: an application (file name) and version span it excludes. */
export interface ApplicationExclusion {
  name: string;
  min: string;
  max: string;
}

export interface UseLicenseFields {
  descriptorGuid: string;
  issuedTime: Date;
  validFrom: Date;
  validUntil: Date;
  /** The SLC principal: issuerFromCertificate(slcInfo). */
  issuer: XrmlIssuerFields;
  /** The RAC's ISSUEDPRINCIPALS PRINCIPAL (readRac().principalXml), copied verbatim through the DOM. */
  licenseePrincipalXml: string;
  contentId: string;
  owner: ContentOwner;
  rights: readonly UseLicenseRight[];
  referral?: ReferralInfo;
  applicationExclusions?: readonly ApplicationExclusion[];
}

/**
 * Builds an unsigned use licence, PROTOCOL.md §4.6 "UL": root `purpose="Content-License"`; ISSUEDTIME,
 * VALIDITYTIME, DESCRIPTOR (`Content-License`), ISSUER, ISSUEDPRINCIPALS (the RAC principal),
 * [Referral-Info DP], WORK (OBJECT, METADATA/OWNER, RIGHTSGROUP), [POLICYLIST type="exclusion"].
 * VALIDITYTIME is our addition (placed as in every other certificate); the spec's UL has none.
 * Written in canonical form (canonical-xml.ts), so signXrml digests it without parsing it again.
 */
export function buildUseLicense(fields: UseLicenseFields): string {
  const licensee = licenseeFragment(fields.licenseePrincipalXml);
  if (!Array.isArray(fields.rights) || fields.rights.length === 0) throw new RmsError('InvalidInput', 'a use licence needs at least one right');

  const doc = new CanonicalDocument();
  const body = doc.ele('XrML', { version: '1.2', purpose: USE_LICENSE_PURPOSE }).ele('BODY', { type: 'LICENSE', version: '3.0' });
  body.ele('ISSUEDTIME').txt(formatXrmlTime(fields.issuedTime));
  writeTimeRange(body, 'VALIDITYTIME', fields.validFrom, fields.validUntil);
  writeObject(body.ele('DESCRIPTOR'), {
    objectType: USE_LICENSE_DESCRIPTOR_TYPE,
    idType: 'MS-GUID',
    id: guidValue(fields.descriptorGuid, 'descriptorGuid'),
  });
  writeIssuer(body, fields.issuer);
  body.ele('ISSUEDPRINCIPALS').importCanonical(licensee);
  if (fields.referral !== undefined) writeReferral(body, fields.referral);

  const work = body.ele('WORK');
  writeContentWork(work, fields.contentId, fields.owner);
  const list = work.ele('RIGHTSGROUP', { name: MAIN_RIGHTS }).ele('RIGHTSLIST');
  for (const r of fields.rights) {
    const conditions = writeRightElement(list, r.right).ele('CONDITIONLIST');
    writeEnablingBits(conditions.ele('ACCESS').ele('PRINCIPAL', { 'internal-id': '1' }), r.enablingBits, `enablingBits of ${r.right}`);
    writeTimeConditions(conditions, r.range, r.intervalDays);
  }

  const exclusions = fields.applicationExclusions ?? [];
  if (exclusions.length > 0) {
    const policies = body.ele('POLICYLIST', { type: 'exclusion' });
    for (const x of exclusions) {
      const object = policies.ele('POLICY').ele('OBJECT');
      object.ele('ID', { type: 'filename' }).txt(trimmedXmlValue(x.name, 'exclusion name'));
      object.ele('VERSIONSPAN', { min: trimmedXmlValue(x.min, 'exclusion min'), max: trimmedXmlValue(x.max, 'exclusion max') });
    }
  }
  return doc.end();
}

/**
 * The RAC principal, checked (a Group-Identity OBJECT and a usable key, nothing less) and rendered
 * canonically. A member issues licences to the same few thousand people over and over, so the
 * answer for each principal text is kept (it depends on nothing but the text).
 */
const licensees = new FragmentCache<CanonicalFragment>(512);

function licenseeFragment(principalXml: string): CanonicalFragment {
  return licensees.get(principalXml, () => {
    const licensee = parseElementFragment(principalXml, 'PRINCIPAL', 'licenseePrincipalXml');
    readGroupIdentity(requiredChild(licensee, 'OBJECT'));
    readPrincipal(licensee);
    return canonicalElement(licensee);
  });
}
