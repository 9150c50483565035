import { RmsError } from '@openrms/domain';
import { childElement, childElements, childText, isNil } from '../certificate-nodes';
import type { SoapHandler } from '../create-soap-endpoint';
import { XmlWriter } from '../xml-writer';
import type { CallerContext } from './caller-context';

export interface PrecertifyRequest {
  /** The user's e-mail address (`UserName`). */
  userName?: string;
  /** `Identification/Id` (with AuthenticationMode Windows): our principal id. */
  id?: string;
}

export interface PrecertificationPort {
  /** A RAC without FEDERATIONPRINCIPALS: the user's public key certificate. */
  precertify(caller: CallerContext, request: PrecertifyRequest): Promise<{ certificate: string }>;
}

export function precertificationServiceHandlers(port: PrecertificationPort): Record<string, SoapHandler<CallerContext>> {
  return {
    Precertify: async (req, ctx) => {
      const arr = childElement(req.bodyElement, 'requestParams');
      const params = !arr || isNil(arr) ? [] : childElements(arr, 'PrecertifyParams').filter((p) => !isNil(p));
      if (params.length !== 1) throw new RmsError('DrmsArgument', `Precertify takes exactly one PrecertifyParams, got ${params.length}`);
      const p = params[0]!;
      const userName = childText(p, 'UserName')?.trim() || undefined;
      const ident = childElement(p, 'Identification');
      const id = ident && !isNil(ident) ? childText(ident, 'Id')?.trim() || undefined : undefined;
      if (ident && !isNil(ident) && childText(ident, 'AuthenticationMode')?.trim() !== 'Windows') {
        throw new RmsError('InvalidOperation', 'AuthenticationMode must be Windows');
      }
      if (!userName && !id) throw new RmsError('DrmsArgument', 'PrecertifyParams needs a UserName or an Identification');
      const { certificate } = await port.precertify(ctx, { ...(userName ? { userName } : {}), ...(id ? { id } : {}) });
      return new XmlWriter().element('PrecertifyResponse', (w) => w.element('Certificate', (c) => c.xrml(certificate)));
    },
  };
}
