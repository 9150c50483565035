import { RmsError } from '@openrms/domain';
import { certificateNodes, childElement, childElements, isNil } from '../certificate-nodes';
import type { SoapHandler } from '../create-soap-endpoint';
import { XmlWriter } from '../xml-writer';
import type { CallerContext } from './caller-context';

export interface DecommissionPort {
  /** The raw content key of a PL published for this cluster; only once it is decommissioned. */
  acquireContentKey(caller: CallerContext, plChain: string[]): Promise<{ contentKey: Buffer; contentKeyType: 'AES' | 'DES' }>;
}

/** A PL chain is the PL, a CLC and an SLC chain: far fewer than this. */
const MAX_PL_CHAIN = 20;

/** [MS-RMSI] 3.2 DecommissionService (decommission/decommission.asmx). */
export function decommissionServiceHandlers(port: DecommissionPort): Record<string, SoapHandler<CallerContext>> {
  return {
    AcquireContentKey: async (req, ctx) => {
      const arr = childElement(req.bodyElement, 'paramsSoap');
      const params = !arr || isNil(arr) ? [] : childElements(arr, 'AcquireContentKeyParams');
      // Only the first element is processed (PROTOCOL.md 2.3); an empty array is ArgumentNull.
      const first = params[0];
      if (!first || isNil(first)) throw new RmsError('ArgumentNull', 'paramsSoap holds no AcquireContentKeyParams');
      const chain = certificateNodes(childElement(first, 'IssuanceLicense'));
      if (chain.length === 0) throw new RmsError('ArgumentNull', 'IssuanceLicense is empty');
      if (chain.length > MAX_PL_CHAIN) throw new RmsError('Argument', `IssuanceLicense holds more than ${MAX_PL_CHAIN} certificates`);
      const r = await port.acquireContentKey(ctx, chain);
      return new XmlWriter().element('AcquireContentKeyResponse', (w) =>
        w.leaf('ContentKey', r.contentKey.toString('base64')).leaf('ContentKeyType', r.contentKeyType),
      );
    },
  };
}
