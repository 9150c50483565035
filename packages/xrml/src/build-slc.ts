import { RmsError } from '@openrms/domain';
import { create } from 'xmlbuilder2';
import { formatIssueScope, ISSUE_SCOPE_LEVEL, type IssueScope } from './issue-scope';
import type { CertificateInfo } from './read-certificate';
import type { RsaPublicKey } from './xrml-public-key';
import { formatXrmlTime } from './xrml-time';
import {
  guidValue,
  httpUrlValue,
  nonEmptyXmlValue,
  writeIntervalTime,
  writeObject,
  writePublicKey,
  writeSecurityLevel,
  writeTimeRange,
  type XrmlSecurityLevel,
  type XrmlSink,
} from './xrml-writer';

/** The ISSUER block: for a server-issued document, a copy of the issuer certificate's principal. */
export interface XrmlIssuerFields {
  /** Default `MS-DRM-Server`. */
  objectType?: string;
  /** Default `MS-GUID`. */
  idType?: string;
  id: string;
  /** e.g. `OpenRMS Server Self Enrollment Service`, or the issuing cluster's name. */
  name?: string;
  url?: string;
  publicKey: RsaPublicKey;
  /** Written after PUBLICKEY, in this order. */
  securityLevels?: readonly XrmlSecurityLevel[];
  /** Written last, as the `Certificate Practice Statement` SECURITYLEVEL (SLC issuers SHOULD have one). */
  cpsUrl?: string;
}

export type SlcRevocation = (
  /** The SLC's issuer may revoke it (RMPR StandardRevocation). */
  | { kind: 'standard'; intervalDays?: number }
  /** The issuer and each listed third-party authority may revoke it (CustomRevocation). */
  | { kind: 'custom'; authorityKeys: readonly RsaPublicKey[]; intervalDays?: number }
) & {
  /**
   * Where the issuer publishes its signed revocation list: the ADDRESS of the issuer's
   * DISTRIBUTIONPOINT. SLCs issued before lists were published have none.
   */
  listUrl?: string;
};

export interface SlcFields {
  descriptorGuid: string;
  issuedTime: Date;
  validFrom: Date;
  validUntil: Date;
  issuer: XrmlIssuerFields;
  /** The server (cluster) the SLC is for: the ISSUEDPRINCIPALS principal. */
  subject: {
    serverGuid: string;
    /** Spec: present when self-enrolled (the server name), otherwise usually absent. */
    name?: string;
    /** Cluster URL (`ADDRESS type="URL"`). */
    url: string;
    publicKey: RsaPublicKey;
    /** `Server-Version`, e.g. `6.0.0.0`. */
    version: string;
    /** `Server-SKU`, e.g. `RMS 2.0`. */
    sku: string;
  };
  /** When the ISSUE right may be exercised; defaults to the validity period. */
  issueRange?: { from: Date; until: Date };
  /** See issue-scope.ts. Omitted → no Issue-Scope SECURITYLEVEL. */
  issueScope?: readonly IssueScope[];
  revocation?: SlcRevocation;
}

export const SLC_DESCRIPTOR_TYPE = 'Server-Licensor-Certificate';
export const SERVER_OBJECT_TYPE = 'MS-DRM-Server';
export const SELF_ENROLLMENT_ISSUER_NAME = 'OpenRMS Server Self Enrollment Service';
const CPS_LEVEL = 'Certificate Practice Statement';
const EXTERNAL_REVOCATION_ID = 'External revocation authority';
/**
 * Our choice (the protocol gives no default): how old a cached revocation list may be before the
 * client must fetch a new one.
 */
export const DEFAULT_REVOCATION_INTERVAL_DAYS = 30;

/**
 * Builds an unsigned server licensor certificate, element order as PROTOCOL.md §4.6 "Issuing
 * certificate": ISSUEDTIME, VALIDITYTIME, DESCRIPTOR, ISSUER, ISSUEDPRINCIPALS, WORK, then the
 * optional revocation CONDITIONLIST. Sign the result with signXrml.
 */
