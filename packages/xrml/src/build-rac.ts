import { RmsError } from '@openrms/domain';
import { writeIssuer, type XrmlIssuerFields } from './build-slc';
import { SPC_LEVELS } from './build-spc';
import { writeDistributionPoint } from './distribution-point';
import { writeEnablingBits } from './enabling-bits';
import { writeGroupIdentityObject, type GroupIdentity } from './group-identity';
import { canonicalElement, CanonicalDocument, type CanonicalFragment } from './canonical-xml';
import { FragmentCache, parseElementFragment } from './import-element';
import { requiredChild } from './xrml-dom';
import type { RsaPublicKey } from './xrml-public-key';
import { formatXrmlTime } from './xrml-time';
import { guidValue, httpUrlValue, nonEmptyXmlValue, writeObject, writePublicKey, writeSecurityLevel, writeTimeRange } from './xrml-writer';

export const RAC_DESCRIPTOR_TYPE = 'Group-Identity-Credential';
export const CERTIFICATION_DP_NAME = 'Microsoft Identity Certification Server';
/** [Win] the ID of the RAC's Activation distribution points (PROTOCOL.md §4.6 RAC). */
export const RAC_ACTIVATION_DP_GUID = '{8ba9ea80-99e4-4a2b-9764-4cd84f77c3a0}';
export const RAC_LEVELS = {
  credentialType: 'Group-Identity-Credential-Type',
  identityType: 'Group-Identity-Type',
  policy: 'Group-Identity-Policy',
  creationTime: 'Credential-Creation-Time',
} as const;
export const RAC_CREDENTIAL_TYPES = ['Persistent', 'Temporary'] as const;
export type RacCredentialType = (typeof RAC_CREDENTIAL_TYPES)[number];

export interface RacMachine {
  /** The SPC principal's OBJECT (readSpc().principalXml), copied verbatim through the DOM. */
  objectXml: string;
  /** The RAC private key sealed to the SPC machine key (packages/keys). */
  enablingBits: Buffer;
  /** The SPC's Platform, Manufacturer and Repository SECURITYLEVELs, copied. */
  securityLevels: { platform: string; manufacturer: string; repository: string };
}

export interface RacFields {
  descriptorGuid: string;
  issuedTime: Date;
  validFrom: Date;
  validUntil: Date;
  /** The SLC principal: issuerFromCertificate(slcInfo). */
  issuer: XrmlIssuerFields;
  /** Intranet certification URL (`Activation` DP). */
  activationUrl: string;
  /** `Extranet-Activation` DP, when an external certification URL is configured. */
  extranetActivationUrl?: string;
  identity: GroupIdentity;
  /** The user's RAC key. */
  publicKey: RsaPublicKey;
  credentialType: RacCredentialType;
  credentialCreationTime?: Date;
  /** Omitted: no FEDERATIONPRINCIPALS (Precertify's "user public key certificate"). */
  machine?: RacMachine;
}

/**
 * Builds an unsigned rights account certificate, PROTOCOL.md §4.6 "RAC": ISSUEDTIME, VALIDITYTIME,
 * DESCRIPTOR, ISSUER, DISTRIBUTIONPOINT Activation [and Extranet-Activation], ISSUEDPRINCIPALS,
 * [FEDERATIONPRINCIPALS]. Sign the result with the SLC key. Written in canonical form
 * (canonical-xml.ts), so signXrml digests it without parsing it again.
 */
export function buildRac(fields: RacFields): string {
  if (!(RAC_CREDENTIAL_TYPES as readonly string[]).includes(fields.credentialType)) {
    throw new RmsError('InvalidInput', 'credentialType must be Persistent or Temporary');
  }
  // Checked before anything is built so a bad copy fails fast, with a message naming the field.
  const machineObject = fields.machine ? machineObjectFragment(fields.machine.objectXml) : undefined;

  const doc = new CanonicalDocument();
  const body = doc.ele('XrML', { version: '1.2' }).ele('BODY', { type: 'LICENSE', version: '3.0' });
  body.ele('ISSUEDTIME').txt(formatXrmlTime(fields.issuedTime));
  writeTimeRange(body, 'VALIDITYTIME', fields.validFrom, fields.validUntil);
  writeObject(body.ele('DESCRIPTOR'), { objectType: RAC_DESCRIPTOR_TYPE, idType: 'MS-GUID', id: guidValue(fields.descriptorGuid, 'descriptorGuid') });
  writeIssuer(body, fields.issuer);
  writeDistributionPoint(body, { type: 'Activation', guid: RAC_ACTIVATION_DP_GUID, name: CERTIFICATION_DP_NAME, url: httpUrlValue(fields.activationUrl, 'activationUrl') });
  if (fields.extranetActivationUrl !== undefined) {
    writeDistributionPoint(body, {
      type: 'Extranet-Activation',
      guid: RAC_ACTIVATION_DP_GUID,
      name: CERTIFICATION_DP_NAME,
      url: httpUrlValue(fields.extranetActivationUrl, 'extranetActivationUrl'),
    });
  }

  const principal = body.ele('ISSUEDPRINCIPALS').ele('PRINCIPAL', { 'internal-id': '1' });
  writeGroupIdentityObject(principal, fields.identity);
  writePublicKey(principal, fields.publicKey);
  writeSecurityLevel(principal, { name: RAC_LEVELS.credentialType, value: fields.credentialType });
  writeSecurityLevel(principal, { name: RAC_LEVELS.identityType, value: 'Group' });
  writeSecurityLevel(principal, { name: RAC_LEVELS.policy, value: 'Group-Identity-Credential' });
  if (fields.credentialCreationTime !== undefined) {
    writeSecurityLevel(principal, { name: RAC_LEVELS.creationTime, value: formatXrmlTime(fields.credentialCreationTime) });
  }

  if (fields.machine && machineObject) {
    const machine = fields.machine;
    // The SPC's OBJECT comes first, then what was sealed to that machine.
    const federation = body.ele('FEDERATIONPRINCIPALS').ele('PRINCIPAL').importCanonical(machineObject);
    writeEnablingBits(federation, machine.enablingBits, 'machine.enablingBits');
    const levels = machine.securityLevels;
    if (!levels) throw new RmsError('InvalidInput', 'machine.securityLevels is required');
    writeSecurityLevel(federation, { name: SPC_LEVELS.platform, value: nonEmptyXmlValue(levels.platform, 'machine platform') });
    writeSecurityLevel(federation, { name: SPC_LEVELS.manufacturer, value: nonEmptyXmlValue(levels.manufacturer, 'machine manufacturer') });
    writeSecurityLevel(federation, { name: SPC_LEVELS.repository, value: nonEmptyXmlValue(levels.repository, 'machine repository') });
  }
  return doc.end();
}

/** The SPC principal's OBJECT, checked and rendered canonically; kept per text like the UL's licensee. */
const machineObjects = new FragmentCache<CanonicalFragment>(512);

function machineObjectFragment(objectXml: string): CanonicalFragment {
  return machineObjects.get(objectXml, () => {
    const object = parseElementFragment(objectXml, 'OBJECT', 'machine.objectXml');
    requiredChild(object, 'ID');
    return canonicalElement(object);
  });
}
