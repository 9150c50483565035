import { newBracedGuid, RmsError, type TimeRange } from '@openrms/domain';
import { create } from 'xmlbuilder2';
import { EXTRANET_LICENSE_ACQUISITION_DP_TYPE, LICENSE_ACQUISITION_DP_TYPE, LICENSING_DP_NAME } from './build-clc';
import { SERVER_OBJECT_TYPE, writeIssuer, type XrmlIssuerFields } from './build-slc';
import { formatDescriptorName, type DescriptorName } from './descriptor-name';
import { writeDistributionPoint, writeReferral, type ReferralInfo } from './distribution-point';
import { writeEnablingBits } from './enabling-bits';
import type { RsaPublicKey } from './xrml-public-key';
import { formatXrmlTime } from './xrml-time';
import { guidValue, httpUrlValue, nonEmptyXmlValue, trimmedXmlValue, writeObject, writePublicKey, writeSecurityLevel, writeTimeRange, type XrmlSink } from './xrml-writer';

export const PUBLISHING_LICENSE_BODY_TYPE = 'Microsoft Rights Label';
export const ENCRYPTED_RIGHTS_DATA_ID = 'Encrypted-Rights-Data';

/** The server (cluster) that may license the content: its SLC principal. */
export interface PublishingLicenseServer {
  serverGuid: string;
  publicKey: RsaPublicKey;
  /** `Server-Version`. */
  version: string;
  /** `Server-SKU`. */
  sku: string;
  name?: string;
  url?: string;
}

/** `METADATA/OWNER/OBJECT`: `<ID type="…"/>` (Windows, Federation, Passport, Unspecified) and the e-mail. */
export interface ContentOwner {
  idType: string;
  email: string;
}

export interface PublishingLicenseFields {
  issuedTime: Date;
  /** VALIDITYTIME of the PL itself (checked at AcquireLicense). */
  validity?: TimeRange;
  /**
   * DESCRIPTOR OBJECT ID (MS-GUID); a fresh one when absent. The DESCRIPTOR is always written so a
   * PL is a well-formed chain member for verifyChain/readCertificate.
   */
  descriptorGuid?: string;
  /** DESCRIPTOR NAME (`LCID …:NAME …:DESCRIPTION …;`); omitted when absent. */
  descriptor?: DescriptorName;
  /** Offline: the CLC principal (Group-Identity + CLC key). Online: the SLC principal. */
  issuer: XrmlIssuerFields;
  licensingUrl: string;
  extranetLicensingUrl?: string;
  server: PublishingLicenseServer;
  /** The content key sealed to the server key (packages/keys). */
  enablingBits: Buffer;
  referral?: ReferralInfo;
  contentId: string;
  owner: ContentOwner;
  /** The ERD (buildRightsData) encrypted under the content key. */
  encryptedRightsData: Buffer;
}

/**
 * Builds an unsigned publishing (issuance) licence, PROTOCOL.md §4.6 "PL": ISSUEDTIME, [VALIDITYTIME],
 * DESCRIPTOR, ISSUER, DISTRIBUTIONPOINT License-Acquisition-URL [and Extranet-…] (fresh MS-GUIDs),
 * ISSUEDPRINCIPALS (MS-DRM-Server principal + ENABLINGBITS), [Referral-Info DP], WORK,
 * AUTHENTICATEDDATA Encrypted-Rights-Data. Offline, the client signs it with its CLC key; online,
 * the server rewrites it with withServerSignatureFields and signs it with the SLC key.
 */
export function buildPublishingLicense(fields: PublishingLicenseFields): string {
  if (!Buffer.isBuffer(fields.encryptedRightsData) || fields.encryptedRightsData.length === 0) {
    throw new RmsError('InvalidInput', 'encryptedRightsData must be a non-empty Buffer');
  }
  const server = fields.server;
  if (!server) throw new RmsError('InvalidInput', 'server is required');

  const doc = create();
  const body = doc.ele('XrML', { version: '1.2' }).ele('BODY', { type: PUBLISHING_LICENSE_BODY_TYPE, version: '3.0' });
  body.ele('ISSUEDTIME').txt(formatXrmlTime(fields.issuedTime));
  if (fields.validity !== undefined) writeTimeRange(body, 'VALIDITYTIME', fields.validity.from, fields.validity.until);
  const descriptor = body.ele('DESCRIPTOR').ele('OBJECT');
  descriptor.ele('ID', { type: 'MS-GUID' }).txt(fields.descriptorGuid === undefined ? newBracedGuid() : guidValue(fields.descriptorGuid, 'descriptorGuid'));
  if (fields.descriptor !== undefined) descriptor.ele('NAME').txt(formatDescriptorName(fields.descriptor));
  writeIssuer(body, fields.issuer);
  writeDistributionPoint(body, {
    type: LICENSE_ACQUISITION_DP_TYPE,
    guid: newBracedGuid(),
    name: LICENSING_DP_NAME,
    url: httpUrlValue(fields.licensingUrl, 'licensingUrl'),
  });
  if (fields.extranetLicensingUrl !== undefined) {
    writeDistributionPoint(body, {
      type: EXTRANET_LICENSE_ACQUISITION_DP_TYPE,
      guid: newBracedGuid(),
      name: LICENSING_DP_NAME,
      url: httpUrlValue(fields.extranetLicensingUrl, 'extranetLicensingUrl'),
    });
  }

  const principal = body.ele('ISSUEDPRINCIPALS').ele('PRINCIPAL', { 'internal-id': '1' });
  writeObject(principal, {
    objectType: SERVER_OBJECT_TYPE,
    idType: 'MS-GUID',
    id: server.serverGuid,
    ...(server.name === undefined ? {} : { name: server.name }),
    ...(server.url === undefined ? {} : { url: server.url }),
  });
  writePublicKey(principal, server.publicKey);
  writeSecurityLevel(principal, { name: 'Server-Version', value: nonEmptyXmlValue(server.version, 'Server-Version') });
  writeSecurityLevel(principal, { name: 'Server-SKU', value: nonEmptyXmlValue(server.sku, 'Server-SKU') });
  writeEnablingBits(principal, fields.enablingBits);

  if (fields.referral !== undefined) writeReferral(body, fields.referral);
  writeContentWork(body.ele('WORK'), fields.contentId, fields.owner);
  body.ele('AUTHENTICATEDDATA', { id: ENCRYPTED_RIGHTS_DATA_ID }).txt(fields.encryptedRightsData.toString('base64'));
  return doc.end({ headless: true, prettyPrint: false });
}

/** WORK `OBJECT/ID MS-GUID` + `METADATA/OWNER/OBJECT`, shared by the PL and the UL. */
export function writeContentWork(work: XrmlSink, contentId: string, owner: ContentOwner): void {
  if (!owner) throw new RmsError('InvalidInput', 'owner is required');
  work.ele('OBJECT').ele('ID', { type: 'MS-GUID' }).txt(guidValue(contentId, 'contentId'));
  const object = work.ele('METADATA').ele('OWNER').ele('OBJECT');
  object.ele('ID', { type: trimmedXmlValue(owner.idType, 'owner idType') });
  object.ele('NAME').txt(trimmedXmlValue(owner.email, 'owner email'));
}
