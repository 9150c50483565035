import { RmsError, type ServerInfoAnswer, type ServerInfoRequest, type ServiceLocationAnswer } from '@openrms/domain';
import { childElement, childElements, childText, isNil } from '../certificate-nodes';
import type { SoapHandler } from '../create-soap-endpoint';
import type { SoapRequest } from '../parse-soap-request';
import { XmlWriter } from '../xml-writer';

/** What the Server service needs from the cluster: a narrow port, so this adapter knows no issuance code. */
export interface ServerServicePort {
  getLicensorCertificate(): string[];
  getServerInfo(requests: ServerInfoRequest[]): ServerInfoAnswer[];
  findServiceLocations(types: string[], mode: 'user' | 'server'): ServiceLocationAnswer[];
}

const SERVER_INFO_TYPES = new Set(['VersionInfo', 'ServerFeatureInfo', 'ServerLicensorCertificate', 'ServiceLocations']);

/**
 * There are 4 ServerInfoTypes and 11 ServiceTypes: a real client asks for each once. The caps keep
 * one small request from buying a huge answer (every item repeats an SLC chain, say).
 */
export const SERVER_SERVICE_LIMITS = { serverInfoRequests: 32, serviceLocationRequests: 32 } as const;

function capped(items: Element[], max: number, what: string): Element[] {
  if (items.length > max) throw new RmsError('Argument', `at most ${max} ${what} per request, got ${items.length}`);
  return items;
}

/** The Type of each ServiceLocationRequest, in order; a nil entry is skipped as .NET would skip a null. */
function requestedServiceTypes(req: SoapRequest): string[] {
  const names = childElement(req.bodyElement, 'ServiceNames');
  if (!names || isNil(names)) return [];
  return capped(childElements(names, 'ServiceLocationRequest'), SERVER_SERVICE_LIMITS.serviceLocationRequests, 'ServiceLocationRequest items')
    .filter((r) => !isNil(r))
    .map((r, i) => {
      const t = childText(r, 'Type');
      if (t === undefined) throw new RmsError('InvalidOperation', `ServiceLocationRequest ${i} has no Type`);
      return t.trim();
    });
}

function writeLocations(locations: ServiceLocationAnswer[]): XmlWriter {
  const w = new XmlWriter();
  for (const l of locations) {
    w.element('ServiceLocationResponse', (x) => {
      // URL is minOccurs=0 but not nillable: a service this cluster does not run has no URL element.
      if (l.url !== null) x.leaf('URL', l.url);
      x.leaf('Type', l.type);
    });
  }
  return w;
}

function serverInfoRequests(req: SoapRequest): ServerInfoRequest[] {
  const arr = childElement(req.bodyElement, 'requests');
  if (!arr || isNil(arr)) throw new RmsError('ArgumentNull', 'requests is null');
  return capped(childElements(arr, 'ServerInfoRequest'), SERVER_SERVICE_LIMITS.serverInfoRequests, 'ServerInfoRequest items')
    .filter((r) => !isNil(r))
    .map((r, i) => {
      const type = childText(r, 'Type')?.trim();
      if (!type) throw new RmsError('ArgumentNull', `ServerInfoRequest ${i} has no Type`);
      if (!SERVER_INFO_TYPES.has(type)) throw new RmsError('InvalidOperation', `"${type}" is not a ServerInfoType`);
      const additionalInfo = childText(r, 'AdditionalInfo');
      return additionalInfo === undefined ? { type } : { type, additionalInfo };
    });
}

function writeServerInfo(answers: ServerInfoAnswer[]): XmlWriter {
  const w = new XmlWriter();
  w.start('Results', { xmlns: '' });
  for (const a of answers) {
    w.start('ServerInfoRequest', { Type: a.type, AdditionalInfo: a.additionalInfo });
    switch (a.type) {
      case 'VersionInfo':
        w.empty('VersionInfo', { Version: a.version });
        break;
      case 'ServerFeatureInfo':
        w.element('ServerFeatureInfo', (x) => {
          for (const f of a.features) x.empty('Feature', { Name: f.name, Value: f.value });
        });
        break;
      case 'ServerLicensorCertificate':
        w.element('ServerLicensorCertificateChain', (x) => {
          for (const c of a.chain) x.xrml(c);
        });
        break;
      case 'ServiceLocations':
        w.element('ServiceLocations', (x) => {
          for (const l of a.locations) x.empty('ServiceLocation', { Type: l.type, Url: l.url ?? '' });
        });
        break;
    }
    w.end();
  }
  return w.end();
}

export function serverServiceHandlers<Ctx>(port: ServerServicePort): Record<string, SoapHandler<Ctx>> {
  return {
    GetLicensorCertificate: async () => new XmlWriter().certificateArray('CertificateChain', port.getLicensorCertificate()),
    FindServiceLocationsForUser: async (req) => writeLocations(port.findServiceLocations(requestedServiceTypes(req), 'user')),
    FindServiceLocations: async (req) => writeLocations(port.findServiceLocations(requestedServiceTypes(req), 'server')),
    GetServerInfo: async (req) => writeServerInfo(port.getServerInfo(serverInfoRequests(req))),
  };
}
