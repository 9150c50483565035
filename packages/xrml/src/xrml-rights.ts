import { normalizeRight, RESERVED_RIGHTS, RmsError, type Grantee, type RightGrant, type TimeRange } from '@openrms/domain';
import { exactlyOne, onlyChildren, readTimeRange } from './read-document';
import { attrOf, childElements, optionalChild, requiredAttr, requiredChild, requiredText, textOf } from './xrml-dom';
import { nonEmptyXmlValue, trimmedXmlValue, writeIntervalTime, writeTimeRange, xmlValue, type XrmlSink } from './xrml-writer';

/**
 * Rights as the ERD, the rights policy template and the UL write them (PROTOCOL.md §4.6):
 * `RIGHTSGROUP name="Main-Rights"/RIGHTSLIST` holding one element per right, reserved names as their
 * own element (`<VIEW>`), others as `<RIGHT name="…">`, each with a CONDITIONLIST.
 */

export const MAIN_RIGHTS = 'Main-Rights';
const RESERVED = RESERVED_RIGHTS as readonly string[];
export const INTERNAL_ANYONE = 'Anyone';
export const INTERNAL_OWNER = 'Owner';

/** Appends the element for `right` (normalised with domain's normalizeRight) and returns it. */
export function writeRightElement(list: XrmlSink, right: string): XrmlSink {
  const name = normalizeRight(right);
  return RESERVED.includes(name) ? list.ele(name) : list.ele('RIGHT', { name });
}

/** The right an element of a RIGHTSLIST stands for; an unknown element name is InvalidInput. */
export function readRightName(el: Element): string {
  if (!!el.namespaceURI) throw new RmsError('InvalidInput', `unexpected <${el.nodeName}> in RIGHTSLIST`);
  if (el.localName === 'RIGHT') return normalizeRight(requiredAttr(el, 'name'));
  if (RESERVED.includes(el.localName)) return el.localName;
  throw new RmsError('InvalidInput', `unknown right element <${el.localName}> in RIGHTSLIST`);
}

/** `<TIME><RANGETIME>…</RANGETIME></TIME>` then `<TIME><INTERVALTIME days="n"/></TIME>`, each when set. */
export function writeTimeConditions(conditions: XrmlSink, range: TimeRange | undefined, intervalDays: number | undefined): void {
  if (range !== undefined) writeTimeRange(conditions.ele('TIME'), 'RANGETIME', range.from, range.until);
  if (intervalDays !== undefined) {
    if (!Number.isSafeInteger(intervalDays) || intervalDays <= 0) throw new RmsError('InvalidInput', 'intervalDays must be a positive integer');
    writeIntervalTime(conditions.ele('TIME'), { days: intervalDays });
  }
}

/**
 * Reads the TIME children of a right's CONDITIONLIST: at most one RANGETIME and at most one
 * INTERVALTIME (days only), in one TIME or two.
 */
export function readTimeConditions(conditions: Element): { range?: TimeRange; intervalDays?: number } {
  const out: { range?: TimeRange; intervalDays?: number } = {};
  for (const time of childElements(conditions, 'TIME')) {
    onlyChildren(time, ['RANGETIME', 'INTERVALTIME'], 'right condition');
    for (const cond of childElements(time)) {
      if (cond.localName === 'RANGETIME') {
        if (out.range) throw new RmsError('InvalidInput', 'a right has more than one RANGETIME');
        out.range = readTimeRange(cond);
      } else {
        if (out.intervalDays !== undefined) throw new RmsError('InvalidInput', 'a right has more than one INTERVALTIME');
        out.intervalDays = readIntervalDays(cond);
      }
    }
  }
  return out;
}

function readIntervalDays(el: Element): number {
  for (const unit of ['hours', 'minutes', 'seconds']) {
    const v = attrOf(el, unit);
    if (v !== undefined && v !== '0') throw new RmsError('InvalidInput', `INTERVALTIME ${unit} is not supported (days only)`);
  }
  const days = attrOf(el, 'days');
  if (days === undefined || !/^\d{1,9}$/.test(days) || Number(days) === 0) {
    throw new RmsError('InvalidInput', 'INTERVALTIME needs a positive whole number of days');
  }
  return Number(days);
}

/**
 * `ACCESS/PRINCIPAL/OBJECT`: an e-mail is `<ID type="Unspecified"/><NAME>email</NAME>`, anyone and
 * the owner are `<ID type="Internal">Anyone|Owner</ID>`.
 */
export function writeGrantee(conditions: XrmlSink, grantee: Grantee): void {
  const object = conditions.ele('ACCESS').ele('PRINCIPAL').ele('OBJECT');
  switch (grantee?.kind) {
    case 'email':
      object.ele('ID', { type: 'Unspecified' });
      object.ele('NAME').txt(trimmedXmlValue(grantee.email, 'grantee email'));
      return;
    case 'anyone':
      object.ele('ID', { type: 'Internal' }).txt(INTERNAL_ANYONE);
      return;
    case 'owner':
      object.ele('ID', { type: 'Internal' }).txt(INTERNAL_OWNER);
      return;
    default:
      throw new RmsError('InvalidInput', 'grantee kind must be email, anyone or owner');
  }
}

