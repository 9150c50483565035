import { XMLSerializer } from '@xmldom/xmldom';
import { RmsError } from '@openrms/domain';
import { describeException } from '../build-soap-fault';
import { certificateNodes, childElement, childElements, isNil } from '../certificate-nodes';
import type { SoapHandler } from '../create-soap-endpoint';
import { XmlWriter } from '../xml-writer';
import type { CallerContext } from './caller-context';


export interface AcquireLicenseItem {
  /** The user's RAC chain (often only the RAC). */
  licenseeCerts: string[];
  /** The PL chain: the PL, then the CLC chain (offline) or the SLC chain (online). */
  issuanceLicense: string[];
}

export type AcquireLicenseOutcome = { chain: string[] } | { error: unknown };

export interface AcquirePreLicenseItem {
  /** The recipients' e-mail addresses, in order (a nil entry is ''). */
  licenseeIdentities: string[];
  /** The signed PL (only its leaf, [MS-RMSI]). */
  issuanceLicense: string[];
}

export interface AcquirePreLicenseOutcome {
  /** One per identity, in order: the UL, or why that person has none. */
  licenses: ({ license: string } | { error: unknown })[];
  /** The server's SLC chain. */
  chain: string[];
}

export interface LicensePort {
  /** Items are independent: one failing does not fail the others. */
  acquireLicense(caller: CallerContext, items: AcquireLicenseItem[]): Promise<AcquireLicenseOutcome[]>;
  /** [MS-RMSI]: a request-wide failure throws; one person's failure is that person's outcome. */
  acquirePreLicense(caller: CallerContext, items: AcquirePreLicenseItem[]): Promise<AcquirePreLicenseOutcome[]>;
}

/** Windows' documented limits (RMPR notes 41–43). */
export const LICENSE_LIMITS = { applicationDataBytes: 102_400, licenseeCertBytes: 30_720, licenseeCerts: 100, batchItems: 100, preLicenseIdentities: 100 } as const;

/** UTF-8 bytes of the ApplicationData content (its children as serialized), not of its tags. */
function applicationDataBytes(el: Element): number {
  const serializer = new XMLSerializer();
  let n = 0;
  for (let c = el.firstChild; c; c = c.nextSibling) n += Buffer.byteLength(serializer.serializeToString(c));
  return n;
}

function parseItems(bodyElement: Element, batchingAllowed: boolean): AcquireLicenseItem[] {
  const arr = childElement(bodyElement, 'RequestParams');
  if (!arr || isNil(arr)) throw new RmsError('ArgumentNull', 'RequestParams is null');
  const params = childElements(arr, 'AcquireLicenseParams').filter((p) => !isNil(p));
  if (params.length === 0) throw new RmsError('ArgumentNull', 'RequestParams holds no AcquireLicenseParams');
  if (!batchingAllowed && params.length !== 1) {
    throw new RmsError('Argument', 'several AcquireLicenseParams need VersionData MaximumVersion 1.1.0.0 or above');
  }
  if (params.length > LICENSE_LIMITS.batchItems) throw new RmsError('Argument', `at most ${LICENSE_LIMITS.batchItems} AcquireLicenseParams per request`);
  let lastPl: string[] | undefined;
  return params.map((p, i) => {
    const appData = childElement(p, 'ApplicationData');
    if (appData && applicationDataBytes(appData) > LICENSE_LIMITS.applicationDataBytes) {
      throw new RmsError('UnspecifiedError', 'ApplicationData is larger than 102,400 bytes');
    }
    const licenseeCerts = certificateNodes(childElement(p, 'LicenseeCerts'));
    if (licenseeCerts.length === 0) throw new RmsError('ArgumentNull', `LicenseeCerts of item ${i} is empty`);
    if (licenseeCerts.length > LICENSE_LIMITS.licenseeCerts) throw new RmsError('Argument', `item ${i} has more than ${LICENSE_LIMITS.licenseeCerts} LicenseeCerts`);
    if (licenseeCerts.some((c) => Buffer.byteLength(c) > LICENSE_LIMITS.licenseeCertBytes)) {
      throw new RmsError('Argument', `a LicenseeCert of item ${i} is larger than ${LICENSE_LIMITS.licenseeCertBytes} bytes`);
    }
    const pl = certificateNodes(childElement(p, 'IssuanceLicense'));
    // A later item without a PL reuses the most recent one (batch mode); the first must have one.
    if (pl.length > 0) lastPl = pl;
    if (!lastPl) throw new RmsError('ArgumentNull', 'the first AcquireLicenseParams has no IssuanceLicense');
    return { licenseeCerts, issuanceLicense: lastPl };
  });
}

