import { RmsError } from '@openrms/domain';
import type { ServiceDescription } from './load-service';
import { escapeXmlAttribute } from './xml-writer';

const ADDRESS_LOCATION = /(<[A-Za-z_][\w.-]*:address\b[^>]*?\blocation\s*=\s*)(["'])[^"']*\2/g;

/**
 * The service's WSDL with every soap:address / soap12:address location replaced by `endpointUrl`
 * (the URL the request reached, without its query), so tools bind to the server they asked.
 * The URL is typically built from the Host header, so it is validated and escaped, never pasted.
 */
export function wsdlForRequest(service: ServiceDescription, endpointUrl: string): string {
  let url: URL;
  try {
    url = new URL(endpointUrl);
  } catch {
    throw new RmsError('InvalidInput', `not a URL: ${endpointUrl}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RmsError('InvalidInput', `not an http(s) URL: ${endpointUrl}`);
  const location = escapeXmlAttribute(`${url.origin}${url.pathname}`);
  return service.wsdlXml.replace(ADDRESS_LOCATION, (_m, start: string) => `${start}"${location}"`);
}
