import { RmsError } from '@openrms/domain';
import { create } from 'xmlbuilder2';
import { writeIssuer, type XrmlIssuerFields } from './build-slc';
import type { RsaPublicKey } from './xrml-public-key';
import { formatXrmlTime } from './xrml-time';
import { guidValue, nonEmptyXmlValue, writeObject, writePublicKey, writeSecurityLevel } from './xrml-writer';

export const SPC_DESCRIPTOR_TYPE = 'Machine-Certificate';
export const SPC_DESCRIPTOR_NAME = 'Microsoft Machine-Certificate';
/** The issuer object of a self-issued SPC (v1 SP1+ clients). */
export const SECURITY_PROCESSOR_OBJECT_TYPE = 'MS-DRM-Desktop-Security-Processor';
export const MACHINE_OBJECT_TYPE = 'Machine-Unique-Identifier';
export const MACHINE_OBJECT_NAME = 'Machine';
/** The fixed ID of the SPC's `Activation` distribution point (PROTOCOL.md §4.6 SPC). */
export const SPC_ACTIVATION_DP_GUID = '{99f48562-703e-4e7d-9175-dd69c66921b7}';
export const SPC_LEVELS = { platform: 'Platform', manufacturer: 'Manufacturer', repository: 'Repository' } as const;

export interface SpcFields {
  descriptorGuid: string;
  issuedTime: Date;
  machineGuid: string;
  /** The machine (security processor) key: the SPC's principal key. */
  publicKey: RsaPublicKey;
  /** Default: self-issued, `MS-DRM-Desktop-Security-Processor` / MS-GUID machineGuid with the machine key. */
  issuer?: XrmlIssuerFields;
  platform: string;
  manufacturer: string;
  /** The `Repository` SECURITYLEVEL: the lockbox version compared against spcExclusionPolicy. */
  repositoryVersion: string;
  /** SHA-256 of the hardware ID (32 bytes). */
  hardwareDigest: Buffer;
}

/**
 * Builds an unsigned security processor (machine) certificate, PROTOCOL.md §4.6 "SPC": ISSUEDTIME,
 * DESCRIPTOR, ISSUER, DISTRIBUTIONPOINT (Activation), ISSUEDPRINCIPALS. Made and signed by the
 * client with its machine key; the server only reads it (readSpc) after verifying the SPC chain.
 */
export function buildSpc(fields: SpcFields): string {
  const machineGuid = guidValue(fields.machineGuid, 'machineGuid');
  if (!Buffer.isBuffer(fields.hardwareDigest) || fields.hardwareDigest.length !== 32) {
    throw new RmsError('InvalidInput', 'hardwareDigest must be a 32-byte SHA-256 digest');
  }
  const doc = create();
  const body = doc.ele('XrML', { version: '1.2' }).ele('BODY', { type: 'LICENSE', version: '3.0' });
  body.ele('ISSUEDTIME').txt(formatXrmlTime(fields.issuedTime));
  writeObject(body.ele('DESCRIPTOR'), {
    objectType: SPC_DESCRIPTOR_TYPE,
    idType: 'MS-GUID',
    id: guidValue(fields.descriptorGuid, 'descriptorGuid'),
    name: SPC_DESCRIPTOR_NAME,
  });
  writeIssuer(
    body,
    fields.issuer ?? { objectType: SECURITY_PROCESSOR_OBJECT_TYPE, idType: 'MS-GUID', id: machineGuid, publicKey: fields.publicKey },
  );
  body
    .ele('DISTRIBUTIONPOINT')
    .ele('OBJECT', { type: 'Activation' })
    .ele('ID', { type: 'MS-GUID' })
    .txt(SPC_ACTIVATION_DP_GUID);

  const principal = body.ele('ISSUEDPRINCIPALS').ele('PRINCIPAL', { 'internal-id': '1' });
  writeObject(principal, { objectType: MACHINE_OBJECT_TYPE, idType: 'MS-GUID', id: machineGuid, name: MACHINE_OBJECT_NAME });
  writePublicKey(principal, fields.publicKey);
  const digest = principal.ele('DIGEST');
  digest.ele('ALGORITHM').txt('SHA256');
  digest.ele('PARAMETER', { name: 'codingtype' }).ele('VALUE', { encoding: 'string' }).txt('surface-coding');
  digest.ele('VALUE', { encoding: 'base64', size: '256' }).txt(fields.hardwareDigest.toString('base64'));
  writeSecurityLevel(principal, { name: SPC_LEVELS.platform, value: nonEmptyXmlValue(fields.platform, 'platform') });
  writeSecurityLevel(principal, { name: SPC_LEVELS.manufacturer, value: nonEmptyXmlValue(fields.manufacturer, 'manufacturer') });
  writeSecurityLevel(principal, { name: SPC_LEVELS.repository, value: nonEmptyXmlValue(fields.repositoryVersion, 'repositoryVersion') });

  return doc.end({ headless: true, prettyPrint: false });
}
