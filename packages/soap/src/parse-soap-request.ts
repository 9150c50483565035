import {
  negotiateVersion,
  RmsError,
  SERVER_MAX_VERSION,
  SERVER_MIN_VERSION,
  type NegotiatedVersion,
  type ProtocolVersion,
} from '@openrms/domain';
import { childText } from './certificate-nodes';
import { attachLiftedDocuments, liftXrmlDocuments } from './lift-xrml-documents';
import type { OperationDef, ServiceDescription } from './load-service';
import { NS, type SoapVersion } from './namespaces';
import { parseXmlSecurely } from './parse-xml-securely';
import { SoapProtocolError, type QualifiedName } from './soap-protocol-error';

/** What the HTTP layer hands over: the raw body and the two headers SOAP dispatch depends on. */
export interface SoapHttpInput {
  body: Buffer;
  contentType: string | undefined;
  soapActionHeader: string | undefined;
}

export interface ServerVersionRange {
  min: ProtocolVersion;
  max: ProtocolVersion;
}

export interface SoapParseOptions {
  maxBytes: number;
  /** The VersionData range this server answers with; defaults to domain's SERVER_MIN/MAX_VERSION. */
  versions?: ServerVersionRange;
}

export interface SoapRequest {
  soapVersion: SoapVersion;
  service: ServiceDescription;
  operation: OperationDef;
  /** The request wrapper element, e.g. `<AcquireLicense>` in the service namespace. */
  bodyElement: Element;
  document: Document;
  /** Present when the operation carries the VersionData header. */
  version?: NegotiatedVersion;
  /** The range the response header advertises. */
  serverVersions: ServerVersionRange;
}

const SOAP_EXCEPTION = 'System.Web.Services.Protocols.SoapException';
const SOAP_HEADER_EXCEPTION = 'System.Web.Services.Protocols.SoapHeaderException';
const MEDIA_TYPES: Record<SoapVersion, string> = { '1.1': 'text/xml', '1.2': 'application/soap+xml' };
const ROLES_FOR_US = new Set([
  'http://schemas.xmlsoap.org/soap/actor/next',
  'http://www.w3.org/2003/05/soap-envelope/role/next',
  'http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver',
]);

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Turns a raw HTTP request into a dispatched SOAP request, or throws an RmsError that
 * buildSoapFault maps to the right fault. Nothing of the body is trusted until it has passed the
 * size limit, the UTF-8 decoder and parseXmlSecurely.
 */
export function parseSoapRequest(input: SoapHttpInput, service: ServiceDescription, options: SoapParseOptions): SoapRequest {
  if (input.body.length > options.maxBytes) {
    throw new RmsError('RequestTooLarge', `Maximum request length exceeded: ${input.body.length} bytes, the limit is ${options.maxBytes}.`);
  }
  const contentType = parseContentType(input.contentType);
  if (contentType.charset !== undefined && !/^utf-8$/i.test(contentType.charset)) {
    throw new SoapProtocolError('Client', SOAP_EXCEPTION, `Unsupported charset "${clip(contentType.charset)}" in the Content-Type; requests must be UTF-8.`);
  }
  let text: string;
  try {
    text = utf8.decode(input.body);
  } catch {
    throw new RmsError('MalformedRequest', 'The request body is not valid UTF-8.');
  }
  const document = parseEnvelope(text);
  const envelope = document.documentElement!;

  const soapVersion = envelopeVersion(envelope, service);
  if (contentType.mediaType !== undefined && contentType.mediaType !== MEDIA_TYPES[soapVersion]) {
    throw new SoapProtocolError(
      'Client',
      SOAP_EXCEPTION,
      `A SOAP ${soapVersion} envelope must be sent as ${MEDIA_TYPES[soapVersion]}, not ${clip(contentType.mediaType)}.`,
    );
  }
  const envNs = envelope.namespaceURI!;
  const { header, body } = envelopeParts(envelope, envNs);
  const bodyElement = soleBodyElement(body);

  const action = soapVersion === '1.2' ? (contentType.action ?? unquote(input.soapActionHeader)) : unquote(input.soapActionHeader);
  const operation = findOperation(service, action, bodyElement);

  try {
    const versionHeaders = header ? checkHeaders(header, envNs, soapVersion, service.targetNamespace) : [];
    const serverVersions = options.versions ?? { min: SERVER_MIN_VERSION, max: SERVER_MAX_VERSION };
    let version: NegotiatedVersion | undefined;
    if (operation.hasVersionData) {
      const vd = versionHeaders[0];
      if (!vd) throw new RmsError('MalformedDataVersion', 'The VersionData SOAP header is missing.');
      if (versionHeaders.length > 1) throw new RmsError('MalformedDataVersion', 'The request carries more than one VersionData header.');
      let min: string | undefined;
      let max: string | undefined;
      try {
        min = childText(vd, 'MinimumVersion');
        max = childText(vd, 'MaximumVersion');
      } catch {
        throw new RmsError('MalformedDataVersion', 'MinimumVersion and MaximumVersion must hold a version, not elements.');
      }
      version = negotiateVersion(min, max, serverVersions);
    }
    return { soapVersion, service, operation, bodyElement, document, version, serverVersions };
  } catch (e) {
    // The operation is known by now: say which one failed, for the request log.
    if (e instanceof Error) Object.assign(e, { soapOperation: operation.name });
    throw e;
  }
}

