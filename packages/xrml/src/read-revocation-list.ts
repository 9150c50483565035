import { RmsError, type TimeRange } from '@openrms/domain';
import { REVOCATION_CATEGORY, REVOCATION_LIST_DESCRIPTOR_TYPE, type RevocationEntry, type RevocationEntryType } from './build-revocation-list';
import type { XrmlDocument } from './parse-xrml';
import { readPrincipal, type XrmlPrincipalInfo } from './read-certificate';
import { documentBody, exactlyOne, guidText, onlyChildren, readDescriptorObject, readIssuedTime, readMsGuid, readTimeRange } from './read-document';
import { attrOf, childElements, requiredAttr, requiredChild, requiredText } from './xrml-dom';
import { publicKeyOf } from './xrml-public-key';

export interface RevocationListInfo {
  /** Read from a verifyXrmlSignature result; false means every value is an unverified claim. */
  verified: boolean;
  descriptorGuid: string;
  issuedTime: Date;
  /** VALIDITYTIME: UNTIL is when the issuer promised a newer list. */
  validity?: TimeRange;
  issuer: XrmlPrincipalInfo;
  entries: RevocationEntry[];
}

/**
 * Reads a revocation list (pass the result of verifyXrmlSignature with the list signer's key).
 * A REVOKE whose category does not go with its type, or of a type this reader does not know, is
 * refused: a reader that skipped an entry would let something revoked through.
 */
export function readRevocationList(doc: XrmlDocument): RevocationListInfo {
  const body = documentBody(doc, 'revocation list', ['LICENSE']);
  onlyChildren(body, ['ISSUEDTIME', 'VALIDITYTIME', 'DESCRIPTOR', 'ISSUER', 'REVOCATIONLIST'], 'revocation list');
  const descriptorGuid = readMsGuid(readDescriptorObject(body, REVOCATION_LIST_DESCRIPTOR_TYPE, 'revocation list'), 'revocation list DESCRIPTOR ID');
  const validityEl = childElements(body, 'VALIDITYTIME');
  if (validityEl.length > 1) throw new RmsError('InvalidInput', 'revocation list: more than one VALIDITYTIME');
  const info: RevocationListInfo = {
    verified: doc.verified,
    descriptorGuid,
    issuedTime: readIssuedTime(body),
    issuer: readPrincipal(requiredChild(body, 'ISSUER')),
    entries: childElements(exactlyOne(body, 'REVOCATIONLIST', 'revocation list'), 'REVOKE').map(readRevoke),
  };
  if (validityEl[0]) info.validity = readTimeRange(validityEl[0]);
  return info;
}

function readRevoke(el: Element): RevocationEntry {
  const type = requiredAttr(el, 'type') as RevocationEntryType;
  const category = attrOf(el, 'category');
  if (!Object.prototype.hasOwnProperty.call(REVOCATION_CATEGORY, type)) throw new RmsError('InvalidInput', `REVOKE type ${JSON.stringify(type)} is not one this reader knows`);
  if (category !== REVOCATION_CATEGORY[type]) throw new RmsError('InvalidInput', `REVOKE type ${type} must have category ${REVOCATION_CATEGORY[type]}`);
  if (type === 'principal-key') return { type, publicKey: publicKeyOf(el) };
  const object = requiredChild(el, 'OBJECT');
  const idEl = requiredChild(object, 'ID');
  const idType = requiredAttr(idEl, 'type');
  const raw = requiredText(object, 'ID');
  const id = idType === 'MS-GUID' ? guidText(raw, `REVOKE ${type} ID`) : raw;
  if (type === 'principal-id') {
    const objectType = attrOf(object, 'type');
    return { type, ...(objectType === undefined ? {} : { objectType }), idType, id };
  }
  return { type, idType, id };
}
