import { clusterBaseUrl, isRmsError } from '@openrms/domain';
import { certificateNodes, childElement, escapeXmlAttribute, isNil, NS, parseXmlSecurely, readBoundedText, XmlWriter } from '@openrms/soap';
import { parseFaultString, RmsClientError } from './rms-client-error';

/** The services a client calls, with their path under the cluster's `_wmcs` base and namespace. */
export const CLIENT_SERVICES = {
  certification: { path: '/certification/certification.asmx', ns: 'http://microsoft.com/DRM/CertificationService' },
  publish: { path: '/licensing/publish.asmx', ns: 'http://microsoft.com/DRM/PublishingService' },
  license: { path: '/licensing/license.asmx', ns: 'http://microsoft.com/DRM/LicensingService' },
  templateDistribution: { path: '/licensing/templateDistribution.asmx', ns: 'http://microsoft.com/DRM/TemplateDistributionService' },
  server: { path: '/licensing/server.asmx', ns: 'http://microsoft.com/DRM/ServerService' },
} as const;

export type ClientService = keyof typeof CLIENT_SERVICES;

/** VersionData 1.0.0.0 unless the request batches (AcquireLicense with several items needs 1.1.0.0). */
export const VERSION_1_0 = '1.0.0.0';
export const VERSION_1_1 = '1.1.0.0';

/** Responses larger than this are refused before parsing: the largest legitimate one is a few chains. */
export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
export const DEFAULT_TIMEOUT_MS = 60_000;

export interface SoapTransportOptions {
  /** The cluster URL: `http(s)://host[:port]` (then `/_wmcs` is added) or the `_wmcs` base itself. */
  serverUrl: string;
  user: string;
  password: string;
  /**
   * Another sign-on than HTTP Basic: the Authorization header value for each request, e.g.
   * `Negotiate <token>` from the platform's Kerberos library (one fresh token per request).
   */
  authorization?: () => string | Promise<string>;
  /** Injected for tests; default: the global fetch. */
  fetch?: typeof fetch;
  timeoutMs?: number;
  maxResponseBytes?: number;
}

export interface SoapCall {
  service: ClientService;
  operation: string;
  /** The content of the operation's wrapper element, written with XmlWriter (already escaped). */
  body?: XmlWriter;
  /** Default 1.0.0.0. */
  maxVersion?: string;
  /** Overrides the endpoint (a licensing URL taken from a publishing licence, say). */
  url?: string;
}

/**
 * Normalises what a user types as the server: `http://host:port` becomes `http://host:port/_wmcs`;
 * `…/_wmcs`, `…/_wmcs/certification` and `…/_wmcs/licensing` all give the `_wmcs` base. Credentials,
 * queries and fragments in the URL are refused (credentials come from the environment).
 */