/**
 * The envelope as a DOM, with the XrML documents it carries lifted out as text first (each is
 * parsed, if at all, by the use-case that verifies it: see liftXrmlDocuments). Should the skeleton
 * fail to parse, the whole text is parsed as it came, so the refusal names what the client sent.
 */
function parseEnvelope(text: string): Document {
  const lifted = liftXrmlDocuments(text);
  if (!lifted) return parseXmlSecurely(text);
  let document: Document;
  try {
    document = parseXmlSecurely(lifted.skeleton);
  } catch {
    return parseXmlSecurely(text);
  }
  attachLiftedDocuments(document, lifted.documents);
  return document;
}

/** The operation a request-parsing error belongs to, when parsing got that far. */
export function operationOfError(e: unknown): string | undefined {
  const op = (e as { soapOperation?: unknown } | undefined)?.soapOperation;
  return typeof op === 'string' ? op : undefined;
}

interface ContentType {
  mediaType?: string;
  charset?: string;
  action?: string;
}

/** RFC 9110 media type with parameters; quoted values may contain ';'. */
export function parseContentType(header: string | undefined): ContentType {
  if (header === undefined || header.trim() === '') return {};
  const semi = header.indexOf(';');
  const mediaType = (semi < 0 ? header : header.slice(0, semi)).trim().toLowerCase();
  const result: ContentType = { mediaType };
  const params = /;\s*([^=;\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g;
  const rest = semi < 0 ? '' : header.slice(semi);
  for (let m = params.exec(rest); m; m = params.exec(rest)) {
    const name = m[1]!.toLowerCase();
    const raw = m[2]!.trim();
    const value = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
    if (name === 'charset') result.charset = value;
    else if (name === 'action') result.action = value;
  }
  return result;
}

/** SOAPAction may arrive quoted ("…"), bare, or empty; all three are legal in practice. */
function unquote(value: string | undefined): string {
  const v = (value ?? '').trim();
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1).trim() : v;
}

function envelopeVersion(envelope: Element, service: ServiceDescription): SoapVersion {
  const supportedEnvelopes: SoapVersion[] = [];
  if (service.soap11) supportedEnvelopes.push('1.1');
  if (service.soap12) supportedEnvelopes.push('1.2');
  const version: SoapVersion | undefined =
    envelope.namespaceURI === NS.soap11Envelope ? '1.1' : envelope.namespaceURI === NS.soap12Envelope ? '1.2' : undefined;
  if (envelope.localName !== 'Envelope') {
    throw new SoapProtocolError('Client', SOAP_EXCEPTION, `The root element is <${clip(envelope.localName ?? '')}>, not a SOAP Envelope.`);
  }
  if (version === undefined) {
    throw new SoapProtocolError(
      'VersionMismatch',
      SOAP_EXCEPTION,
      `Possible SOAP version mismatch: Envelope namespace ${clip(envelope.namespaceURI || '(none)')} was unexpected.`,
      { supportedEnvelopes },
    );
  }
  if (!supportedEnvelopes.includes(version)) {
    throw new SoapProtocolError('VersionMismatch', SOAP_EXCEPTION, `The ${service.name} service does not offer SOAP ${version}.`, {
      supportedEnvelopes,
    });
  }
  return version;
}

function structure(message: string): SoapProtocolError {
  return new SoapProtocolError('Client', SOAP_EXCEPTION, message);
}

/** Envelope content must be exactly [Header] Body; anything else is not a message we can answer. */
function envelopeParts(envelope: Element, envNs: string): { header?: Element; body: Element } {
  const elements = significantChildren(envelope, 'Envelope');
  let i = 0;
  let header: Element | undefined;
  const first = elements[0];
  if (first && first.namespaceURI === envNs && first.localName === 'Header') {
    header = first;
    i = 1;
  }
  const body = elements[i];
  if (!body || body.namespaceURI !== envNs || body.localName !== 'Body') throw structure('The SOAP Envelope has no Body element.');
  if (elements.length > i + 1) throw structure('The SOAP Envelope has content after the Body element.');
  return { header, body };
}

function soleBodyElement(body: Element): Element {
  const elements = significantChildren(body, 'Body');
  if (elements.length !== 1) throw structure(`The SOAP Body must contain exactly one element, found ${elements.length}.`);
  return elements[0]!;
}

function significantChildren(parent: Element, what: string): Element[] {
  const out: Element[] = [];
  for (let n = parent.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1) out.push(n as Element);
    else if ((n.nodeType === 3 || n.nodeType === 4) && /\S/.test(n.nodeValue ?? '')) throw structure(`The SOAP ${what} contains text.`);
  }
  return out;
}

