import { formatVersion } from '@openrms/domain';
import { envelopeNamespace, NS, soapContentType } from './namespaces';
import type { SoapRequest } from './parse-soap-request';
import { escapeXmlAttribute, type ResultWriter } from './xml-writer';

/** What a handler produces: the content of `<OpResult>`, or null to leave the (0..1) result out. */
export type SoapResult = ResultWriter | string | null;

/**
 * Writes the response envelope in the request's SOAP version:
 * `<OpResponse xmlns="ns"><OpResult>…</OpResult></OpResponse>`, preceded by the server's
 * VersionData range when the operation carries that header. A string result is trusted markup
 * written by a handler; use XmlWriter to build it safely.
 */
export function buildSoapResponse(req: SoapRequest, result: SoapResult): { contentType: string; body: string } {
  const op = req.operation;
  const ns = escapeXmlAttribute(req.service.targetNamespace);
  const header = op.hasVersionData
    ? `<soap:Header><VersionData xmlns="${ns}">` +
      `<MinimumVersion>${formatVersion(req.serverVersions.min)}</MinimumVersion>` +
      `<MaximumVersion>${formatVersion(req.serverVersions.max)}</MaximumVersion>` +
      `</VersionData></soap:Header>`
    : '';
  const content = result === null ? '' : typeof result === 'string' ? result : result.toXml();
  const resultXml = result === null ? '' : `<${op.resultElement}>${content}</${op.resultElement}>`;
  const body =
    `<?xml version="1.0" encoding="utf-8"?>` +
    `<soap:Envelope xmlns:soap="${envelopeNamespace(req.soapVersion)}" xmlns:xsi="${NS.xsi}" xmlns:xsd="${NS.xsd}">` +
    `${header}<soap:Body><${op.responseElement} xmlns="${ns}">${resultXml}</${op.responseElement}></soap:Body></soap:Envelope>`;
  return { contentType: soapContentType(req.soapVersion), body };
}
