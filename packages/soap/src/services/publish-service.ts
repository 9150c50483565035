import { RmsError } from '@openrms/domain';
import { certificateNodes, childElement, childElements, isNil, standaloneXrml } from '../certificate-nodes';
import type { SoapHandler } from '../create-soap-endpoint';
import { XmlWriter } from '../xml-writer';
import type { CallerContext } from './caller-context';

export interface PublishPort {
  /** One CLC chain per RAC chain. */
  getClientLicensorCert(caller: CallerContext, personaChains: string[][]): Promise<{ chain: string[] }[]>;
  /** One signed PL chain per unsigned PL. */
  acquireIssuanceLicense(caller: CallerContext, unsignedLicenses: string[]): Promise<{ chain: string[] }[]>;
}

/** Batches are bounded like the licensing service's: no request may ask for unbounded signing work. */
export const MAX_PUBLISH_BATCH = 100;

function paramsOf(req: { bodyElement: Element }, member: string, what: string): Element[] {
  const arr = childElement(req.bodyElement, 'RequestParams');
  if (!arr || isNil(arr)) throw new RmsError('ArgumentNull', 'RequestParams is null');
  const items = childElements(arr, member).filter((e) => !isNil(e));
  if (items.length === 0) throw new RmsError('ArgumentNull', `RequestParams holds no ${what}`);
  if (items.length > MAX_PUBLISH_BATCH) throw new RmsError('Argument', `at most ${MAX_PUBLISH_BATCH} ${what} per request`);
  return items;
}

export function publishServiceHandlers(port: PublishPort): Record<string, SoapHandler<CallerContext>> {
  return {
    GetClientLicensorCert: async (req, ctx) => {
      const chains = paramsOf(req, 'GetClientLicensorCertParams', 'GetClientLicensorCertParams').map((p, i) => {
        const certs = certificateNodes(childElement(p, 'PersonaCerts'));
        if (certs.length === 0) throw new RmsError('ArgumentNull', `PersonaCerts of item ${i} is empty`);
        return certs;
      });
      const results = await port.getClientLicensorCert(ctx, chains);
      const w = new XmlWriter();
      for (const r of results) w.element('GetClientLicensorCertResponse', (x) => x.certificateArray('CertificateChain', r.chain));
      return w;
    },
    AcquireIssuanceLicense: async (req, ctx) => {
      const unsigned = paramsOf(req, 'AcquireIssuanceLicenseParams', 'AcquireIssuanceLicenseParams').map((p, i) => {
        const holder = childElement(p, 'UnsignedIssuanceLicense');
        if (!holder || isNil(holder)) throw new RmsError('ArgumentNull', `UnsignedIssuanceLicense of item ${i} is null`);
        return standaloneXrml(holder, `UnsignedIssuanceLicense ${i}`);
      });
      const results = await port.acquireIssuanceLicense(ctx, unsigned);
      const w = new XmlWriter();
      for (const r of results) w.element('AcquireIssuanceLicenseResponse', (x) => x.certificateArray('CertificateChain', r.chain));
      return w;
    },
  };
}