function findOperation(service: ServiceDescription, action: string, bodyElement: Element): OperationDef {
  const matchesBody = (op: OperationDef) =>
    bodyElement.namespaceURI === service.targetNamespace && bodyElement.localName === op.requestElement;
  const bodyName = `{${bodyElement.namespaceURI || ''}}${bodyElement.localName}`;
  if (action === '') {
    for (const op of service.operations.values()) if (matchesBody(op)) return op;
    throw new RmsError('UnknownOperation', `Server did not recognize the request element ${clip(bodyName)} (the SOAPAction is empty).`);
  }
  for (const op of service.operations.values()) {
    if (op.soapAction !== action) continue;
    if (!matchesBody(op)) {
      throw new RmsError('UnknownOperation', `The SOAPAction ${clip(action)} does not match the request element ${clip(bodyName)}.`);
    }
    return op;
  }
  throw new RmsError('UnknownOperation', `Server did not recognize the value of HTTP Header SOAPAction: ${clip(action)}.`);
}

/**
 * Applies the SOAP processing model to the header blocks: VersionData in the service namespace is
 * the only block this server understands, so any other block targeted at us with mustUnderstand
 * set is a MustUnderstand fault. Returns the VersionData blocks.
 */
function checkHeaders(header: Element, envNs: string, soapVersion: SoapVersion, serviceNs: string): Element[] {
  const versionData: Element[] = [];
  const notUnderstood: QualifiedName[] = [];
  for (const block of significantChildren(header, 'Header')) {
    if (block.namespaceURI === serviceNs && block.localName === 'VersionData') {
      versionData.push(block);
      continue;
    }
    const target = block.getAttributeNS(envNs, soapVersion === '1.1' ? 'actor' : 'role');
    if (target && !ROLES_FOR_US.has(target)) continue;
    const mustUnderstand = block.getAttributeNS(envNs, 'mustUnderstand');
    if (mustUnderstand === '1' || mustUnderstand === 'true') {
      notUnderstood.push({ namespace: block.namespaceURI || null, localName: block.localName ?? block.nodeName });
    }
  }
  if (notUnderstood.length > 0) {
    const names = notUnderstood.map((q) => `{${q.namespace ?? ''}}${q.localName}`).join(', ');
    throw new SoapProtocolError('MustUnderstand', SOAP_HEADER_EXCEPTION, `SOAP header ${clip(names)} was not understood.`, { notUnderstood });
  }
  return versionData;
}

/** Client-supplied strings end up in fault messages; keep them short. */
function clip(value: string, max = 200): string {
  return value.length > max ? `${value.slice(0, max)}…` : value;
}