export function normalizeServerUrl(serverUrl: string): string {
  let u: URL;
  try {
    u = new URL(serverUrl.trim());
  } catch {
    throw new RmsClientError('input', `"${serverUrl}" is not a URL; give the server as http(s)://host[:port]`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new RmsClientError('input', `the server URL must be http or https, not ${u.protocol}`);
  if (u.username || u.password) throw new RmsClientError('input', 'put no user name or password in the server URL; use --user and --password-env');
  if (u.search || u.hash) throw new RmsClientError('input', 'the server URL must not have a query or fragment');
  u.pathname = u.pathname.replace(/\/+$/, '').replace(/\/(certification|licensing)$/i, '');
  return clusterBaseUrl(u.toString());
}

/** True for loopback hosts, where plain HTTP does not expose the password to the network. */
export function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/**
 * SOAP 1.1 over fetch with HTTP Basic authentication. Builds the envelope (VersionData header in
 * the service namespace, wrapper element in the same namespace), parses the answer with the
 * server's own hardened parser (no DTDs, no entities, no repairs), and turns faults and HTTP
 * failures into RmsClientError.
 */
export class SoapTransport {
  readonly baseUrl: string;
  readonly user: string;
  readonly #password: string;
  readonly #authorization: (() => string | Promise<string>) | undefined;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #maxResponseBytes: number;

  constructor(o: SoapTransportOptions) {
    this.baseUrl = normalizeServerUrl(o.serverUrl);
    if (!o.user || o.user.includes(':')) throw new RmsClientError('input', 'the user name must be non-empty and must not contain ":"');
    this.user = o.user;
    this.#password = o.password;
    this.#authorization = o.authorization;
    this.#fetch = o.fetch ?? fetch;
    this.#timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#maxResponseBytes = o.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  }

  endpoint(service: ClientService): string {
    return `${this.baseUrl}${CLIENT_SERVICES[service].path}`;
  }

  /** Sends one request; resolves with the `<OpResponse>` element, or throws RmsClientError. */
  async call(c: SoapCall): Promise<Element> {
    const svc = CLIENT_SERVICES[c.service];
    const url = c.url ?? this.endpoint(c.service);
    const envelope = buildRequestEnvelope(svc.ns, c.operation, c.body, c.maxVersion ?? VERSION_1_0);
    let res: Response;
    try {
      const authorization = this.#authorization ? await this.#authorization() : `Basic ${Buffer.from(`${this.user}:${this.#password}`, 'utf8').toString('base64')}`;
      res = await this.#fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'text/xml; charset=utf-8',
          soapaction: `"${svc.ns}/${c.operation}"`,
          authorization,
        },
        body: envelope,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (e) {
      throw new RmsClientError('network', `cannot reach ${url}: ${networkReason(e, this.#timeoutMs)}`, { operation: c.operation, cause: e });
    }
    const max = this.#maxResponseBytes;
    const text = await readBoundedText(res, max, (why) =>
      new RmsClientError('protocol', why.kind === 'not-utf8' ? `the answer from ${url} is not UTF-8 text` : `the answer from ${url} is larger than ${max} bytes`, {
        httpStatus: res.status,
        operation: c.operation,
      }),
    );
    if (res.status === 401) {
      throw new RmsClientError('unauthorized', `the server refused the user name or password for ${this.user}`, { httpStatus: 401, operation: c.operation });
    }
    return parseResponseEnvelope(text, { operation: c.operation, ns: svc.ns, httpStatus: res.status, url });
  }
}

/** undici hides the useful part (ECONNREFUSED, ENOTFOUND, a TLS reason) in `cause`, sometimes in `cause.errors`. */
function networkReason(e: unknown, timeoutMs: number): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string; errors?: { code?: string; message?: string }[] } };
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`;
  const c = err?.cause;
  const inner = c?.errors?.[0];
  return c?.code ?? inner?.code ?? c?.message ?? err?.message ?? 'network error';
}

export function buildRequestEnvelope(ns: string, operation: string, body: XmlWriter | undefined, maxVersion: string): string {
  if (!/^[A-Za-z][A-Za-z0-9]*$/.test(operation)) throw new RmsClientError('input', `"${operation}" is not an operation name`);
  const header = new XmlWriter()
    .element('VersionData', (v) => v.leaf('MinimumVersion', VERSION_1_0).leaf('MaximumVersion', maxVersion), { xmlns: ns })
    .toXml();
  const inner = body?.toXml() ?? '';
  return (
    `<?xml version="1.0" encoding="utf-8"?>` +
    `<soap:Envelope xmlns:soap="${NS.soap11Envelope}"><soap:Header>${header}</soap:Header>` +
    `<soap:Body><${operation} xmlns="${escapeXmlAttribute(ns)}">${inner}</${operation}></soap:Body></soap:Envelope>`
  );
}


/**
 * Reads a SOAP 1.1 response: the operation's `<OpResponse>` element, or a fault turned into an
 * RmsClientError carrying the exception name. Anything else (an HTML error page, a proxy's
 * answer) is an `http` error when the status says so, `protocol` otherwise.
 */
export function parseResponseEnvelope(text: string, o: { operation: string; ns: string; httpStatus: number; url?: string }): Element {
  const where = o.url ?? 'the server';
  let doc: Document | undefined;
  if (/^\s*</.test(text)) {
    try {
      doc = parseXmlSecurely(text);
    } catch (e) {
      if (o.httpStatus >= 200 && o.httpStatus < 300) {
        throw new RmsClientError('protocol', `the answer from ${where} is not acceptable XML: ${isRmsError(e) ? e.message : String(e)}`, { httpStatus: o.httpStatus, operation: o.operation });
      }
    }
  }
  const root = doc?.documentElement;
  const isEnvelope = root && root.localName === 'Envelope' && root.namespaceURI === NS.soap11Envelope;
  const body = isEnvelope ? childElement(root, 'Body', NS.soap11Envelope) : undefined;
  const first = body ? firstElementChild(body) : undefined;
  if (first && first.localName === 'Fault' && first.namespaceURI === NS.soap11Envelope) {
    const faultString = childText(first, 'faultstring') ?? '';
    const parsed = parseFaultString(faultString);
    throw new RmsClientError('fault', parsed.message || faultString || 'the server returned a fault without a reason', {
      faultName: parsed.faultName,
      shortName: parsed.shortName,
      httpStatus: o.httpStatus,
      operation: o.operation,
    });
  }
  if (o.httpStatus < 200 || o.httpStatus >= 300) {
    throw new RmsClientError('http', `${o.operation} failed: ${where} answered HTTP ${o.httpStatus}${shortText(text)}`, { httpStatus: o.httpStatus, operation: o.operation });
  }
  if (!isEnvelope || !body) throw new RmsClientError('protocol', `the answer from ${where} is not a SOAP 1.1 envelope`, { httpStatus: o.httpStatus, operation: o.operation });
  const expected = `${o.operation}Response`;
  if (!first || first.localName !== expected || first.namespaceURI !== o.ns) {
    throw new RmsClientError('protocol', `the answer from ${where} does not hold {${o.ns}}${expected}`, { httpStatus: o.httpStatus, operation: o.operation });
  }
  return first;
}

function firstElementChild(el: Element): Element | undefined {
  for (let n = el.firstChild; n; n = n.nextSibling) if (n.nodeType === 1) return n as Element;
  return undefined;
}

/** faultstring is unqualified in SOAP 1.1. */
function childText(el: Element, name: string): string | undefined {
  const c = childElement(el, name, null);
  return c ? (c.textContent ?? '') : undefined;
}

function shortText(text: string): string {
  const t = text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200);
  return t ? ` (${t})` : '';
}

/** A required child in the response's namespace, or a protocol error naming the path. */
export function requiredResponseChild(el: Element, name: string, operation: string): Element {
  const c = childElement(el, name);
  if (!c || isNil(c)) throw new RmsClientError('protocol', `${operation}: the answer lacks ${name}`, { operation });
  return c;
}

/** The XrML documents of an ArrayOfXmlNode member (e.g. CertificateChain), standalone, leaf first. */
export function chainOf(el: Element, operation: string): string[] {
  try {
    const chain = certificateNodes(el);
    if (chain.length === 0) throw new RmsClientError('protocol', `${operation}: the answer holds an empty certificate chain`, { operation });
    return chain;
  } catch (e) {
    if (e instanceof RmsClientError) throw e;
    throw new RmsClientError('protocol', `${operation}: the certificate chain in the answer is malformed: ${(e as Error).message}`, { operation, cause: e });
  }
}
