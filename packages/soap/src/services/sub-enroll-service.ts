import { RmsError } from '@openrms/domain';
import { childElement, childElements, childText, isNil } from '../certificate-nodes';
import type { SoapHandler } from '../create-soap-endpoint';
import { XmlWriter } from '../xml-writer';
import type { CallerContext } from './caller-context';

export interface SubEnrollRequest {
  /** `aPublicKeyBytes`: the requester's RSA public key, PKCS#1 DER. */
  publicKeyPkcs1: Buffer;
  /** As sent: with or without braces. */
  guid: string;
  sku: string;
  version: string;
  name: string;
  url: string;
}

export interface SubEnrollPort {
  subEnroll(caller: CallerContext, request: SubEnrollRequest): Promise<{ chain: string[] }>;
}

const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

/** SubEnroll (SOAP 1.1 only): the chain comes back as strings, the new SLC first. */
export function subEnrollServiceHandlers(port: SubEnrollPort): Record<string, SoapHandler<CallerContext>> {
  return {
    SubEnroll: async (req, ctx) => {
      const input = childElement(req.bodyElement, 'oInput');
      if (!input || isNil(input)) throw new RmsError('ArgumentNull', 'oInput is null');
      const key = childElement(input, 'CertificatePublicKey');
      const info = childElement(input, 'EnrolleeInformation');
      if (!key || isNil(key)) throw new RmsError('ArgumentNull', 'CertificatePublicKey is null');
      if (!info || isNil(info)) throw new RmsError('ArgumentNull', 'EnrolleeInformation is null');
      const b64 = childText(key, 'aPublicKeyBytes');
      if (!b64) throw new RmsError('ArgumentNull', 'aPublicKeyBytes is empty');
      if (!BASE64.test(b64)) throw new RmsError('Argument', 'aPublicKeyBytes is not base64');
      const field = (name: string) => {
        const v = childText(info, name)?.trim();
        if (!v) throw new RmsError('ArgumentNull', `EnrolleeInformation/${name} is empty`);
        return v;
      };
      const guid = childText(key, 'Guid')?.trim();
      if (!guid) throw new RmsError('ArgumentNull', 'Guid is empty');
      const { chain } = await port.subEnroll(ctx, {
        publicKeyPkcs1: Buffer.from(b64, 'base64'),
        guid,
        sku: field('SKU'),
        version: field('Version'),
        name: field('Name'),
        url: field('URL'),
      });
      return new XmlWriter().element('LicensorCertificateChain', (w) => {
        for (const c of chain) w.leaf('string', c);
      });
    },
  };
}

/** Reads a SubEnroll response's chain (for the requesting side). */
export function subEnrollChainOf(resultEl: Element): string[] {
  const arr = childElement(resultEl, 'LicensorCertificateChain');
  if (!arr || isNil(arr)) return [];
  return childElements(arr, 'string')
    .filter((s) => !isNil(s))
    .map((s) => s.textContent ?? '');
}
