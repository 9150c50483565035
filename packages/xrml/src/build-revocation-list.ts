import { RmsError } from '@openrms/domain';
import { create } from 'xmlbuilder2';
import type { XMLBuilder } from 'xmlbuilder2/lib/interfaces';
import { writeIssuer, type XrmlIssuerFields } from './build-slc';
import type { RsaPublicKey } from './xrml-public-key';
import { formatXrmlTime } from './xrml-time';
import { guidValue, nonEmptyXmlValue, writeObject, writePublicKey, writeTimeRange } from './xrml-writer';

/**
 * One `REVOKE` of a revocation list (XrML 1.2 §3.17, PROTOCOL.md §6.6): what is revoked is named
 * by a licence or certificate ID, a principal's ID or key, or a content ID. The category follows
 * from the type: `license` for license-id, `principal` for principal-id/-key, `content` for
 * content-id.
 */
export type RevocationEntry =
  /** A certificate or licence (RAC, CLC, SLC, …) by its DESCRIPTOR ID. */
  | { type: 'license-id'; idType: string; id: string }
  /** A principal (a server, by its MS-GUID) by its OBJECT ID. */
  | { type: 'principal-id'; objectType?: string; idType: string; id: string }
  /** Every document whose principal holds this key (a RAC's or CLC's key, an SLC's server key). */
  | { type: 'principal-key'; publicKey: RsaPublicKey }
  /** All licences for one piece of content, by the PL's WORK OBJECT ID. */
  | { type: 'content-id'; idType: string; id: string };

export type RevocationEntryType = RevocationEntry['type'];

export const REVOCATION_CATEGORY: Readonly<Record<RevocationEntryType, string>> = {
  'license-id': 'license',
  'principal-id': 'principal',
  'principal-key': 'principal',
  'content-id': 'content',
};

export const REVOCATION_LIST_DESCRIPTOR_TYPE = 'Revocation-List';

export interface RevocationListFields {
  /** A fresh GUID for every list issued (each list is a document of its own). */
  descriptorGuid: string;
  issuedTime: Date;
  /**
   * Written as VALIDITYTIME FROM issuedTime UNTIL this: the time by which the issuer promises a
   * newer list, so a relying party can tell a list that stopped being refreshed.
   */
  nextUpdate: Date;
  /** The list signer: for a cluster, its SLC principal (copied, like every server-issued document). */
  issuer: XrmlIssuerFields;
  entries: readonly RevocationEntry[];
}

/**
 * Builds an unsigned revocation list: `<XrML version="1.2"><BODY type="LICENSE" version="3.0">`
 * with ISSUEDTIME, VALIDITYTIME, DESCRIPTOR (`Revocation-List`), ISSUER, then REVOCATIONLIST with
 * one REVOKE per entry, in the order given. Sign the result with signXrml (the cluster key).
 */
export function buildRevocationList(fields: RevocationListFields): string {
  const doc = create();
  const body = doc.ele('XrML', { version: '1.2' }).ele('BODY', { type: 'LICENSE', version: '3.0' });
  body.ele('ISSUEDTIME').txt(formatXrmlTime(fields.issuedTime));
  writeTimeRange(body, 'VALIDITYTIME', fields.issuedTime, fields.nextUpdate);
  writeObject(body.ele('DESCRIPTOR'), { objectType: REVOCATION_LIST_DESCRIPTOR_TYPE, idType: 'MS-GUID', id: guidValue(fields.descriptorGuid, 'descriptorGuid') });
  writeIssuer(body, fields.issuer);
  const list = body.ele('REVOCATIONLIST');
  for (const entry of fields.entries) writeRevoke(list, entry);
  return doc.end({ headless: true, prettyPrint: false });
}

function writeRevoke(list: XMLBuilder, entry: RevocationEntry): void {
  const category = REVOCATION_CATEGORY[entry.type];
  if (category === undefined) throw new RmsError('InvalidInput', `unknown revocation type ${JSON.stringify((entry as { type?: unknown }).type)}`);
  const revoke = list.ele('REVOKE', { category, type: entry.type });
  switch (entry.type) {
    case 'principal-key':
      writePublicKey(revoke, entry.publicKey);
      return;
    case 'principal-id':
      writeObject(revoke, { ...(entry.objectType === undefined ? {} : { objectType: entry.objectType }), idType: nonEmptyXmlValue(entry.idType, 'ID type'), id: entry.id });
      return;
    default:
      writeObject(revoke, { idType: nonEmptyXmlValue(entry.idType, 'ID type'), id: entry.id });
  }
}
