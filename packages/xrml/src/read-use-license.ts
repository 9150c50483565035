import { RmsError } from '@openrms/domain';
import type { ContentOwner } from './build-publishing-license';
import { USE_LICENSE_DESCRIPTOR_TYPE, USE_LICENSE_PURPOSE, type ApplicationExclusion, type UseLicenseRight } from './build-use-license';
import { readDistributionPoints, readReferral, REFERRAL_DP_TYPE, type ReferralInfo } from './distribution-point';
import { readEnablingBits } from './enabling-bits';
import { readGroupIdentity, type GroupIdentity } from './group-identity';
import { serializeElement } from './import-element';
import type { XrmlDocument } from './parse-xrml';
import { readPrincipal, type XrmlPrincipalInfo } from './read-certificate';
import { readContentWork } from './read-publishing-license';
import {
  documentBody,
  exactlyOne,
  onlyChildren,
  readDescriptorObject,
  readIssuedTime,
  readMsGuid,
  readTimeRange,
} from './read-document';
import { readRightName, readTimeConditions, rightsListOf } from './xrml-rights';
import { attrOf, childElements, requiredAttr, requiredChild, requiredPath, requiredText } from './xrml-dom';
import type { RsaPublicKey } from './xrml-public-key';

export interface UseLicenseInfo {
  /** Read from a verifyXrmlSignature result; false means every value is an unverified claim. */
  verified: boolean;
  descriptorGuid: string;
  issuedTime: Date;
  validFrom: Date;
  validUntil: Date;
  issuer: XrmlPrincipalInfo;
  issuerPublicKey: RsaPublicKey;
  licensee: { identity: GroupIdentity; publicKey: RsaPublicKey };
  /** The ISSUEDPRINCIPALS PRINCIPAL exactly as serialised (equal to the RAC's principalXml). */
  licenseePrincipalXml: string;
  contentId: string;
  owner: ContentOwner;
  rights: UseLicenseRight[];
  referral?: ReferralInfo;
  applicationExclusions: ApplicationExclusion[];
}

/** Reads a UL the caller verified with the issuer's SLC key. Missing or wrong elements are InvalidInput. */
export function readUseLicense(doc: XrmlDocument): UseLicenseInfo {
  const body = documentBody(doc, 'UL', ['LICENSE']);
  if (attrOf(doc.root, 'purpose') !== USE_LICENSE_PURPOSE) throw new RmsError('InvalidInput', `UL: XrML purpose must be ${USE_LICENSE_PURPOSE}`);
  onlyChildren(body, ['ISSUEDTIME', 'VALIDITYTIME', 'DESCRIPTOR', 'ISSUER', 'ISSUEDPRINCIPALS', 'DISTRIBUTIONPOINT', 'WORK', 'POLICYLIST'], 'UL');
  const descriptorGuid = readMsGuid(readDescriptorObject(body, USE_LICENSE_DESCRIPTOR_TYPE, 'UL'), 'UL DESCRIPTOR ID');
  const validity = readTimeRange(requiredChild(body, 'VALIDITYTIME'));
  const issuer = readPrincipal(requiredChild(body, 'ISSUER'));
  const dps = readDistributionPoints(body);
  for (const dp of dps) {
    if (dp.type !== REFERRAL_DP_TYPE) throw new RmsError('InvalidInput', `UL: unexpected DISTRIBUTIONPOINT type ${JSON.stringify(dp.type ?? null)}`);
  }
  const principalEl = exactlyOne(requiredChild(body, 'ISSUEDPRINCIPALS'), 'PRINCIPAL', 'UL');
  if (attrOf(principalEl, 'internal-id') !== '1') throw new RmsError('InvalidInput', 'UL principal must have internal-id="1"');
  const licensee = { identity: readGroupIdentity(requiredChild(principalEl, 'OBJECT')), publicKey: readPrincipal(principalEl).publicKey };

  const work = requiredChild(body, 'WORK');
  onlyChildren(work, ['OBJECT', 'METADATA', 'RIGHTSGROUP'], 'UL WORK');
  const rights = childElements(rightsListOf(work)).map((el): UseLicenseRight => {
    const right = readRightName(el);
    onlyChildren(el, ['CONDITIONLIST'], `UL right ${right}`);
    const conditions = requiredChild(el, 'CONDITIONLIST');
    onlyChildren(conditions, ['ACCESS', 'TIME'], `UL right ${right}`);
    const access = exactlyOne(exactlyOne(conditions, 'ACCESS', `UL right ${right}`), 'PRINCIPAL', `UL right ${right}`);
    if (attrOf(access, 'internal-id') !== '1') throw new RmsError('InvalidInput', `UL right ${right} must be for PRINCIPAL internal-id="1"`);
    const out: UseLicenseRight = { right, enablingBits: readEnablingBits(access) };
    const time = readTimeConditions(conditions);
    if (time.range) out.range = time.range;
    if (time.intervalDays !== undefined) out.intervalDays = time.intervalDays;
    return out;
  });
  if (rights.length === 0) throw new RmsError('InvalidInput', 'UL grants no rights');

  const info: UseLicenseInfo = {
    verified: doc.verified,
    descriptorGuid,
    issuedTime: readIssuedTime(body),
    validFrom: validity.from,
    validUntil: validity.until,
    issuer,
    issuerPublicKey: issuer.publicKey,
    licensee,
    licenseePrincipalXml: serializeElement(principalEl),
    ...readContentWork(work, 'UL'),
    rights,
    applicationExclusions: readExclusions(body),
  };
  const referral = readReferral(dps);
  if (referral) info.referral = referral;
  return info;
}

function readExclusions(body: Element): ApplicationExclusion[] {
  const out: ApplicationExclusion[] = [];
  for (const list of childElements(body, 'POLICYLIST')) {
    if (attrOf(list, 'type') !== 'exclusion') {
      throw new RmsError('InvalidInput', `UL POLICYLIST type ${JSON.stringify(attrOf(list, 'type') ?? null)} is not supported`);
    }
    onlyChildren(list, ['POLICY'], 'UL POLICYLIST');
    for (const policy of childElements(list, 'POLICY')) {
      const object = requiredChild(policy, 'OBJECT');
      if (attrOf(requiredChild(object, 'ID'), 'type') !== 'filename') throw new RmsError('InvalidInput', 'UL exclusion POLICY ID type must be filename');
      const span = requiredPath(object, 'VERSIONSPAN');
      out.push({ name: requiredText(object, 'ID'), min: requiredAttr(span, 'min'), max: requiredAttr(span, 'max') });
    }
  }
  return out;
}
