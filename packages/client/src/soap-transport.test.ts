import { RmsError } from '@openrms/domain';
import { buildSoapFault, XmlWriter } from '@openrms/soap';
import { parseFaultString, RmsClientError } from './rms-client-error';
import { RmsServiceClient } from './rms-service-client';
import { buildRequestEnvelope, CLIENT_SERVICES, normalizeServerUrl, parseResponseEnvelope, SoapTransport } from './soap-transport';

const LICENSING = CLIENT_SERVICES.license.ns;

function caught(fn: () => unknown): RmsClientError {
  try {
    fn();
  } catch (e) {
    if (e instanceof RmsClientError) return e;
    throw e;
  }
  throw new Error('no error');
}

/** A fetch that records the request and answers with `status` and `body`. */
function fakeFetch(status: number, body: string, headers: Record<string, string> = { 'content-type': 'text/xml; charset=utf-8' }) {
  const calls: { url: string; init: RequestInit }[] = [];
  const f = (async (url: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(url), init: init ?? {} });
    return new Response(body, { status, headers });
  }) as typeof fetch;
  return { fetch: f, calls };
}

describe('parseFaultString', () => {
  it('splits the .NET exception name from its message', () => {
    expect(parseFaultString('Microsoft.DigitalRightsManagement.Licensing.NoRightsForRequestedPrincipalException: bob has no rights')).toEqual({
      faultName: 'Microsoft.DigitalRightsManagement.Licensing.NoRightsForRequestedPrincipalException',
      shortName: 'NoRightsForRequestedPrincipal',
      message: 'bob has no rights',
    });
    expect(parseFaultString('System.ArgumentNullException')).toMatchObject({ faultName: 'System.ArgumentNullException', shortName: 'ArgumentNull', message: '' });
    expect(parseFaultString('Foo.BarException - text ---> Inner.Exception: x')).toMatchObject({ shortName: 'Bar', message: 'text ---> Inner.Exception: x' });
    expect(parseFaultString('Server was unable to process request.')).toEqual({ faultName: undefined, shortName: undefined, message: 'Server was unable to process request.' });
  });
});

describe('parseResponseEnvelope', () => {
  it('turns a real OpenRMS fault envelope into an RmsClientError with the exception name', () => {
    const fault = buildSoapFault('1.1', new RmsError('NoRightsForRequestedPrincipal', 'carol@example.test has no rights in this issuance licence'));
    const e = caught(() => parseResponseEnvelope(fault.body, { operation: 'AcquireLicense', ns: LICENSING, httpStatus: fault.status }));
    expect(e).toMatchObject({
      kind: 'fault',
      faultName: 'Microsoft.DigitalRightsManagement.Licensing.NoRightsForRequestedPrincipalException',
      shortName: 'NoRightsForRequestedPrincipal',
      message: 'carol@example.test has no rights in this issuance licence',
      httpStatus: 500,
      operation: 'AcquireLicense',
    });
    expect(e.describe()).toBe('NoRightsForRequestedPrincipalException: carol@example.test has no rights in this issuance licence');
  });

  it('keeps a withheld fault’s correlation id, and escaped text unescaped', () => {
    const withheld = buildSoapFault('1.1', new Error('internal'), { correlationId: 'req-42' });
    expect(caught(() => parseResponseEnvelope(withheld.body, { operation: 'Certify', ns: LICENSING, httpStatus: 500 }))).toMatchObject({
      shortName: 'UnspecifiedError',
      message: 'Correlation id req-42',
    });
    const escaped = buildSoapFault('1.1', new RmsError('Argument', 'a <b> & "c"'));
    expect(caught(() => parseResponseEnvelope(escaped.body, { operation: 'X', ns: LICENSING, httpStatus: 500 })).message).toBe('a <b> & "c"');
  });

  it('returns the operation’s response element and refuses anything else', () => {
    const ok = `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><AcquireLicenseResponse xmlns="${LICENSING}"><AcquireLicenseResult/></AcquireLicenseResponse></soap:Body></soap:Envelope>`;
    expect(parseResponseEnvelope(ok, { operation: 'AcquireLicense', ns: LICENSING, httpStatus: 200 }).localName).toBe('AcquireLicenseResponse');
    expect(caught(() => parseResponseEnvelope(ok, { operation: 'Certify', ns: LICENSING, httpStatus: 200 }))).toMatchObject({ kind: 'protocol' });
    expect(caught(() => parseResponseEnvelope(ok.replace(LICENSING, 'urn:other'), { operation: 'AcquireLicense', ns: LICENSING, httpStatus: 200 }))).toMatchObject({ kind: 'protocol' });
    expect(caught(() => parseResponseEnvelope('<html>oops</html>', { operation: 'AcquireLicense', ns: LICENSING, httpStatus: 200 }))).toMatchObject({ kind: 'protocol' });
    expect(caught(() => parseResponseEnvelope('Bad gateway', { operation: 'AcquireLicense', ns: LICENSING, httpStatus: 502 }))).toMatchObject({ kind: 'http', httpStatus: 502 });
  });

  it('refuses DTDs and entities in answers', () => {
    const xxe = `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&e;</soap:Body></soap:Envelope>`;
    expect(caught(() => parseResponseEnvelope(xxe, { operation: 'AcquireLicense', ns: LICENSING, httpStatus: 200 })).message).toMatch(/DTD/);
  });
});

