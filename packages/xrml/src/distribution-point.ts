import { RmsError, newBracedGuid } from '@openrms/domain';
import { guidText } from './read-document';
import { attrOf, childElements, optionalChild, optionalText, requiredChild, textOf } from './xrml-dom';
import { guidValue, nonEmptyXmlValue, writeObject, type XrmlSink } from './xrml-writer';

/**
 * `<DISTRIBUTIONPOINT><OBJECT type="…"><ID type="MS-GUID">{…}</ID><NAME>…</NAME><ADDRESS type="URL">…</ADDRESS></OBJECT></DISTRIBUTIONPOINT>`
 */
export interface DistributionPointInfo {
  type: string | undefined;
  /** Braced lower-case when the ID is an MS-GUID. */
  guid?: string;
  name?: string;
  address?: string;
}

/** `Referral-Info`: where a user without rights can ask for them (usually `mailto:` the owner). */
export interface ReferralInfo {
  name: string;
  /** An http(s) or mailto URL. */
  address: string;
  /** The DP's MS-GUID; a fresh one is generated when absent. Readers return it so a rebuild keeps it. */
  guid?: string;
}

export const REFERRAL_DP_TYPE = 'Referral-Info';

/** An http(s) distribution point (Activation, License-Acquisition-URL, Publishing-URL, …). */
export function writeDistributionPoint(body: XrmlSink, dp: { type: string; guid: string; name: string; url: string }): void {
  writeObject(body.ele('DISTRIBUTIONPOINT'), { objectType: dp.type, idType: 'MS-GUID', id: dp.guid, name: dp.name, url: dp.url });
}

export function writeReferral(body: XrmlSink, referral: ReferralInfo): void {
  const object = body.ele('DISTRIBUTIONPOINT').ele('OBJECT', { type: REFERRAL_DP_TYPE });
  object.ele('ID', { type: 'MS-GUID' }).txt(referral.guid === undefined ? newBracedGuid() : guidValue(referral.guid, 'referral guid'));
  object.ele('NAME').txt(nonEmptyXmlValue(referral.name, 'referral name'));
  object.ele('ADDRESS', { type: 'URL' }).txt(referralAddress(referral.address));
}

function referralAddress(value: string): string {
  nonEmptyXmlValue(value, 'referral address');
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new RmsError('InvalidInput', 'referral address is not a URL');
  }
  if (!['http:', 'https:', 'mailto:'].includes(u.protocol)) throw new RmsError('InvalidInput', 'referral address must be an http(s) or mailto URL');
  if (value !== value.trim()) throw new RmsError('InvalidInput', 'referral address must not start or end with whitespace');
  return value;
}

/** Every DISTRIBUTIONPOINT directly under BODY, in document order. */
export function readDistributionPoints(body: Element): DistributionPointInfo[] {
  return childElements(body, 'DISTRIBUTIONPOINT').map((dp) => {
    const object = requiredChild(dp, 'OBJECT');
    const info: DistributionPointInfo = { type: attrOf(object, 'type') };
    const id = optionalChild(object, 'ID');
    if (id && textOf(id) !== '') info.guid = attrOf(id, 'type') === 'MS-GUID' ? guidText(textOf(id), 'DISTRIBUTIONPOINT ID') : textOf(id);
    const name = optionalText(object, 'NAME');
    if (name !== undefined) info.name = name;
    const addresses = childElements(object, 'ADDRESS');
    if (addresses.length > 1) throw new RmsError('InvalidInput', `DISTRIBUTIONPOINT ${info.type ?? ''} has more than one ADDRESS`);
    if (addresses[0]) info.address = textOf(addresses[0]);
    return info;
  });
}

/** The one DP of `type`, if any; two of the same type are ambiguous and refused. */
export function singleDistributionPoint(dps: readonly DistributionPointInfo[], type: string): DistributionPointInfo | undefined {
  const found = dps.filter((d) => d.type === type);
  if (found.length > 1) throw new RmsError('InvalidInput', `more than one ${type} DISTRIBUTIONPOINT`);
  return found[0];
}

/** The URL of the one DP of `type`; `required` makes its absence InvalidInput. */
export function distributionPointUrl(dps: readonly DistributionPointInfo[], type: string, required: true): string;
export function distributionPointUrl(dps: readonly DistributionPointInfo[], type: string, required?: false): string | undefined;
export function distributionPointUrl(dps: readonly DistributionPointInfo[], type: string, required = false): string | undefined {
  const dp = singleDistributionPoint(dps, type);
  if (!dp) {
    if (required) throw new RmsError('InvalidInput', `document lacks the ${type} DISTRIBUTIONPOINT`);
    return undefined;
  }
  if (!dp.address) throw new RmsError('InvalidInput', `${type} DISTRIBUTIONPOINT has no ADDRESS`);
  return dp.address;
}

export function readReferral(dps: readonly DistributionPointInfo[]): ReferralInfo | undefined {
  const dp = singleDistributionPoint(dps, REFERRAL_DP_TYPE);
  if (!dp) return undefined;
  if (!dp.name || !dp.address) throw new RmsError('InvalidInput', 'Referral-Info DISTRIBUTIONPOINT needs a NAME and an ADDRESS');
  return { name: dp.name, address: dp.address, ...(dp.guid === undefined ? {} : { guid: dp.guid }) };
}
