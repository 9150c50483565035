import { RmsError, type TimeRange } from '@openrms/domain';
import { CLC_DESCRIPTOR_TYPE, EXTRANET_LICENSE_ACQUISITION_DP_TYPE, LICENSE_ACQUISITION_DP_TYPE } from './build-clc';
import { distributionPointUrl, readDistributionPoints } from './distribution-point';
import { readEnablingBits } from './enabling-bits';
import { readGroupIdentity, type GroupIdentity } from './group-identity';
import type { XrmlDocument } from './parse-xrml';
import { readPrincipal, type XrmlPrincipalInfo } from './read-certificate';
import { documentBody, exactlyOne, onlyChildren, readDescriptorObject, readIssuedTime, readMsGuid, readTimeRange } from './read-document';
import { rightsListOf } from './xrml-rights';
import { attrOf, requiredChild, requiredPath } from './xrml-dom';
import type { RsaPublicKey } from './xrml-public-key';

export interface ClcInfo {
  /** Read from a verifyXrmlSignature result; false means every value is an unverified claim. */
  verified: boolean;
  descriptorGuid: string;
  issuedTime: Date;
  issuer: XrmlPrincipalInfo;
  issuerPublicKey: RsaPublicKey;
  licensingUrl: string;
  extranetLicensingUrl?: string;
  identity: GroupIdentity;
  publicKey: RsaPublicKey;
  issueRange: TimeRange;
  enablingBits: Buffer;
}

/** Reads a CLC the caller verified with the issuer's SLC key. Missing or wrong elements are InvalidInput. */
export function readClc(doc: XrmlDocument): ClcInfo {
  const body = documentBody(doc, 'CLC', ['LICENSE']);
  onlyChildren(body, ['ISSUEDTIME', 'DESCRIPTOR', 'ISSUER', 'DISTRIBUTIONPOINT', 'ISSUEDPRINCIPALS', 'WORK'], 'CLC');
  const descriptorGuid = readMsGuid(readDescriptorObject(body, CLC_DESCRIPTOR_TYPE, 'CLC'), 'CLC DESCRIPTOR ID');
  const issuer = readPrincipal(requiredChild(body, 'ISSUER'));
  const dps = readDistributionPoints(body);
  const principalEl = exactlyOne(requiredChild(body, 'ISSUEDPRINCIPALS'), 'PRINCIPAL', 'CLC');
  if (attrOf(principalEl, 'internal-id') !== '1') throw new RmsError('InvalidInput', 'CLC principal must have internal-id="1"');
  const identity = readGroupIdentity(requiredChild(principalEl, 'OBJECT'));
  const principal = readPrincipal(principalEl);

  const work = requiredChild(body, 'WORK');
  onlyChildren(work, ['OBJECT', 'RIGHTSGROUP'], 'CLC WORK');
  const right = exactlyOne(rightsListOf(work), 'RIGHT', 'CLC');
  if (attrOf(right, 'name') !== 'ISSUE') throw new RmsError('InvalidInput', 'CLC right must be ISSUE');
  const conditions = requiredChild(right, 'CONDITIONLIST');
  onlyChildren(conditions, ['TIME', 'ACCESS'], 'CLC ISSUE right');
  const access = requiredPath(conditions, 'ACCESS/PRINCIPAL');
  if (attrOf(access, 'internal-id') !== '1') throw new RmsError('InvalidInput', 'CLC ISSUE right must be for PRINCIPAL internal-id="1"');

  const info: ClcInfo = {
    verified: doc.verified,
    descriptorGuid,
    issuedTime: readIssuedTime(body),
    issuer,
    issuerPublicKey: issuer.publicKey,
    licensingUrl: distributionPointUrl(dps, LICENSE_ACQUISITION_DP_TYPE, true),
    identity,
    publicKey: principal.publicKey,
    issueRange: readTimeRange(requiredPath(conditions, 'TIME/RANGETIME')),
    enablingBits: readEnablingBits(access),
  };
  const extranet = distributionPointUrl(dps, EXTRANET_LICENSE_ACQUISITION_DP_TYPE);
  if (extranet !== undefined) info.extranetLicensingUrl = extranet;
  return info;
}
