import { RmsError } from '@openrms/domain';
import { certificateNodes, childElement, childText } from '../certificate-nodes';
import type { SoapHandler } from '../create-soap-endpoint';
import { XmlWriter } from '../xml-writer';
import type { CallerContext } from './caller-context';

export interface CertifyRequest {
  /** The SPC chain, leaf first. */
  machineChain: string[];
  /** The `Persistent` flag as sent; see docs/adr/0008 for how it is read. */
  persistent: boolean;
}

export interface CertificationPort {
  certify(caller: CallerContext, request: CertifyRequest): Promise<{ chain: string[] }>;
}

function parseBoolean(v: string | undefined, what: string): boolean {
  const t = v?.trim();
  if (t === 'true' || t === '1') return true;
  if (t === 'false' || t === '0') return false;
  throw new RmsError('ArgumentNull', `${what} must be true or false`);
}

/** Certify on certification.asmx (and ServerCertification.asmx, which shares the operation). */
export function certificationServiceHandlers(port: CertificationPort): Record<string, SoapHandler<CallerContext>> {
  return {
    Certify: async (req, ctx) => {
      const params = childElement(req.bodyElement, 'requestParams');
      if (!params) throw new RmsError('ArgumentNull', 'requestParams is null');
      const machineChain = certificateNodes(childElement(params, 'MachineCertificateChain'));
      if (machineChain.length === 0) throw new RmsError('ArgumentNull', 'MachineCertificateChain is empty');
      const persistent = parseBoolean(childText(params, 'Persistent'), 'Persistent');
      const { chain } = await port.certify(ctx, { machineChain, persistent });
      // Quota is unused by the protocol, but clients require Verified and consumption below the maximum.
      return new XmlWriter()
        .certificateArray('CertificateChain', chain)
        .element('Quota', (w) => w.leaf('Verified', true).leaf('CurrentConsumption', 5).leaf('Maximum', 10));
    },
  };
}