function parsePreLicenseItems(bodyElement: Element): AcquirePreLicenseItem[] {
  const arr = childElement(bodyElement, 'RequestParams');
  if (!arr || isNil(arr)) throw new RmsError('ArgumentNull', 'RequestParams is null');
  const params = childElements(arr, 'AcquirePreLicenseParams').filter((p) => !isNil(p));
  if (params.length === 0) throw new RmsError('ArgumentNull', 'RequestParams holds no AcquirePreLicenseParams');
  let identities = 0;
  return params.map((p, i) => {
    const appData = childElement(p, 'ApplicationData');
    if (appData && applicationDataBytes(appData) > LICENSE_LIMITS.applicationDataBytes) {
      throw new RmsError('UnspecifiedError', 'ApplicationData is larger than 102,400 bytes');
    }
    const ids = childElement(p, 'LicenseeIdentities');
    if (!ids || isNil(ids)) throw new RmsError('ArgumentNull', `LicenseeIdentities of item ${i} is null`);
    const licenseeIdentities = childElements(ids, 'string').map((e) => (isNil(e) ? '' : (e.textContent ?? '').trim()));
    identities += licenseeIdentities.length;
    if (identities > LICENSE_LIMITS.preLicenseIdentities) {
      throw new RmsError('Argument', `at most ${LICENSE_LIMITS.preLicenseIdentities} LicenseeIdentities per request`);
    }
    const issuanceLicense = certificateNodes(childElement(p, 'IssuanceLicense'));
    if (issuanceLicense.length === 0) throw new RmsError('ArgumentNull', `IssuanceLicense of item ${i} is empty`);
    return { licenseeIdentities, issuanceLicense };
  });
}

/**
 * AcquireLicense and AcquirePreLicense. For AcquireLicense, a single request that fails is a fault; in a batch (VersionData 1.1.0.0 or above)
 * a failed item carries an AcquireLicenseException in its CertificateChain (docs/adr/0009).
 */
export function licenseServiceHandlers(
  port: LicensePort,
  opts: { onItemError?(err: unknown, info: { correlationId: string; faultName: string; withheld: boolean; index: number }): void } = {},
): Record<string, SoapHandler<CallerContext>> {
  return {
    AcquireLicense: async (req, ctx) => {
      const batching = req.version?.batchingAllowed ?? false;
      const items = parseItems(req.bodyElement, batching);
      const outcomes = await port.acquireLicense(ctx, items);
      if (!batching || items.length === 1) {
        const only = outcomes[0]!;
        if ('error' in only) throw only.error;
      }
      const w = new XmlWriter();
      outcomes.forEach((o, index) => {
        w.element('AcquireLicenseResponse', (x) => {
          if ('chain' in o) {
            x.certificateArray('CertificateChain', o.chain);
          } else {
            const d = describeException(o.error, `${ctx.requestId}.${index}`);
            opts.onItemError?.(o.error, { correlationId: `${ctx.requestId}.${index}`, faultName: d.faultName, withheld: d.withheld, index });
            x.element('CertificateChain', (c) =>
              c.element('Certificate', (cert) =>
                cert.element('AcquireLicenseException', (e) => e.leaf('ExceptionString', d.exceptionString).leaf('batchindex', index)),
              ),
            );
          }
          x.empty('ReferenceCertificates');
        });
      });
      return w;
    },
    // [MS-RMSI] 3.5.4.1: an AcquirePreLicenseException stands in the Licenses array for a person's UL.
    AcquirePreLicense: async (req, ctx) => {
      const items = parsePreLicenseItems(req.bodyElement);
      const outcomes = await port.acquirePreLicense(ctx, items);
      const w = new XmlWriter();
      outcomes.forEach((o, item) => {
        w.element('AcquirePreLicenseResponse', (x) => {
          x.element('Licenses', (l) =>
            o.licenses.forEach((u, index) => {
              if ('license' in u) {
                l.certificate(u.license);
                return;
              }
              const correlationId = `${ctx.requestId}.${item}.${index}`;
              const d = describeException(u.error, correlationId);
              opts.onItemError?.(u.error, { correlationId, faultName: d.faultName, withheld: d.withheld, index });
              l.element('Certificate', (cert) =>
                cert.element('AcquirePreLicenseException', (e) => e.leaf('ExceptionString', d.exceptionString).leaf('batchindex', index)),
              );
            }),
          );
          x.certificateArray('CertificateChain', o.chain);
          x.empty('ReferenceCertificates');
        });
      });
      return w;
    },
  };
}
