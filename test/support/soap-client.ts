/** A raw SOAP client over fetch: the tests speak bytes, so they see exactly what a client would. */
export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
}

export interface SoapCallOptions {
  url: string;
  action?: string;
  version?: '1.1' | '1.2';
  auth?: { name: string; password: string } | null;
  body: string | Buffer;
  contentType?: string;
}

export async function postSoap(o: SoapCallOptions): Promise<RawResponse> {
  const headers: Record<string, string> = {};
  if (o.version === '1.2') {
    headers['content-type'] = o.contentType ?? `application/soap+xml; charset=utf-8${o.action ? `; action="${o.action}"` : ''}`;
  } else {
    headers['content-type'] = o.contentType ?? 'text/xml; charset=utf-8';
    if (o.action !== undefined) headers.soapaction = `"${o.action}"`;
  }
  if (o.auth) headers.authorization = `Basic ${Buffer.from(`${o.auth.name}:${o.auth.password}`).toString('base64')}`;
  const body = typeof o.body === 'string' ? o.body : new Uint8Array(o.body);
  const res = await fetch(o.url, { method: 'POST', headers, body });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

export const ENV11 = 'http://schemas.xmlsoap.org/soap/envelope/';
export const ENV12 = 'http://www.w3.org/2003/05/soap-envelope';
export const SERVER_NS = 'http://microsoft.com/DRM/ServerService';

export function envelope(o: { version?: '1.1' | '1.2'; header?: string; body: string }): string {
  const ns = o.version === '1.2' ? ENV12 : ENV11;
  return `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="${ns}">${o.header !== undefined ? `<soap:Header>${o.header}</soap:Header>` : ''}<soap:Body>${o.body}</soap:Body></soap:Envelope>`;
}

export function versionData(ns: string, min = '1.0.0.0', max = '1.0.0.0'): string {
  return `<VersionData xmlns="${ns}"><MinimumVersion>${min}</MinimumVersion><MaximumVersion>${max}</MaximumVersion></VersionData>`;
}

/** The faultstring (1.1) or Reason/Text (1.2) of a fault response. */
export function faultString(xml: string): string | undefined {
  const m = /<faultstring>([\s\S]*?)<\/faultstring>/.exec(xml) ?? /<soap:Text[^>]*>([\s\S]*?)<\/soap:Text>/.exec(xml);
  return m?.[1];
}

/** The XrML documents inside <Certificate> elements, as standalone strings. */
export function certificatesIn(xml: string): string[] {
  return [...xml.matchAll(/<Certificate>([\s\S]*?)<\/Certificate>/g)].map((m) => m[1]!.replace(/^<XrML xmlns=""/, '<XrML'));
}