export function buildSlc(fields: SlcFields): string {
  const descriptorGuid = guidValue(fields.descriptorGuid, 'descriptorGuid');
  const doc = create();
  const body = doc.ele('XrML', { version: '1.2' }).ele('BODY', { type: 'LICENSE', version: '3.0' });

  body.ele('ISSUEDTIME').txt(formatXrmlTime(fields.issuedTime));
  writeTimeRange(body, 'VALIDITYTIME', fields.validFrom, fields.validUntil);

  const descriptor = { objectType: SLC_DESCRIPTOR_TYPE, idType: 'MS-GUID', id: descriptorGuid };
  writeObject(body.ele('DESCRIPTOR'), descriptor);

  writeIssuer(body, fields.issuer);

  const principal = body.ele('ISSUEDPRINCIPALS').ele('PRINCIPAL', { 'internal-id': '1' });
  const server = fields.subject;
  writeObject(principal, {
    objectType: SERVER_OBJECT_TYPE,
    idType: 'MS-GUID',
    id: server.serverGuid,
    ...(server.name === undefined ? {} : { name: server.name }),
    url: httpUrlValue(server.url, 'subject url'),
  });
  writePublicKey(principal, server.publicKey);
  writeSecurityLevel(principal, { name: 'Server-Version', value: nonEmptyXmlValue(server.version, 'Server-Version') });
  writeSecurityLevel(principal, { name: 'Server-SKU', value: nonEmptyXmlValue(server.sku, 'Server-SKU') });
  if (fields.issueScope !== undefined) {
    writeSecurityLevel(principal, { name: ISSUE_SCOPE_LEVEL, value: formatIssueScope(fields.issueScope) });
  }

  const work = body.ele('WORK');
  writeObject(work, descriptor);
  const conditions = work
    .ele('RIGHTSGROUP', { name: 'Main-Rights' })
    .ele('RIGHTSLIST')
    .ele('RIGHT', { name: 'ISSUE' })
    .ele('CONDITIONLIST');
  const issueRange = fields.issueRange ?? { from: fields.validFrom, until: fields.validUntil };
  writeTimeRange(conditions.ele('TIME'), 'RANGETIME', issueRange.from, issueRange.until);
  conditions.ele('ACCESS').ele('PRINCIPAL', { 'internal-id': '1' });

  if (fields.revocation) writeRevocation(body, fields.issuer, fields.revocation);

  return doc.end({ headless: true, prettyPrint: false });
}

/** `ISSUER`: OBJECT, PUBLICKEY, then SECURITYLEVELs (and the CPS level last). Shared by every builder. */
export function writeIssuer(body: XrmlSink, issuer: XrmlIssuerFields): void {
  const el = body.ele('ISSUER');
  writeObject(el, {
    objectType: issuer.objectType ?? SERVER_OBJECT_TYPE,
    idType: issuer.idType ?? 'MS-GUID',
    id: issuer.id,
    ...(issuer.name === undefined ? {} : { name: issuer.name }),
    ...(issuer.url === undefined ? {} : { url: issuer.url }),
  });
  writePublicKey(el, issuer.publicKey);
  const levels = [...(issuer.securityLevels ?? [])];
  if (issuer.cpsUrl !== undefined) {
    if (levels.some((l) => l.name === CPS_LEVEL)) {
      throw new RmsError('InvalidInput', 'Certificate Practice Statement given twice');
    }
    levels.push({ name: CPS_LEVEL, value: httpUrlValue(issuer.cpsUrl, 'cpsUrl') });
  }
  const seen = new Set<string>();
  for (const level of levels) {
    if (seen.has(level.name)) throw new RmsError('InvalidInput', `issuer SECURITYLEVEL ${level.name} repeated`);
    seen.add(level.name);
    writeSecurityLevel(el, level);
  }
}

/**
 * `CONDITIONLIST/REFRESH`: a DISTRIBUTIONPOINT naming the SLC's issuer (ID and NAME copied from the
 * ISSUER, as §6.6 describes a list issuer) with its key and, when given, the ADDRESS of the list
 * the issuer publishes (docs/adr/0015-revocation.md); then one `External revocation authority` per
 * third-party key when custom (they publish where they choose: no ADDRESS), then INTERVALTIME.
 */
function writeRevocation(body: XrmlSink, issuer: XrmlIssuerFields, revocation: SlcRevocation): void {
  const refresh = body.ele('CONDITIONLIST').ele('REFRESH');
  const issuerDp = refresh.ele('DISTRIBUTIONPOINT');
  writeObject(issuerDp, {
    objectType: 'Revocation',
    idType: issuer.idType ?? 'MS-GUID',
    id: issuer.id,
    ...(issuer.name === undefined ? {} : { name: issuer.name }),
    ...(revocation.listUrl === undefined ? {} : { url: revocation.listUrl }),
  });
  writePublicKey(issuerDp, issuer.publicKey);
  if (revocation.kind === 'custom') {
    if (revocation.authorityKeys.length === 0) throw new RmsError('InvalidInput', 'custom revocation needs at least one authority key');
    for (const key of revocation.authorityKeys) {
      const dp = refresh.ele('DISTRIBUTIONPOINT');
      writeObject(dp, { objectType: 'Revocation', idType: 'ascii-tag', id: EXTERNAL_REVOCATION_ID });
      writePublicKey(dp, key);
    }
  }
  writeIntervalTime(refresh, { days: revocation.intervalDays ?? DEFAULT_REVOCATION_INTERVAL_DAYS });
}

/** ISSUER fields that copy a certificate's principal, for documents that certificate's holder issues. */
export function issuerFromCertificate(cert: CertificateInfo): XrmlIssuerFields {
  const p = cert.principal;
  return {
    ...(p.objectType === undefined ? {} : { objectType: p.objectType }),
    idType: p.idType,
    id: p.id,
    ...(p.name === undefined ? {} : { name: p.name }),
    ...(p.url === undefined ? {} : { url: p.url }),
    publicKey: p.publicKey,
    securityLevels: Object.entries(p.securityLevels).map(([name, value]) => ({ name, value })),
  };
}
