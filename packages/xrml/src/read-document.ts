import { normalizeGuid, RmsError, type TimeRange } from '@openrms/domain';
import type { XrmlDocument } from './parse-xrml';
import { attrOf, childElements, requiredChild, requiredPath, requiredText } from './xrml-dom';
import { parseXrmlTime } from './xrml-time';

/** Shared reader plumbing for the document-specific readers (readRac, readUseLicense, …). */

/**
 * Readers return data; they do not verify. Pass them the result of verifyXrmlSignature before
 * trusting anything read (every result says `verified`). A document with no signature at all is
 * refused unless it was parsed with `parseXrml(xml, { allowUnsigned: true })`, so unsigned input is
 * only ever read on purpose.
 */
export function documentBody(doc: XrmlDocument, what: string, bodyTypes: readonly string[], unsignedByNature = false): Element {
  if (!doc || typeof doc !== 'object' || !doc.body) throw new RmsError('InvalidInput', `${what}: expected a parsed XrmlDocument`);
  if (!unsignedByNature && !doc.verified && !doc.dsigSignature && !doc.nativeSignature && doc.allowUnsigned !== true) {
    throw new RmsError('InvalidInput', `${what}: document is unsigned (parse it with { allowUnsigned: true } to read it anyway)`);
  }
  if (doc.bodyType === undefined || !bodyTypes.includes(doc.bodyType)) {
    throw new RmsError('InvalidInput', `${what}: BODY type ${JSON.stringify(doc.bodyType ?? null)} is not ${bodyTypes.map((t) => JSON.stringify(t)).join(' or ')}`);
  }
  return doc.body;
}

/**
 * Fails closed on BODY (or WORK) children a reader does not understand: a condition or policy we
 * cannot see would otherwise be dropped silently, and a rebuilt document would lose it.
 */
export function onlyChildren(parent: Element, allowed: readonly string[], what: string): void {
  for (const child of childElements(parent)) {
    if (!!child.namespaceURI || !allowed.includes(child.localName)) {
      throw new RmsError('InvalidInput', `${what}: unexpected <${child.nodeName}> in <${parent.nodeName}>`);
    }
  }
}

/** `DESCRIPTOR/OBJECT`, checking its type (undefined: the OBJECT must have no type). */
export function readDescriptorObject(body: Element, expectedType: string | undefined, what: string): Element {
  const object = requiredPath(body, 'DESCRIPTOR/OBJECT');
  const type = attrOf(object, 'type');
  if (type !== expectedType) {
    throw new RmsError('InvalidInput', `${what}: DESCRIPTOR OBJECT type ${JSON.stringify(type ?? null)} is not ${JSON.stringify(expectedType ?? null)}`);
  }
  return object;
}

/** `ID type="MS-GUID"` under `object`, braced lower-case. */
export function readMsGuid(object: Element, what: string): string {
  const id = requiredChild(object, 'ID');
  if (attrOf(id, 'type') !== 'MS-GUID') throw new RmsError('InvalidInput', `${what}: ID type must be MS-GUID`);
  return guidText(requiredText(object, 'ID'), what);
}

export function guidText(s: string, what: string): string {
  const g = normalizeGuid(s);
  if (!g) throw new RmsError('InvalidInput', `${what} is not a GUID`);
  return g;
}

export function readIssuedTime(body: Element): Date {
  return parseXrmlTime(requiredText(body, 'ISSUEDTIME'));
}

/** VALIDITYTIME / RANGETIME content: FROM before UNTIL. */
export function readTimeRange(el: Element): TimeRange {
  const from = parseXrmlTime(requiredText(el, 'FROM'));
  const until = parseXrmlTime(requiredText(el, 'UNTIL'));
  if (!(from.getTime() < until.getTime())) throw new RmsError('InvalidInput', `${el.nodeName} FROM is not before UNTIL`);
  return { from, until };
}

/** Exactly one element of `name` under `parent`, by direct children (two is ambiguity, refused). */
export function exactlyOne(parent: Element, name: string, what: string): Element {
  const found = childElements(parent, name);
  const el = found[0];
  if (found.length !== 1 || !el) throw new RmsError('InvalidInput', `${what}: <${parent.nodeName}> must hold exactly one <${name}>, found ${found.length}`);
  return el;
}