describe('SoapTransport', () => {
  it('normalises server URLs to the _wmcs base', () => {
    expect(normalizeServerUrl('http://rms.example.test:8080')).toBe('http://rms.example.test:8080/_wmcs');
    expect(normalizeServerUrl('https://rms.example.test/_wmcs/')).toBe('https://rms.example.test/_wmcs');
    expect(normalizeServerUrl('https://rms.example.test/_wmcs/Licensing')).toBe('https://rms.example.test/_wmcs');
    expect(() => normalizeServerUrl('ftp://x')).toThrow(/http or https/);
    expect(() => normalizeServerUrl('http://u:p@x')).toThrow(/no user name or password/);
    expect(() => normalizeServerUrl('not a url')).toThrow(/not a URL/);
  });

  it('sends SOAP 1.1 with SOAPAction, Basic auth and VersionData in the service namespace', async () => {
    const answer = `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetLicensorCertificateResponse xmlns="${CLIENT_SERVICES.server.ns}"/></soap:Body></soap:Envelope>`;
    const f = fakeFetch(200, answer);
    const t = new SoapTransport({ serverUrl: 'http://127.0.0.1:8080', user: 'alice', password: 'pw:with:colons', fetch: f.fetch });
    await t.call({ service: 'server', operation: 'GetLicensorCertificate' });
    const { url, init } = f.calls[0]!;
    expect(url).toBe('http://127.0.0.1:8080/_wmcs/licensing/server.asmx');
    const h = init.headers as Record<string, string>;
    expect(h.soapaction).toBe('"http://microsoft.com/DRM/ServerService/GetLicensorCertificate"');
    expect(h['content-type']).toBe('text/xml; charset=utf-8');
    expect(Buffer.from(h.authorization!.replace(/^Basic /, ''), 'base64').toString()).toBe('alice:pw:with:colons');
    expect(init.body).toContain(
      `<VersionData xmlns="${CLIENT_SERVICES.server.ns}"><MinimumVersion>1.0.0.0</MinimumVersion><MaximumVersion>1.0.0.0</MaximumVersion></VersionData>`,
    );
    expect(init.body).toContain(`<GetLicensorCertificate xmlns="${CLIENT_SERVICES.server.ns}"></GetLicensorCertificate>`);
  });

  it('writes certificate chains with xmlns="" and batches AcquireLicense at 1.1.0.0', () => {
    const body = new XmlWriter().certificateArray('LicenseeCerts', ['<XrML version="1.2"><BODY/></XrML>']);
    const env = buildRequestEnvelope(LICENSING, 'AcquireLicense', body, '1.1.0.0');
    expect(env).toContain('<LicenseeCerts><Certificate><XrML xmlns="" version="1.2"><BODY/></XrML></Certificate></LicenseeCerts>');
    expect(env).toContain('<MaximumVersion>1.1.0.0</MaximumVersion>');
  });

  it('reports 401 as the user name or password being refused', async () => {
    const f = fakeFetch(401, 'authentication required', { 'content-type': 'text/plain', 'www-authenticate': 'Basic realm="OpenRMS"' });
    const c = new RmsServiceClient({ serverUrl: 'http://127.0.0.1:8080', user: 'bob', password: 'x', fetch: f.fetch });
    await expect(c.getLicensorCertificate()).rejects.toMatchObject({
      kind: 'unauthorized',
      httpStatus: 401,
      message: 'the server refused the user name or password for bob',
    });
  });

  it('reports a DACL refusal (403 with a fault) as that fault', async () => {
    const fault = buildSoapFault('1.1', new RmsError('AccessDenied', 'access to /_wmcs/licensing/license.asmx is denied'));
    const f = fakeFetch(403, fault.body);
    const c = new RmsServiceClient({ serverUrl: 'http://127.0.0.1:8080', user: 'bob', password: 'x', fetch: f.fetch });
    await expect(c.getLicensorCertificate()).rejects.toMatchObject({ kind: 'fault', shortName: 'UnauthorizedAccess', httpStatus: 403 });
  });

  it('reads a per-item AcquireLicenseException of a batch', async () => {
    const answer =
      `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><AcquireLicenseResponse xmlns="${LICENSING}"><AcquireLicenseResult>` +
      `<AcquireLicenseResponse><CertificateChain><Certificate><AcquireLicenseException><ExceptionString>Microsoft.DigitalRightsManagement.Licensing.NoRightsForRequestedPrincipalException: no</ExceptionString><batchindex>0</batchindex></AcquireLicenseException></Certificate></CertificateChain><ReferenceCertificates /></AcquireLicenseResponse>` +
      `</AcquireLicenseResult></AcquireLicenseResponse></soap:Body></soap:Envelope>`;
    const f = fakeFetch(200, answer);
    const c = new RmsServiceClient({ serverUrl: 'http://127.0.0.1:8080', user: 'bob', password: 'x', fetch: f.fetch });
    const [r] = await c.acquireLicense([{ licenseeCerts: ['<XrML/>'], issuanceLicense: ['<XrML/>'] }]);
    expect(r).toMatchObject({ error: { kind: 'fault', shortName: 'NoRightsForRequestedPrincipal', message: 'no' } });
  });

  it('reports an unreachable server as a network error', async () => {
    const refused = (async () => {
      throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    }) as typeof fetch;
    const c = new RmsServiceClient({ serverUrl: 'http://127.0.0.1:8080', user: 'bob', password: 'x', fetch: refused });
    await expect(c.getLicensorCertificate()).rejects.toMatchObject({ kind: 'network', message: expect.stringMatching(/cannot reach .*: ECONNREFUSED/) });
  });
});
