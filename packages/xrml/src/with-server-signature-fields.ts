import { RmsError } from '@openrms/domain';
import { buildPublishingLicense } from './build-publishing-license';
import type { XrmlIssuerFields } from './build-slc';
import { parseXrml, type ParseXrmlOptions } from './parse-xrml';
import { readPublishingLicense } from './read-publishing-license';
import { optional } from './xrml-writer';

export interface ServerSignatureFields {
  issuedTime: Date;
  /** The server's SLC principal: issuerFromCertificate(slcInfo). */
  issuer: XrmlIssuerFields;
  licensingUrl: string;
  extranetLicensingUrl?: string;
  /** Replacement ENABLINGBITS (the content key resealed by the server); the client's are kept otherwise. */
  enablingBits?: Buffer;
}

/**
 * Online publishing (AcquireIssuanceLicense, PROTOCOL.md §5.6): turns a client's PL into the one the
 * server signs. ISSUEDTIME is replaced, ISSUER becomes the SLC principal, the licensing distribution
 * points are rewritten with fresh GUIDs; the Referral-Info DP (with its GUID), the server principal,
 * WORK and the encrypted rights data are kept; any signature is dropped. Implemented as parse, read,
 * rebuild: everything the rebuilt PL says has passed the reader's checks, and a PL holding anything
 * the reader does not understand is refused rather than silently trimmed. Returns unsigned XML.
 */
export function withServerSignatureFields(unsignedPlXml: string, fields: ServerSignatureFields, parseOpts: ParseXrmlOptions = {}): string {
  const pl = readPublishingLicense(parseXrml(unsignedPlXml, { ...parseOpts, allowUnsigned: true }));
  const { version, sku } = pl.server;
  if (version === undefined || sku === undefined) throw new RmsError('InvalidInput', 'PL server principal lacks Server-Version or Server-SKU');
  return buildPublishingLicense({
    issuedTime: fields.issuedTime,
    ...optional('validity', pl.validity),
    descriptorGuid: pl.descriptorGuid,
    ...optional('descriptor', pl.descriptor),
    issuer: fields.issuer,
    licensingUrl: fields.licensingUrl,
    ...optional('extranetLicensingUrl', fields.extranetLicensingUrl),
    server: {
      serverGuid: pl.server.serverGuid,
      publicKey: pl.server.publicKey,
      version,
      sku,
      ...optional('name', pl.server.name),
      ...optional('url', pl.server.url),
    },
    enablingBits: fields.enablingBits ?? pl.enablingBits,
    ...optional('referral', pl.referral),
    contentId: pl.contentId,
    owner: pl.owner,
    encryptedRightsData: pl.encryptedRightsData,
  });
}
