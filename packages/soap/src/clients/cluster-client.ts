import { RmsError } from '@openrms/domain';
import { certificateNodes, childElement, isNil } from '../certificate-nodes';
import { NS } from '../namespaces';
import { parseXmlSecurely } from '../parse-xml-securely';
import { subEnrollChainOf, type SubEnrollRequest } from '../services/sub-enroll-service';
import { escapeXmlText } from '../xml-writer';

const SERVER_NS = 'http://microsoft.com/DRM/ServerService';
const SUBENROLL_NS = 'http://microsoft.com/DRM/SubEnrollmentService';
const VERSION = (ns: string) => `<VersionData xmlns="${ns}"><MinimumVersion>1.0.0.0</MinimumVersion><MaximumVersion>1.0.0.0</MaximumVersion></VersionData>`;

export interface ClusterClientOptions {
  /** The other cluster's `_wmcs` base URL. */
  baseUrl: string;
  credentials: { name: string; password: string };
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/**
 * Server-to-server calls a cluster makes to another (a licensing-only cluster to its root):
 * SubEnroll and GetLicensorCertificate, with HTTP Basic, VersionData 1.0.0.0 as Windows servers send.
 * Faults come back as RmsError('Unavailable' or 'AccessDenied') carrying the other side's faultstring.
 */
export class ClusterClient {
  constructor(private readonly opts: ClusterClientOptions) {}

  async getLicensorCertificate(): Promise<string[]> {
    const body = await this.#call('/certification/server.asmx', `${SERVER_NS}/GetLicensorCertificate`, VERSION(SERVER_NS), `<GetLicensorCertificate xmlns="${SERVER_NS}"/>`);
    const result = childElement(childElement(body, 'GetLicensorCertificateResponse', SERVER_NS) ?? body, 'GetLicensorCertificateResult', SERVER_NS);
    return certificateNodes(result ? childElement(result, 'CertificateChain', SERVER_NS) : undefined);
  }

  async subEnroll(req: SubEnrollRequest): Promise<string[]> {
    const t = (s: string) => escapeXmlText(s);
    const xml =
      `<SubEnroll xmlns="${SUBENROLL_NS}"><oInput><CertificatePublicKey><aPublicKeyBytes>${req.publicKeyPkcs1.toString('base64')}</aPublicKeyBytes>` +
      `<Guid>${t(req.guid.replace(/[{}]/g, ''))}</Guid></CertificatePublicKey><EnrolleeInformation><SKU>${t(req.sku)}</SKU><Version>${t(req.version)}</Version>` +
      `<Name>${t(req.name)}</Name><URL>${t(req.url)}</URL></EnrolleeInformation></oInput></SubEnroll>`;
    const body = await this.#call('/certification/SubEnrollService.asmx', `${SUBENROLL_NS}/SubEnroll`, VERSION(SUBENROLL_NS), xml);
    const resp = childElement(body, 'SubEnrollResponse', SUBENROLL_NS);
    const result = resp ? childElement(resp, 'SubEnrollResult', SUBENROLL_NS) : undefined;
    if (!result || isNil(result)) throw new RmsError('Unavailable', 'the root answered SubEnroll without a result');
    return subEnrollChainOf(result);
  }

  async #call(path: string, action: string, header: string, bodyXml: string): Promise<Element> {
    const url = `${this.opts.baseUrl.replace(/\/+$/, '')}${path}`;
    const envelope = `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="${NS.soap11Envelope}"><soap:Header>${header}</soap:Header><soap:Body>${bodyXml}</soap:Body></soap:Envelope>`;
    const auth = Buffer.from(`${this.opts.credentials.name}:${this.opts.credentials.password}`).toString('base64');
    let res: Response;
    try {
      res = await (this.opts.fetch ?? fetch)(url, {
        method: 'POST',
        headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: `"${action}"`, authorization: `Basic ${auth}` },
        body: envelope,
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
      });
    } catch (e) {
      throw new RmsError('Unavailable', `cannot reach ${url}: ${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}`);
    }
    const text = await res.text();
    if (res.status === 401) throw new RmsError('AccessDenied', `${url} refused the credentials of ${this.opts.credentials.name}`);
    let doc: Document;
    try {
      doc = parseXmlSecurely(text);
    } catch {
      throw new RmsError('Unavailable', `${url} answered HTTP ${res.status} without a SOAP envelope`);
    }
    const body = childElement(doc.documentElement, 'Body', doc.documentElement.namespaceURI);
    if (!body) throw new RmsError('Unavailable', `${url} answered without a SOAP body`);
    const fault = childElement(body, 'Fault', doc.documentElement.namespaceURI);
    if (fault) {
      const fs = fault.getElementsByTagName('faultstring')[0]?.textContent ?? fault.textContent ?? 'fault';
      const code = /UnauthorizedAccessException/.test(fs) ? 'AccessDenied' : 'Unavailable';
      throw new RmsError(code, `${url} refused: ${fs.trim()}`);
    }
    if (!res.ok) throw new RmsError('Unavailable', `${url} answered HTTP ${res.status}`);
    return body;
  }
}
