import { RmsError } from '@openrms/domain';
import { childElement, childElements, isNil, standaloneXrml } from '../certificate-nodes';
import type { SoapHandler } from '../create-soap-endpoint';
import { XmlWriter } from '../xml-writer';
import type { CallerContext } from './caller-context';

export interface EditIssuanceLicensePort {
  /** A new signed PL for the signed PL's content key; `chain` holds only the new leaf. */
  editIssuanceLicense(caller: CallerContext, request: { signedChain: string[]; unsignedLicense: string }): Promise<{ chain: string[] }>;
}

/** [MS-RMSI] 3.4 Republish: exactly one EditIssuanceLicenseParams, each part holding only a leaf PL. */
export function editIssuanceLicenseServiceHandlers(port: EditIssuanceLicensePort): Record<string, SoapHandler<CallerContext>> {
  return {
    EditIssuanceLicense: async (req, ctx) => {
      const arr = childElement(req.bodyElement, 'RequestParams');
      if (!arr || isNil(arr)) throw new RmsError('ArgumentNull', 'RequestParams is null');
      const params = childElements(arr, 'EditIssuanceLicenseParams').filter((p) => !isNil(p));
      // None is a required input that is missing ([MS-RMSI] 3.1.4.2); more than one is a bad argument.
      if (params.length === 0) throw new RmsError('ArgumentNull', 'RequestParams holds no EditIssuanceLicenseParams');
      if (params.length !== 1) throw new RmsError('Argument', `EditIssuanceLicense takes exactly one EditIssuanceLicenseParams, got ${params.length}`);
      const p = params[0]!;
      const part = (name: string): string => {
        const holder = childElement(p, name);
        if (!holder || isNil(holder)) throw new RmsError('ArgumentNull', `${name} is null`);
        return standaloneXrml(holder, name);
      };
      const signed = part('SignedIssuanceLicense');
      const unsignedLicense = part('UnsignedIssuanceLicense');
      const { chain } = await port.editIssuanceLicense(ctx, { signedChain: [signed], unsignedLicense });
      return new XmlWriter().element('EditIssuanceLicenseResponse', (w) => w.certificateArray('CertificateChain', chain));
    },
  };
}
