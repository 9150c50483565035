import { RmsError, type RightsPolicy } from '@openrms/domain';
import { OFFICIAL_TEMPLATE_BODY_TYPE, RIGHTS_DATA_BODY_TYPE } from './build-rights-data';
import { parseDescriptorName } from './descriptor-name';
import { parseXrml, type ParseXrmlOptions, type XrmlDocument } from './parse-xrml';
import { documentBody, onlyChildren, readDescriptorObject, readIssuedTime, readMsGuid } from './read-document';
import { readAppSpecific, readGrants, readPolicyValidity } from './xrml-rights';
import { attrOf, childElements, optionalText, requiredChild, requiredPath, requiredText } from './xrml-dom';

/** The policy plus the DESCRIPTOR NAME parts. */
export interface RightsData extends RightsPolicy {
  name?: string;
  description?: string;
  lcid?: number;
}

/**
 * Reads decrypted rights data (ERD). The input is authenticated by the PL's encryption, not by a
 * signature of its own, so this parses with the secure parser and reads; it does not verify an
 * official template's signature (at licensing time the server's own copy of the template wins).
 * Missing or unknown rights elements are InvalidInput; a DTD is MalformedRequest.
 */
export function readRightsData(input: string | XrmlDocument, opts: ParseXrmlOptions = {}): RightsData {
  // Rights data is unsigned by nature (the PL's encryption authenticates it).
  const doc = typeof input === 'string' ? parseXrml(input, opts) : input;
  const body = documentBody(doc, 'rights data', [RIGHTS_DATA_BODY_TYPE, OFFICIAL_TEMPLATE_BODY_TYPE], true);
  onlyChildren(body, ['ISSUEDTIME', 'DESCRIPTOR', 'ISSUER', 'DISTRIBUTIONPOINT', 'WORK', 'AUTHENTICATEDDATA'], 'rights data');
  readIssuedTime(body);
  const descriptor = readDescriptorObject(body, undefined, 'rights data');
  const descriptorGuid = readMsGuid(descriptor, 'rights data DESCRIPTOR ID');

  const work = requiredChild(body, 'WORK');
  onlyChildren(work, ['OBJECT', 'METADATA', 'PRECONDITIONLIST', 'RIGHTSGROUP'], 'rights data WORK');
  const owner = requiredPath(work, 'METADATA/OWNER/OBJECT');
  const policy: RightsData = {
    contentId: readMsGuid(requiredChild(work, 'OBJECT'), 'rights data WORK OBJECT ID'),
    ownerEmail: requiredText(owner, 'NAME'),
    grants: readGrants(work),
  };
  if (doc.bodyType === OFFICIAL_TEMPLATE_BODY_TYPE) policy.templateGuid = descriptorGuid;
  const validity = readPolicyValidity(work);
  if (validity) policy.validity = validity;
  const appSpecific = readAppSpecific(body);
  if (appSpecific) policy.appSpecific = appSpecific;
  for (const ad of childElements(body, 'AUTHENTICATEDDATA')) {
    if (attrOf(ad, 'id') !== 'APPSPECIFIC') {
      throw new RmsError('InvalidInput', `rights data AUTHENTICATEDDATA id ${JSON.stringify(attrOf(ad, 'id') ?? null)} is not supported`);
    }
  }
  const nameText = optionalText(descriptor, 'NAME');
  if (nameText !== undefined) {
    const parsed = parseDescriptorName(nameText);
    policy.name = parsed.name;
    policy.lcid = parsed.lcid;
    if (parsed.description !== undefined) policy.description = parsed.description;
  }
  return policy;
}
