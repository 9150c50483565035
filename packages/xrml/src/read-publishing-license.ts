import { RmsError, type TimeRange } from '@openrms/domain';
import { EXTRANET_LICENSE_ACQUISITION_DP_TYPE, LICENSE_ACQUISITION_DP_TYPE } from './build-clc';
import { ENCRYPTED_RIGHTS_DATA_ID, PUBLISHING_LICENSE_BODY_TYPE, type ContentOwner } from './build-publishing-license';
import { SERVER_OBJECT_TYPE } from './build-slc';
import { parseDescriptorName, type DescriptorName } from './descriptor-name';
import { distributionPointUrl, readDistributionPoints, readReferral, REFERRAL_DP_TYPE, type ReferralInfo } from './distribution-point';
import { readEnablingBits } from './enabling-bits';
import type { XrmlDocument } from './parse-xrml';
import { readPrincipal, type XrmlPrincipalInfo } from './read-certificate';
import { documentBody, exactlyOne, onlyChildren, readIssuedTime, readMsGuid, readTimeRange } from './read-document';
import { attrOf, childElements, optionalChild, optionalText, requiredAttr, requiredChild, requiredPath, requiredText } from './xrml-dom';
import { strictBase64, type RsaPublicKey } from './xrml-public-key';

export interface PublishingLicenseInfo {
  issuedTime: Date;
  validity?: TimeRange;
  descriptorGuid: string;
  descriptor?: DescriptorName & { lcid: number };
  /** The ISSUER principal (objectType, idType, id, name, publicKey, securityLevels). */
  issuer: XrmlPrincipalInfo;
  /** License-Acquisition-URL first, then Extranet-License-Acquisition-URL when present. */
  licensingUrls: string[];
  licensingUrl: string;
  extranetLicensingUrl?: string;
  server: { serverGuid: string; publicKey: RsaPublicKey; version?: string; sku?: string; name?: string; url?: string };
  enablingBits: Buffer;
  referral?: ReferralInfo;
  contentId: string;
  owner: ContentOwner;
  encryptedRightsData: Buffer;
  /** The document carries a signature (ds:Signature or native SIGNATURE), or was verified. */
  signed: boolean;
  verified: boolean;
}

/**
 * Reads a PL. Pass a verified document (the PL chain), or, for unsigned input such as
 * AcquireIssuanceLicense's, `parseXrml(xml, { allowUnsigned: true })`: `signed` and `verified`
 * then say what it was. Unknown BODY or WORK children are refused (a rebuild must not drop them).
 */
export function readPublishingLicense(doc: XrmlDocument): PublishingLicenseInfo {
  const body = documentBody(doc, 'PL', [PUBLISHING_LICENSE_BODY_TYPE]);
  onlyChildren(body, ['ISSUEDTIME', 'VALIDITYTIME', 'DESCRIPTOR', 'ISSUER', 'DISTRIBUTIONPOINT', 'ISSUEDPRINCIPALS', 'WORK', 'AUTHENTICATEDDATA'], 'PL');
  const descriptorObject = requiredPath(body, 'DESCRIPTOR/OBJECT');
  const dps = readDistributionPoints(body);
  for (const dp of dps) {
    if (![LICENSE_ACQUISITION_DP_TYPE, EXTRANET_LICENSE_ACQUISITION_DP_TYPE, REFERRAL_DP_TYPE].includes(dp.type ?? '')) {
      throw new RmsError('InvalidInput', `PL: unexpected DISTRIBUTIONPOINT type ${JSON.stringify(dp.type ?? null)}`);
    }
  }
  const licensingUrl = distributionPointUrl(dps, LICENSE_ACQUISITION_DP_TYPE, true);
  const extranetLicensingUrl = distributionPointUrl(dps, EXTRANET_LICENSE_ACQUISITION_DP_TYPE);

  const principalEl = exactlyOne(requiredChild(body, 'ISSUEDPRINCIPALS'), 'PRINCIPAL', 'PL');
  onlyChildren(principalEl, ['OBJECT', 'PUBLICKEY', 'SECURITYLEVEL', 'ENABLINGBITS'], 'PL principal');
  const serverObject = requiredChild(principalEl, 'OBJECT');
  if (attrOf(serverObject, 'type') !== SERVER_OBJECT_TYPE) throw new RmsError('InvalidInput', `PL principal OBJECT type is not ${SERVER_OBJECT_TYPE}`);
  const serverPrincipal = readPrincipal(principalEl);
  const server: PublishingLicenseInfo['server'] = { serverGuid: readMsGuid(serverObject, 'PL server ID'), publicKey: serverPrincipal.publicKey };
  const version = serverPrincipal.securityLevels['Server-Version'];
  if (version !== undefined) server.version = version;
  const sku = serverPrincipal.securityLevels['Server-SKU'];
  if (sku !== undefined) server.sku = sku;
  if (serverPrincipal.name !== undefined) server.name = serverPrincipal.name;
  if (serverPrincipal.url !== undefined) server.url = serverPrincipal.url;

  const work = requiredChild(body, 'WORK');
  onlyChildren(work, ['OBJECT', 'METADATA'], 'PL WORK');
  const ads = childElements(body, 'AUTHENTICATEDDATA');
  const erd = ads[0];
  if (ads.length !== 1 || !erd || attrOf(erd, 'id') !== ENCRYPTED_RIGHTS_DATA_ID) {
    throw new RmsError('InvalidInput', `PL must hold exactly one AUTHENTICATEDDATA, id="${ENCRYPTED_RIGHTS_DATA_ID}"`);
  }

  const info: PublishingLicenseInfo = {
    issuedTime: readIssuedTime(body),
    descriptorGuid: readMsGuid(descriptorObject, 'PL DESCRIPTOR ID'),
    issuer: readPrincipal(requiredChild(body, 'ISSUER')),
    licensingUrls: extranetLicensingUrl === undefined ? [licensingUrl] : [licensingUrl, extranetLicensingUrl],
    licensingUrl,
    server,
    enablingBits: readEnablingBits(principalEl),
    ...readContentWork(work, 'PL'),
    encryptedRightsData: strictBase64(requiredText(body, 'AUTHENTICATEDDATA'), 'Encrypted-Rights-Data'),
    signed: doc.verified || doc.dsigSignature !== undefined || doc.nativeSignature !== undefined,
    verified: doc.verified,
  };
  if (extranetLicensingUrl !== undefined) info.extranetLicensingUrl = extranetLicensingUrl;
  const validity = optionalChild(body, 'VALIDITYTIME');
  if (validity) info.validity = readTimeRange(validity);
  const name = optionalText(descriptorObject, 'NAME');
  if (name !== undefined) info.descriptor = parseDescriptorName(name);
  const referral = readReferral(dps);
  if (referral) info.referral = referral;
  return info;
}

/** WORK `OBJECT/ID MS-GUID` + `METADATA/OWNER/OBJECT` (PL and UL). */
export function readContentWork(work: Element, what: string): { contentId: string; owner: ContentOwner } {
  const owner = requiredPath(work, 'METADATA/OWNER/OBJECT');
  return {
    contentId: readMsGuid(requiredChild(work, 'OBJECT'), `${what} WORK OBJECT ID`),
    owner: { idType: requiredAttr(requiredChild(owner, 'ID'), 'type'), email: requiredText(owner, 'NAME') },
  };
}
