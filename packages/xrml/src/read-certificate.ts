import { normalizeGuid, RmsError } from '@openrms/domain';
import { parseXrml, type XrmlDocument } from './parse-xrml';
import { attrOf, childElements, optionalChild, optionalPath, optionalText, requiredAttr, requiredChild, requiredPath, requiredText } from './xrml-dom';
import { publicKeyOf, type RsaPublicKey } from './xrml-public-key';
import { parseXrmlTime } from './xrml-time';
import { ISSUE_SCOPE_LEVEL } from './issue-scope';

export interface XrmlPrincipalInfo {
  objectType: string | undefined;
  idType: string;
  id: string;
  name?: string;
  /** `OBJECT/ADDRESS type="URL"`. */
  url?: string;
  publicKey: RsaPublicKey;
  /** SECURITYLEVEL name → value, in document order (a null-prototype record: names are untrusted). */
  securityLevels: Record<string, string>;
}

export interface RevocationAuthorityInfo {
  objectType: string | undefined;
  idType: string | undefined;
  id: string | undefined;
  name?: string;
  url?: string;
  publicKey: RsaPublicKey;
}

export interface CertificateInfo {
  /** The document exactly as received. */
  xml: string;
  /** True when read from a verifyXrmlSignature result. */
  verified: boolean;
  descriptorType: string | undefined;
  /** Braced lower-case when the ID type is MS-GUID, the raw ID text otherwise. */
  descriptorGuid: string;
  issuedTime: Date;
  validFrom?: Date;
  validUntil?: Date;
  issuer: XrmlPrincipalInfo;
  principal: XrmlPrincipalInfo;
  /** RANGETIME of the ISSUE right, when the certificate grants one. */
  issueRange?: { from: Date; until: Date };
  /** The `Issue-Scope` SECURITYLEVEL of the principal (see issue-scope.ts); undefined when absent. */
  issueScope?: string[];
  /** `BODY/CONDITIONLIST/REFRESH`: who may revoke this certificate, and how stale a list may be. */
  revocation?: { authorities: RevocationAuthorityInfo[]; intervalSeconds?: number };
}

/**
 * Reads the common certificate fields (SLC, RAC, CLC, CA certs). Pass the result of
 * verifyXrmlSignature: given a string or an unverified document it still works (for display,
 * e.g. `rmsctl slc show`), and says so in `verified: false`. Missing required elements throw
 * RmsError('InvalidInput').
 */
export function readCertificate(input: XrmlDocument | string): CertificateInfo {
  const doc = typeof input === 'string' ? parseXrml(input) : input;
  const body = doc.body;

  const descriptorObject = requiredPath(body, 'DESCRIPTOR/OBJECT');
  const descriptorIdEl = requiredChild(descriptorObject, 'ID');
  const descriptorId = requiredText(descriptorObject, 'ID');
  const descriptorGuid = attrOf(descriptorIdEl, 'type') === 'MS-GUID' ? guid(descriptorId, 'DESCRIPTOR ID') : descriptorId;

  const validity = optionalChild(body, 'VALIDITYTIME');
  const range = validity ? readRange(validity) : undefined;

  const principalEls = childElements(requiredChild(body, 'ISSUEDPRINCIPALS'), 'PRINCIPAL');
  const principalEl = principalEls[0];
  if (principalEls.length !== 1 || !principalEl) throw new RmsError('InvalidInput', 'ISSUEDPRINCIPALS must hold exactly one PRINCIPAL');
  const principal = readPrincipal(principalEl);

  const info: CertificateInfo = {
    xml: doc.xml,
    verified: doc.verified,
    descriptorType: attrOf(descriptorObject, 'type'),
    descriptorGuid,
    issuedTime: parseXrmlTime(requiredText(body, 'ISSUEDTIME')),
    issuer: readPrincipal(requiredChild(body, 'ISSUER')),
    principal,
  };
  if (range) {
    info.validFrom = range.from;
    info.validUntil = range.until;
  }
  const issueRange = readIssueRange(body);
  if (issueRange) info.issueRange = issueRange;
  const scope = principal.securityLevels[ISSUE_SCOPE_LEVEL];
  if (scope !== undefined) info.issueScope = scope.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const revocation = readRevocation(body);
  if (revocation) info.revocation = revocation;
  return info;
}

