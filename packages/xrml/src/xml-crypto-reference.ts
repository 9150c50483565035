/**
 * TEST-ONLY reference implementations: the xml-crypto signer and the xmlbuilder2 use-licence and
 * RAC builders as they were before the lean signer and the canonical writers replaced them. The
 * differential tests (sign-xrml.test.ts, canonical-builders.test.ts) compare the current code with
 * these byte for byte. Not exported from index.ts; nothing but tests imports this file.
 */
import { SignedXml, createOptionalCallbackFunction, type SignatureAlgorithm } from 'xml-crypto';
import type { BinaryLike, KeyLike } from 'node:crypto';
import { RmsError } from '@openrms/domain';
import { create } from 'xmlbuilder2';
import { writeContentWork } from './build-publishing-license';
import { CERTIFICATION_DP_NAME, RAC_ACTIVATION_DP_GUID, RAC_CREDENTIAL_TYPES, RAC_DESCRIPTOR_TYPE, RAC_LEVELS, type RacFields } from './build-rac';
import { writeIssuer } from './build-slc';
import { SPC_LEVELS } from './build-spc';
import { USE_LICENSE_DESCRIPTOR_TYPE, USE_LICENSE_PURPOSE, type UseLicenseFields } from './build-use-license';
import { writeDistributionPoint, writeReferral } from './distribution-point';
import { writeEnablingBits } from './enabling-bits';
import { readGroupIdentity, writeGroupIdentityObject } from './group-identity';
import { finishWithImports, importElement, parseElementFragment } from './import-element';
import { parseXrml } from './parse-xrml';
import { stripBom } from './parse-secure-xml';
import { readPrincipal } from './read-certificate';
import type { Signer, SignXrmlOptions } from './sign-xrml';
import { verifyXrmlSignature } from './verify-xrml-signature';
import { ENVELOPED_SIGNATURE, EXC_C14N, RSA_SHA256, SHA256_DIGEST } from './xrml-constants';
import { requiredChild, requiredPath } from './xrml-dom';
import { writeRightElement, writeTimeConditions, MAIN_RIGHTS } from './xrml-rights';
import { formatXrmlTime } from './xrml-time';
import { guidValue, httpUrlValue, nonEmptyXmlValue, trimmedXmlValue, writeObject, writePublicKey, writeSecurityLevel, writeTimeRange } from './xrml-writer';

/** xml-crypto insists on a non-null privateKey before it calls the algorithm; ours ignores it. */
const EXTERNAL_SIGNER_PLACEHOLDER = 'external-signer';

export function referenceSignXrml(unsignedXml: string, signer: Signer, opts: SignXrmlOptions = {}): string {
  const parsed = parseXrml(unsignedXml);
  if (parsed.dsigSignature || parsed.nativeSignature) {
    throw new RmsError('InvalidInput', 'document is already signed');
  }
  const sig = new SignedXml({
    privateKey: EXTERNAL_SIGNER_PLACEHOLDER,
    signatureAlgorithm: RSA_SHA256,
    canonicalizationAlgorithm: EXC_C14N,
    getKeyInfoContent: () => null,
  });
  sig.SignatureAlgorithms = { [RSA_SHA256]: externalSignerAlgorithm(signer) };
  sig.addReference({
    xpath: '/*',
    transforms: [ENVELOPED_SIGNATURE, EXC_C14N],
    digestAlgorithm: SHA256_DIGEST,
    isEmptyUri: true,
  });
  try {
    sig.computeSignature(stripBom(unsignedXml), { prefix: 'ds', location: { reference: '/*', action: 'append' } });
  } catch (cause) {
    if (cause instanceof RmsError) throw cause;
    throw new RmsError('UnspecifiedError', 'XML signing failed', { cause });
  }
  const signed = sig.getSignedXml();
  if (opts.verifyWith) verifyXrmlSignature(signed, opts.verifyWith);
  return signed;
}

