import type { TimeRange } from '@openrms/domain';
import { create } from 'xmlbuilder2';
import { writeIssuer, type XrmlIssuerFields } from './build-slc';
import { writeDistributionPoint } from './distribution-point';
import { writeEnablingBits } from './enabling-bits';
import { writeGroupIdentityObject, type GroupIdentity } from './group-identity';
import type { RsaPublicKey } from './xrml-public-key';
import { formatXrmlTime } from './xrml-time';
import { guidValue, httpUrlValue, writeObject, writePublicKey, writeTimeRange } from './xrml-writer';

export const CLC_DESCRIPTOR_TYPE = 'Client-Licensor-Certificate';
export const LICENSING_DP_NAME = 'DRM Server Cluster';
export const LICENSE_ACQUISITION_DP_TYPE = 'License-Acquisition-URL';
export const EXTRANET_LICENSE_ACQUISITION_DP_TYPE = 'Extranet-License-Acquisition-URL';
/** [Win] the IDs of the CLC's licensing distribution points (PROTOCOL.md §4.6 CLC). */
export const CLC_LICENSING_DP_GUID = '{0f45fd50-383b-43ee-90a4-ed013cd0cfe5}';
export const CLC_EXTRANET_LICENSING_DP_GUID = '{94bf969a-ca04-44d6-aa96-51071281fef2}';

export interface ClcFields {
  descriptorGuid: string;
  issuedTime: Date;
  /** The SLC principal: issuerFromCertificate(slcInfo). */
  issuer: XrmlIssuerFields;
  licensingUrl: string;
  extranetLicensingUrl?: string;
  /** The RAC's identity (readRac().identity). */
  identity: GroupIdentity;
  /** The CLC key. */
  publicKey: RsaPublicKey;
  /** When the holder may issue PLs: the RAC's VALIDITYTIME. */
  issueRange: TimeRange;
  /** The CLC private key sealed to the RAC key (packages/keys). */
  enablingBits: Buffer;
}

/**
 * Builds an unsigned client licensor certificate, PROTOCOL.md §4.6 "CLC": ISSUEDTIME, DESCRIPTOR,
 * ISSUER, DISTRIBUTIONPOINT License-Acquisition-URL [and Extranet-…], ISSUEDPRINCIPALS, WORK with
 * an ISSUE right (RANGETIME, then ACCESS/PRINCIPAL internal-id="1" holding ENABLINGBITS). No
 * VALIDITYTIME: the ISSUE range bounds the CLC.
 */
export function buildClc(fields: ClcFields): string {
  const descriptor = { objectType: CLC_DESCRIPTOR_TYPE, idType: 'MS-GUID', id: guidValue(fields.descriptorGuid, 'descriptorGuid') };
  const doc = create();
  const body = doc.ele('XrML', { version: '1.2' }).ele('BODY', { type: 'LICENSE', version: '3.0' });
  body.ele('ISSUEDTIME').txt(formatXrmlTime(fields.issuedTime));
  writeObject(body.ele('DESCRIPTOR'), descriptor);
  writeIssuer(body, fields.issuer);
  writeDistributionPoint(body, {
    type: LICENSE_ACQUISITION_DP_TYPE,
    guid: CLC_LICENSING_DP_GUID,
    name: LICENSING_DP_NAME,
    url: httpUrlValue(fields.licensingUrl, 'licensingUrl'),
  });
  if (fields.extranetLicensingUrl !== undefined) {
    writeDistributionPoint(body, {
      type: EXTRANET_LICENSE_ACQUISITION_DP_TYPE,
      guid: CLC_EXTRANET_LICENSING_DP_GUID,
      name: LICENSING_DP_NAME,
      url: httpUrlValue(fields.extranetLicensingUrl, 'extranetLicensingUrl'),
    });
  }
  const principal = body.ele('ISSUEDPRINCIPALS').ele('PRINCIPAL', { 'internal-id': '1' });
  writeGroupIdentityObject(principal, fields.identity);
  writePublicKey(principal, fields.publicKey);

  const work = body.ele('WORK');
  writeObject(work, descriptor);
  const conditions = work.ele('RIGHTSGROUP', { name: 'Main-Rights' }).ele('RIGHTSLIST').ele('RIGHT', { name: 'ISSUE' }).ele('CONDITIONLIST');
  writeTimeRange(conditions.ele('TIME'), 'RANGETIME', fields.issueRange.from, fields.issueRange.until);
  writeEnablingBits(conditions.ele('ACCESS').ele('PRINCIPAL', { 'internal-id': '1' }), fields.enablingBits);

  return doc.end({ headless: true, prettyPrint: false });
}
