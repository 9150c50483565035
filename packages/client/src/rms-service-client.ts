import { childElement, childElements, isNil, XmlWriter } from '@openrms/soap';
import { parseFaultString, RmsClientError } from './rms-client-error';
import { chainOf, requiredResponseChild, SoapTransport, VERSION_1_0, VERSION_1_1, type SoapTransportOptions } from './soap-transport';

export interface TemplateSummary {
  guid: string;
  /** Base64 digest of the template's signature, as the server lists it. */
  hash: string;
}

export interface TemplateInformation {
  /** The SLC public key, base64 PKCS#1: identifies the server only. */
  serverPublicKey: string | undefined;
  templates: TemplateSummary[];
}

export interface AcquireLicenseRequest {
  /** The user's RAC chain, leaf first. */
  licenseeCerts: string[];
  /** The signed PL chain, leaf first. */
  issuanceLicense: string[];
}

/** One item of an AcquireLicense answer: the UL chain, or the item's own exception (batches only). */
export type AcquireLicenseResult = { chain: string[] } | { error: RmsClientError };

/** The protocol's cap on templates per AcquireTemplates request. */
export const TEMPLATES_PER_REQUEST = 25;

/**
 * The RMS client operations, one method each, over SoapTransport. Every method returns the
 * certificate chains exactly as received; checking them is the caller's job (RmsClient does it
 * against the keys it trusts).
 */
export class RmsServiceClient {
  readonly transport: SoapTransport;

  constructor(transportOrOptions: SoapTransport | SoapTransportOptions) {
    this.transport = transportOrOptions instanceof SoapTransport ? transportOrOptions : new SoapTransport(transportOrOptions);
  }

  /** Certify: the SPC chain in, the RAC chain (RAC, then the SLC chain) out. */
  async certify(machineChain: string[], persistent = true): Promise<string[]> {
    const op = 'Certify';
    const body = new XmlWriter().element('requestParams', (p) => p.certificateArray('MachineCertificateChain', machineChain).leaf('Persistent', persistent));
    const res = await this.transport.call({ service: 'certification', operation: op, body });
    const result = requiredResponseChild(res, 'CertifyResult', op);
    return chainOf(requiredResponseChild(result, 'CertificateChain', op), op);
  }

  /** GetClientLicensorCert: the RAC chain in, the CLC chain (CLC, then the SLC chain) out. */
  async getClientLicensorCert(racChain: string[]): Promise<string[]> {
    const op = 'GetClientLicensorCert';
    const body = new XmlWriter().element('RequestParams', (r) =>
      r.element('GetClientLicensorCertParams', (p) => p.certificateArray('PersonaCerts', racChain)),
    );
    const res = await this.transport.call({ service: 'publish', operation: op, body });
    return single(res, `${op}Result`, `${op}Response`, op);
  }

  /** AcquireIssuanceLicense (online publishing): an unsigned PL in, the signed PL chain out. */
  async acquireIssuanceLicense(unsignedPl: string): Promise<string[]> {
    const op = 'AcquireIssuanceLicense';
    const body = new XmlWriter().element('RequestParams', (r) =>
      r.element('AcquireIssuanceLicenseParams', (p) => p.start('UnsignedIssuanceLicense').xrml(unsignedPl).end()),
    );
    const res = await this.transport.call({ service: 'publish', operation: op, body });
    return single(res, `${op}Result`, `${op}Response`, op);
  }