function externalSignerAlgorithm(signer: Signer): new () => SignatureAlgorithm {
  return class ExternalSignerRsaSha256 implements SignatureAlgorithm {
    getSignature = createOptionalCallbackFunction((signedInfo: BinaryLike, _ignoredPrivateKey: KeyLike): string => {
      const data = typeof signedInfo === 'string' ? Buffer.from(signedInfo, 'utf8') : Buffer.from(signedInfo as Uint8Array);
      const value = signer.sign(data);
      if (!Buffer.isBuffer(value) || value.length === 0) throw new RmsError('UnspecifiedError', 'signer returned no signature');
      return value.toString('base64');
    });
    verifySignature = createOptionalCallbackFunction((): boolean => {
      throw new Error('the signing algorithm does not verify');
    });
    getAlgorithmName = () => RSA_SHA256;
  };
}

export function referenceBuildUseLicense(fields: UseLicenseFields): string {
  const licensee = parseElementFragment(fields.licenseePrincipalXml, 'PRINCIPAL', 'licenseePrincipalXml');
  // A UL is for a RAC principal: a Group-Identity OBJECT and a usable key, nothing less.
  readGroupIdentity(requiredChild(licensee, 'OBJECT'));
  readPrincipal(licensee);
  if (!Array.isArray(fields.rights) || fields.rights.length === 0) throw new RmsError('InvalidInput', 'a use licence needs at least one right');

  const doc = create();
  const body = doc.ele('XrML', { version: '1.2', purpose: USE_LICENSE_PURPOSE }).ele('BODY', { type: 'LICENSE', version: '3.0' });
  body.ele('ISSUEDTIME').txt(formatXrmlTime(fields.issuedTime));
  writeTimeRange(body, 'VALIDITYTIME', fields.validFrom, fields.validUntil);
  writeObject(body.ele('DESCRIPTOR'), {
    objectType: USE_LICENSE_DESCRIPTOR_TYPE,
    idType: 'MS-GUID',
    id: guidValue(fields.descriptorGuid, 'descriptorGuid'),
  });
  writeIssuer(body, fields.issuer);
  body.ele('ISSUEDPRINCIPALS');
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

  return finishWithImports(doc.end({ headless: true, prettyPrint: false }), (d) => {
    importElement(d, requiredChild(d.body, 'ISSUEDPRINCIPALS'), licensee);
  });
}

export function referenceBuildRac(fields: RacFields): string {
  if (!(RAC_CREDENTIAL_TYPES as readonly string[]).includes(fields.credentialType)) {
    throw new RmsError('InvalidInput', 'credentialType must be Persistent or Temporary');
  }
  // Parsed before anything is built so a bad copy fails fast, with a message naming the field.
  const machineObject = fields.machine ? parseElementFragment(fields.machine.objectXml, 'OBJECT', 'machine.objectXml') : undefined;
  if (machineObject) requiredChild(machineObject, 'ID');

  const doc = create();
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

  if (!fields.machine || !machineObject) return doc.end({ headless: true, prettyPrint: false });

  const machine = fields.machine;
  const federation = body.ele('FEDERATIONPRINCIPALS').ele('PRINCIPAL');
  writeEnablingBits(federation, machine.enablingBits, 'machine.enablingBits');
  const levels = machine.securityLevels;
  if (!levels) throw new RmsError('InvalidInput', 'machine.securityLevels is required');
  writeSecurityLevel(federation, { name: SPC_LEVELS.platform, value: nonEmptyXmlValue(levels.platform, 'machine platform') });
  writeSecurityLevel(federation, { name: SPC_LEVELS.manufacturer, value: nonEmptyXmlValue(levels.manufacturer, 'machine manufacturer') });
  writeSecurityLevel(federation, { name: SPC_LEVELS.repository, value: nonEmptyXmlValue(levels.repository, 'machine repository') });

  return finishWithImports(doc.end({ headless: true, prettyPrint: false }), (d) => {
    const target = requiredPath(d.body, 'FEDERATIONPRINCIPALS/PRINCIPAL');
    importElement(d, target, machineObject, target.firstChild);
  });
}