/** ISSUER and ISSUEDPRINCIPALS/PRINCIPAL share this shape: OBJECT, PUBLICKEY, SECURITYLEVEL*. */
export function readPrincipal(el: Element): XrmlPrincipalInfo {
  const object = requiredChild(el, 'OBJECT');
  const idEl = requiredChild(object, 'ID');
  const info: XrmlPrincipalInfo = {
    objectType: attrOf(object, 'type'),
    idType: requiredAttr(idEl, 'type'),
    id: requiredText(object, 'ID'),
    publicKey: publicKeyOf(el),
    securityLevels: readSecurityLevels(el),
  };
  const name = optionalText(object, 'NAME');
  if (name !== undefined) info.name = name;
  const url = readUrlAddress(object);
  if (url !== undefined) info.url = url;
  return info;
}

function readSecurityLevels(el: Element): Record<string, string> {
  const levels: Record<string, string> = Object.create(null);
  for (const level of childElements(el, 'SECURITYLEVEL')) {
    const name = requiredAttr(level, 'name');
    // A repeated name would let two readers disagree about the value; refuse it.
    if (Object.prototype.hasOwnProperty.call(levels, name)) throw new RmsError('InvalidInput', `SECURITYLEVEL ${name} repeated`);
    levels[name] = attrOf(level, 'value') ?? '';
  }
  return levels;
}

function readUrlAddress(object: Element): string | undefined {
  const urls = childElements(object, 'ADDRESS').filter((a) => attrOf(a, 'type') === 'URL');
  if (urls.length > 1) throw new RmsError('InvalidInput', 'OBJECT has more than one URL ADDRESS');
  const el = urls[0];
  return el ? (el.textContent ?? '').trim() : undefined;
}

function readRange(el: Element): { from: Date; until: Date } {
  const from = parseXrmlTime(requiredText(el, 'FROM'));
  const until = parseXrmlTime(requiredText(el, 'UNTIL'));
  if (!(from.getTime() < until.getTime())) throw new RmsError('InvalidInput', `${el.nodeName} FROM is not before UNTIL`);
  return { from, until };
}

/** WORK/RIGHTSGROUP/RIGHTSLIST/RIGHT[@name="ISSUE"]/CONDITIONLIST/TIME/RANGETIME */
function readIssueRange(body: Element): { from: Date; until: Date } | undefined {
  const list = optionalPath(body, 'WORK/RIGHTSGROUP/RIGHTSLIST');
  if (!list) return undefined;
  const issue = childElements(list, 'RIGHT').filter((r) => attrOf(r, 'name') === 'ISSUE');
  if (issue.length > 1) throw new RmsError('InvalidInput', 'more than one ISSUE right');
  const right = issue[0];
  if (!right) return undefined;
  const rangeEl = optionalPath(right, 'CONDITIONLIST/TIME/RANGETIME');
  return rangeEl ? readRange(rangeEl) : undefined;
}

function readRevocation(body: Element): CertificateInfo['revocation'] {
  const refresh = optionalPath(body, 'CONDITIONLIST/REFRESH');
  if (!refresh) return undefined;
  const authorities: RevocationAuthorityInfo[] = [];
  for (const dp of childElements(refresh, 'DISTRIBUTIONPOINT')) {
    const object = requiredChild(dp, 'OBJECT');
    if (attrOf(object, 'type') !== 'Revocation') continue;
    const idEl = optionalChild(object, 'ID');
    const authority: RevocationAuthorityInfo = {
      objectType: 'Revocation',
      idType: idEl ? attrOf(idEl, 'type') : undefined,
      id: optionalText(object, 'ID'),
      publicKey: publicKeyOf(dp),
    };
    const name = optionalText(object, 'NAME');
    if (name !== undefined) authority.name = name;
    const url = readUrlAddress(object);
    if (url !== undefined) authority.url = url;
    authorities.push(authority);
  }
  const result: NonNullable<CertificateInfo['revocation']> = { authorities };
  const interval = optionalChild(refresh, 'INTERVALTIME');
  if (interval) result.intervalSeconds = intervalSeconds(interval);
  return result;
}

function intervalSeconds(el: Element): number {
  const factors = { days: 86_400, hours: 3_600, minutes: 60, seconds: 1 } as const;
  let total = 0;
  for (const [unit, factor] of Object.entries(factors)) {
    const v = attrOf(el, unit);
    if (v === undefined) continue;
    if (!/^\d{1,9}$/.test(v)) throw new RmsError('InvalidInput', `INTERVALTIME ${unit} is not a number`);
    total += Number(v) * factor;
  }
  return total;
}

function guid(s: string, what: string): string {
  const g = normalizeGuid(s);
  if (!g) throw new RmsError('InvalidInput', `${what} is not a GUID`);
  return g;
}