  /**
   * AcquireLicense. One item is sent with VersionData 1.0.0.0 and a refusal is a fault (thrown);
   * several go as one batch with 1.1.0.0, and each refused item carries its own error.
   * `url` is the license.asmx to call (the one the publishing licence names).
   */
  async acquireLicense(items: AcquireLicenseRequest[], url?: string): Promise<AcquireLicenseResult[]> {
    const op = 'AcquireLicense';
    if (items.length === 0) throw new RmsClientError('input', 'AcquireLicense needs at least one item');
    const body = new XmlWriter().element('RequestParams', (r) => {
      for (const item of items) {
        r.element('AcquireLicenseParams', (p) =>
          p.certificateArray('LicenseeCerts', item.licenseeCerts).certificateArray('IssuanceLicense', item.issuanceLicense).empty('ApplicationData'),
        );
      }
    });
    const res = await this.transport.call({
      service: 'license',
      operation: op,
      body,
      maxVersion: items.length > 1 ? VERSION_1_1 : VERSION_1_0,
      ...(url === undefined ? {} : { url }),
    });
    const result = requiredResponseChild(res, `${op}Result`, op);
    const answers = childElements(result, 'AcquireLicenseResponse');
    if (answers.length !== items.length) {
      throw new RmsClientError('protocol', `${op}: ${items.length} item(s) sent, ${answers.length} answered`, { operation: op });
    }
    return answers.map((a): AcquireLicenseResult => {
      const chainEl = requiredResponseChild(a, 'CertificateChain', op);
      const exception = childElement(childElement(chainEl, 'Certificate') ?? chainEl, 'AcquireLicenseException');
      if (exception) {
        const text = childElement(exception, 'ExceptionString')?.textContent ?? '';
        const parsed = parseFaultString(text);
        return { error: new RmsClientError('fault', parsed.message || text, { faultName: parsed.faultName, shortName: parsed.shortName, operation: op }) };
      }
      return { chain: chainOf(chainEl, op) };
    });
  }

  /** AcquireTemplateInformation: the GUIDs and hashes of the server's official templates. */
  async acquireTemplateInformation(): Promise<TemplateInformation> {
    const op = 'AcquireTemplateInformation';
    const res = await this.transport.call({ service: 'templateDistribution', operation: op });
    const result = childElement(res, `${op}Result`);
    if (!result || isNil(result)) return { serverPublicKey: undefined, templates: [] };
    const key = childElement(result, 'ServerPublicKey');
    return {
      serverPublicKey: key && !isNil(key) ? (key.textContent ?? '').trim() : undefined,
      templates: childElements(result, 'GuidHash').map((g) => ({
        guid: (childElement(g, 'Guid')?.textContent ?? '').trim(),
        hash: (childElement(g, 'Hash')?.textContent ?? '').trim(),
      })),
    };
  }

  /** AcquireTemplates: the XrML of each template (null for one the server does not know), 25 per request. */
  async acquireTemplates(guids: string[]): Promise<{ guid: string; hash: string; template: string | null }[]> {
    const op = 'AcquireTemplates';
    const out: { guid: string; hash: string; template: string | null }[] = [];
    for (let i = 0; i < guids.length; i += TEMPLATES_PER_REQUEST) {
      const batch = guids.slice(i, i + TEMPLATES_PER_REQUEST);
      const body = new XmlWriter().element('guids', (g) => {
        for (const guid of batch) g.leaf('string', guid);
      });
      const res = await this.transport.call({ service: 'templateDistribution', operation: op, body });
      const result = childElement(res, `${op}Result`);
      if (!result || isNil(result)) continue;
      for (const t of childElements(result, 'GuidTemplate')) {
        const template = childElement(t, 'Template');
        out.push({
          guid: (childElement(t, 'Guid')?.textContent ?? '').trim(),
          hash: (childElement(t, 'Hash')?.textContent ?? '').trim(),
          template: template && !isNil(template) ? (template.textContent ?? '') : null,
        });
      }
    }
    return out;
  }

  /** GetLicensorCertificate: the server's SLC chain. */
  async getLicensorCertificate(): Promise<string[]> {
    const op = 'GetLicensorCertificate';
    const res = await this.transport.call({ service: 'server', operation: op });
    const result = requiredResponseChild(res, `${op}Result`, op);
    return chainOf(requiredResponseChild(result, 'CertificateChain', op), op);
  }
}

/** `<OpResult><OpResponse><CertificateChain>` with exactly one item, as we always send one. */
function single(res: Element, resultName: string, itemName: string, op: string): string[] {
  const items = childElements(requiredResponseChild(res, resultName, op), itemName);
  if (items.length !== 1) throw new RmsClientError('protocol', `${op}: one item sent, ${items.length} answered`, { operation: op });
  return chainOf(requiredResponseChild(items[0]!, 'CertificateChain', op), op);
}
