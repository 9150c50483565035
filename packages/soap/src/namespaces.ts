/** XML namespaces the SOAP layer reads and writes. */
export const NS = {
  soap11Envelope: 'http://schemas.xmlsoap.org/soap/envelope/',
  soap12Envelope: 'http://www.w3.org/2003/05/soap-envelope',
  wsdl: 'http://schemas.xmlsoap.org/wsdl/',
  wsdlSoap11: 'http://schemas.xmlsoap.org/wsdl/soap/',
  wsdlSoap12: 'http://schemas.xmlsoap.org/wsdl/soap12/',
  xsd: 'http://www.w3.org/2001/XMLSchema',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
} as const;

export type SoapVersion = '1.1' | '1.2';

export function envelopeNamespace(version: SoapVersion): string {
  return version === '1.1' ? NS.soap11Envelope : NS.soap12Envelope;
}

/** Content type of responses and faults; the charset is always UTF-8 because that is all we write. */
export function soapContentType(version: SoapVersion): string {
  return version === '1.1' ? 'text/xml; charset=utf-8' : 'application/soap+xml; charset=utf-8';
}
