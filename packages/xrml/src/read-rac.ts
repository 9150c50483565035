import { RmsError } from '@openrms/domain';
import { RAC_CREDENTIAL_TYPES, RAC_DESCRIPTOR_TYPE, RAC_LEVELS, type RacCredentialType } from './build-rac';
import { SPC_LEVELS } from './build-spc';
import { distributionPointUrl, readDistributionPoints } from './distribution-point';
import { readEnablingBits } from './enabling-bits';
import { readGroupIdentity, type GroupIdentity } from './group-identity';
import { serializeElement } from './import-element';
import type { XrmlDocument } from './parse-xrml';
import { readPrincipal, type XrmlPrincipalInfo } from './read-certificate';
import {
  documentBody,
  exactlyOne,
  onlyChildren,
  readDescriptorObject,
  readIssuedTime,
  readMsGuid,
  readTimeRange,
} from './read-document';
import { attrOf, childElements, optionalChild, requiredAttr, requiredChild } from './xrml-dom';
import type { RsaPublicKey } from './xrml-public-key';
import { parseXrmlTime } from './xrml-time';

export interface RacInfo {
  /** Read from a verifyXrmlSignature result; false means every value is an unverified claim. */
  verified: boolean;
  descriptorGuid: string;
  issuedTime: Date;
  validFrom: Date;
  validUntil: Date;
  issuer: XrmlPrincipalInfo;
  issuerPublicKey: RsaPublicKey;
  activationUrl?: string;
  extranetActivationUrl?: string;
  identity: GroupIdentity;
  publicKey: RsaPublicKey;
  credentialType: RacCredentialType;
  credentialCreationTime?: Date;
  /** The ISSUEDPRINCIPALS PRINCIPAL exactly as serialised: copy it into a UL (licenseePrincipalXml). */
  principalXml: string;
  /** FEDERATIONPRINCIPALS ENABLINGBITS (the RAC private key sealed to the machine); absent for a precertify RAC. */
  enablingBits?: Buffer;
  /** The FEDERATIONPRINCIPALS machine OBJECT and its SPC levels; absent for a precertify RAC. */
  machine?: { objectXml: string; securityLevels: { platform: string; manufacturer: string; repository: string } };
}

/** Reads a RAC the caller verified with the issuer's SLC key. Missing or wrong elements are InvalidInput. */
export function readRac(doc: XrmlDocument): RacInfo {
  const body = documentBody(doc, 'RAC', ['LICENSE']);
  onlyChildren(body, ['ISSUEDTIME', 'VALIDITYTIME', 'DESCRIPTOR', 'ISSUER', 'DISTRIBUTIONPOINT', 'ISSUEDPRINCIPALS', 'FEDERATIONPRINCIPALS'], 'RAC');
  const descriptorGuid = readMsGuid(readDescriptorObject(body, RAC_DESCRIPTOR_TYPE, 'RAC'), 'RAC DESCRIPTOR ID');
  const validity = readTimeRange(requiredChild(body, 'VALIDITYTIME'));
  const issuer = readPrincipal(requiredChild(body, 'ISSUER'));
  const dps = readDistributionPoints(body);

  const principalEl = exactlyOne(requiredChild(body, 'ISSUEDPRINCIPALS'), 'PRINCIPAL', 'RAC');
  if (attrOf(principalEl, 'internal-id') !== '1') throw new RmsError('InvalidInput', 'RAC principal must have internal-id="1"');
  const identity = readGroupIdentity(requiredChild(principalEl, 'OBJECT'));
  const principal = readPrincipal(principalEl);
  const levels = principal.securityLevels;
  const credentialType = levels[RAC_LEVELS.credentialType];
  if (credentialType === undefined || !(RAC_CREDENTIAL_TYPES as readonly string[]).includes(credentialType)) {
    throw new RmsError('InvalidInput', `RAC ${RAC_LEVELS.credentialType} must be Persistent or Temporary`);
  }
  if (levels[RAC_LEVELS.identityType] !== 'Group') throw new RmsError('InvalidInput', `RAC ${RAC_LEVELS.identityType} must be Group`);
  if (levels[RAC_LEVELS.policy] !== 'Group-Identity-Credential') {
    throw new RmsError('InvalidInput', `RAC ${RAC_LEVELS.policy} must be Group-Identity-Credential`);
  }

  const info: RacInfo = {
    verified: doc.verified,
    descriptorGuid,
    issuedTime: readIssuedTime(body),
    validFrom: validity.from,
    validUntil: validity.until,
    issuer,
    issuerPublicKey: issuer.publicKey,
    identity,
    publicKey: principal.publicKey,
    credentialType: credentialType as RacCredentialType,
    principalXml: serializeElement(principalEl),
  };
  const created = levels[RAC_LEVELS.creationTime];
  if (created !== undefined) info.credentialCreationTime = parseXrmlTime(created);
  const activationUrl = distributionPointUrl(dps, 'Activation');
  if (activationUrl !== undefined) info.activationUrl = activationUrl;
  const extranet = distributionPointUrl(dps, 'Extranet-Activation');
  if (extranet !== undefined) info.extranetActivationUrl = extranet;

  const federation = optionalChild(body, 'FEDERATIONPRINCIPALS');
  if (federation) {
    const fp = exactlyOne(federation, 'PRINCIPAL', 'RAC FEDERATIONPRINCIPALS');
    onlyChildren(fp, ['OBJECT', 'ENABLINGBITS', 'SECURITYLEVEL'], 'RAC FEDERATIONPRINCIPALS');
    const machineLevels: Record<string, string> = Object.create(null);
    for (const level of childElements(fp, 'SECURITYLEVEL')) {
      const name = requiredAttr(level, 'name');
      if (Object.prototype.hasOwnProperty.call(machineLevels, name)) throw new RmsError('InvalidInput', `SECURITYLEVEL ${name} repeated`);
      machineLevels[name] = attrOf(level, 'value') ?? '';
    }
    const level = (name: string): string => {
      const v = machineLevels[name];
      if (v === undefined || v === '') throw new RmsError('InvalidInput', `RAC FEDERATIONPRINCIPALS lacks the ${name} SECURITYLEVEL`);
      return v;
    };
    info.enablingBits = readEnablingBits(fp);
    info.machine = {
      objectXml: serializeElement(requiredChild(fp, 'OBJECT')),
      securityLevels: { platform: level(SPC_LEVELS.platform), manufacturer: level(SPC_LEVELS.manufacturer), repository: level(SPC_LEVELS.repository) },
    };
  }
  return info;
}
