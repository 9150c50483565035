import { RmsError } from '@openrms/domain';
import { MACHINE_OBJECT_TYPE, SPC_DESCRIPTOR_TYPE, SPC_LEVELS } from './build-spc';
import { serializeElement } from './import-element';
import type { XrmlDocument } from './parse-xrml';
import { readPrincipal, type XrmlPrincipalInfo } from './read-certificate';
import { documentBody, exactlyOne, onlyChildren, readDescriptorObject, readIssuedTime, readMsGuid } from './read-document';
import { attrOf, requiredChild, requiredText } from './xrml-dom';
import { strictBase64, type RsaPublicKey } from './xrml-public-key';

export interface SpcInfo {
  /** Read from a verifyXrmlSignature result; false means every value is an unverified claim. */
  verified: boolean;
  descriptorGuid: string;
  issuedTime: Date;
  machineGuid: string;
  publicKey: RsaPublicKey;
  platform: string;
  manufacturer: string;
  repositoryVersion: string;
  hardwareDigest: Buffer;
  /** The principal's OBJECT element exactly as serialised, to copy into a RAC (buildRac machine.objectXml). */
  principalXml: string;
  issuer: XrmlPrincipalInfo;
  issuerPublicKey: RsaPublicKey;
}

/** Reads an SPC the caller verified (the SPC chain). Missing or wrong elements are InvalidInput. */
export function readSpc(doc: XrmlDocument): SpcInfo {
  const body = documentBody(doc, 'SPC', ['LICENSE']);
  onlyChildren(body, ['ISSUEDTIME', 'VALIDITYTIME', 'DESCRIPTOR', 'ISSUER', 'DISTRIBUTIONPOINT', 'ISSUEDPRINCIPALS'], 'SPC');
  const descriptorGuid = readMsGuid(readDescriptorObject(body, SPC_DESCRIPTOR_TYPE, 'SPC'), 'SPC DESCRIPTOR ID');
  const principalEl = exactlyOne(requiredChild(body, 'ISSUEDPRINCIPALS'), 'PRINCIPAL', 'SPC');
  const object = requiredChild(principalEl, 'OBJECT');
  if (attrOf(object, 'type') !== MACHINE_OBJECT_TYPE) throw new RmsError('InvalidInput', `SPC principal OBJECT type is not ${MACHINE_OBJECT_TYPE}`);
  const principal = readPrincipal(principalEl);
  const issuer = readPrincipal(requiredChild(body, 'ISSUER'));
  const level = (name: string): string => {
    const v = principal.securityLevels[name];
    if (v === undefined || v === '') throw new RmsError('InvalidInput', `SPC principal lacks the ${name} SECURITYLEVEL`);
    return v;
  };
  return {
    verified: doc.verified,
    descriptorGuid,
    issuedTime: readIssuedTime(body),
    machineGuid: readMsGuid(object, 'SPC machine ID'),
    publicKey: principal.publicKey,
    platform: level(SPC_LEVELS.platform),
    manufacturer: level(SPC_LEVELS.manufacturer),
    repositoryVersion: level(SPC_LEVELS.repository),
    hardwareDigest: readHardwareDigest(principalEl),
    principalXml: serializeElement(object),
    issuer,
    issuerPublicKey: issuer.publicKey,
  };
}

function readHardwareDigest(principal: Element): Buffer {
  const digest = requiredChild(principal, 'DIGEST');
  const algorithm = requiredText(digest, 'ALGORITHM');
  const bytes = { SHA1: 20, 'SHA-1': 20, SHA256: 32, 'SHA-256': 32 }[algorithm];
  if (bytes === undefined) throw new RmsError('InvalidInput', `SPC DIGEST ALGORITHM ${JSON.stringify(algorithm)} is not SHA-1 or SHA-256`);
  const value = requiredChild(digest, 'VALUE');
  if (attrOf(value, 'encoding') !== 'base64') throw new RmsError('InvalidInput', 'SPC DIGEST VALUE must be base64');
  const raw = strictBase64(requiredText(digest, 'VALUE'), 'SPC DIGEST VALUE');
  if (raw.length !== bytes) throw new RmsError('InvalidInput', `SPC DIGEST VALUE is ${raw.length} bytes, expected ${bytes} for ${algorithm}`);
  return raw;
}
