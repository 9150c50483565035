import { RmsError } from '@openrms/domain';
import { childElement, childElements, isNil } from '../certificate-nodes';
import type { SoapHandler } from '../create-soap-endpoint';
import { XmlWriter } from '../xml-writer';
import type { CallerContext } from './caller-context';

export interface TemplateDistributionPort {
  templateInformation(caller: CallerContext): Promise<{ serverPublicKey: string; templates: { guid: string; hash: string }[] }>;
  /** Unknown GUIDs come back with a null template. */
  templates(caller: CallerContext, guids: string[]): Promise<{ guid: string; hash: string; template: string | null }[]>;
}

/** The protocol's cap on templates per AcquireTemplates response. */
export const MAX_TEMPLATES_PER_RESPONSE = 25;

export function templateDistributionServiceHandlers(port: TemplateDistributionPort): Record<string, SoapHandler<CallerContext>> {
  return {
    AcquireTemplateInformation: async (_req, ctx) => {
      const info = await port.templateInformation(ctx);
      const w = new XmlWriter().leaf('ServerPublicKey', info.serverPublicKey).leaf('GuidHashCount', info.templates.length);
      for (const t of info.templates) w.element('GuidHash', (x) => x.leaf('Guid', t.guid).leaf('Hash', t.hash));
      return w;
    },
    AcquireTemplates: async (req, ctx) => {
      const arr = childElement(req.bodyElement, 'guids');
      const guids = !arr || isNil(arr) ? [] : childElements(arr, 'string').filter((e) => !isNil(e)).map((e) => (e.textContent ?? '').trim());
      if (guids.length > MAX_TEMPLATES_PER_RESPONSE) {
        throw new RmsError('Argument', `at most ${MAX_TEMPLATES_PER_RESPONSE} templates per AcquireTemplates request`);
      }
      const found = await port.templates(ctx, guids);
      const w = new XmlWriter();
      for (const t of found) {
        w.element('GuidTemplate', (x) => {
          // Template is minOccurs="0": an unknown GUID comes back without one.
          x.leaf('Guid', t.guid).leaf('Hash', t.hash).leaf('Template', t.template);
        });
      }
      return w;
    },
  };
}