/** Reads `ACCESS/PRINCIPAL/OBJECT`; a `Windows` ID is accepted when it carries a NAME (the e-mail). */
export function readGrantee(access: Element): Grantee {
  const principal = exactlyOne(access, 'PRINCIPAL', 'right ACCESS');
  const object = requiredChild(principal, 'OBJECT');
  const idType = requiredAttr(requiredChild(object, 'ID'), 'type');
  const id = textOf(requiredChild(object, 'ID'));
  if (idType === 'Internal') {
    if (id === INTERNAL_ANYONE) return { kind: 'anyone' };
    if (id === INTERNAL_OWNER) return { kind: 'owner' };
    throw new RmsError('InvalidInput', `unknown Internal principal ${JSON.stringify(id.slice(0, 40))}`);
  }
  if (idType === 'Unspecified' || idType === 'Windows') return { kind: 'email', email: requiredText(object, 'NAME') };
  throw new RmsError('InvalidInput', `right principal ID type ${JSON.stringify(idType)} is not supported`);
}

/** `RIGHTSGROUP name="Main-Rights"/RIGHTSLIST` with one element per grant, in order. */
export function writeGrants(work: XrmlSink, grants: readonly RightGrant[]): void {
  if (!Array.isArray(grants)) throw new RmsError('InvalidInput', 'grants must be an array');
  const list = work.ele('RIGHTSGROUP', { name: MAIN_RIGHTS }).ele('RIGHTSLIST');
  for (const grant of grants) {
    const conditions = writeRightElement(list, grant.right).ele('CONDITIONLIST');
    writeGrantee(conditions, grant.grantee);
    writeTimeConditions(conditions, grant.range, grant.intervalDays);
  }
}

/** The RIGHTSLIST of `work` (exactly one RIGHTSGROUP, named Main-Rights). */
export function rightsListOf(work: Element): Element {
  const group = requiredChild(work, 'RIGHTSGROUP');
  if (attrOf(group, 'name') !== MAIN_RIGHTS) throw new RmsError('InvalidInput', `RIGHTSGROUP name must be ${MAIN_RIGHTS}`);
  onlyChildren(group, ['RIGHTSLIST'], 'RIGHTSGROUP');
  return requiredChild(group, 'RIGHTSLIST');
}

export function readGrants(work: Element): RightGrant[] {
  return childElements(rightsListOf(work)).map((el) => {
    const right = readRightName(el);
    onlyChildren(el, ['CONDITIONLIST'], `right ${right}`);
    const conditions = requiredChild(el, 'CONDITIONLIST');
    onlyChildren(conditions, ['ACCESS', 'TIME'], `right ${right}`);
    const grant: RightGrant = { right, grantee: readGrantee(exactlyOne(conditions, 'ACCESS', `right ${right}`)) };
    const time = readTimeConditions(conditions);
    if (time.range) grant.range = time.range;
    if (time.intervalDays !== undefined) grant.intervalDays = time.intervalDays;
    return grant;
  });
}

/** `PRECONDITIONLIST/TIME/RANGETIME`: the policy's own validity. */
export function writePolicyValidity(work: XrmlSink, validity: TimeRange | undefined): void {
  if (validity !== undefined) writeTimeRange(work.ele('PRECONDITIONLIST').ele('TIME'), 'RANGETIME', validity.from, validity.until);
}

export function readPolicyValidity(work: Element): TimeRange | undefined {
  const pre = optionalChild(work, 'PRECONDITIONLIST');
  if (!pre) return undefined;
  onlyChildren(pre, ['TIME'], 'PRECONDITIONLIST');
  const time = requiredChild(pre, 'TIME');
  onlyChildren(time, ['RANGETIME'], 'PRECONDITIONLIST TIME (only RANGETIME is supported)');
  return readTimeRange(requiredChild(time, 'RANGETIME'));
}

/** `<AUTHENTICATEDDATA id="APPSPECIFIC" name="…">value</AUTHENTICATEDDATA>` per entry, in key order. */
export function writeAppSpecific(body: XrmlSink, appSpecific: Record<string, string> | undefined): void {
  if (appSpecific === undefined) return;
  for (const [name, value] of Object.entries(appSpecific)) {
    body.ele('AUTHENTICATEDDATA', { id: 'APPSPECIFIC', name: nonEmptyXmlValue(name, 'APPSPECIFIC name') }).txt(xmlValue(value, `APPSPECIFIC ${name}`));
  }
}

/**
 * The APPSPECIFIC entries under BODY as a null-prototype record (names are untrusted), or
 * undefined when there are none. The value is the raw text, untrimmed.
 */
export function readAppSpecific(body: Element): Record<string, string> | undefined {
  const entries = childElements(body, 'AUTHENTICATEDDATA').filter((el) => attrOf(el, 'id') === 'APPSPECIFIC');
  if (entries.length === 0) return undefined;
  const out: Record<string, string> = Object.create(null);
  for (const el of entries) {
    const name = requiredAttr(el, 'name');
    if (name === '') throw new RmsError('InvalidInput', 'APPSPECIFIC with an empty name');
    if (Object.prototype.hasOwnProperty.call(out, name)) throw new RmsError('InvalidInput', `APPSPECIFIC ${name} repeated`);
    if (childElements(el).length > 0) throw new RmsError('InvalidInput', `APPSPECIFIC ${name} holds elements`);
    out[name] = el.textContent ?? '';
  }
  return out;
}
