import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { XMLSerializer } from '@xmldom/xmldom';
import { buildSoapResponse } from './build-soap-response';
import { childElement, childText } from './certificate-nodes';
import { NS } from './namespaces';
import { parseSoapRequest, type SoapRequest } from './parse-soap-request';
import { parseXmlSecurely } from './parse-xml-securely';
import {
  elementChildren,
  envelope,
  extractSchemas,
  httpRequest,
  NS_CERTIFICATION,
  NS_LICENSING,
  NS_SERVER,
  NS_SUBENROLL,
  service,
  versionData,
  xmllintValidate,
} from './test-support';
import { certificateFragment, escapeXmlAttribute, escapeXmlText, XmlWriter } from './xml-writer';

const SIGNED_SLC =
  '<?xml version="1.0" encoding="utf-8"?>\n<XrML version="1.2"><BODY type="LICENSE" version="3.0"><ISSUEDTIME>2024-01-01T00:00</ISSUEDTIME></BODY>' +
  '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignatureValue>AAAA</SignatureValue></Signature></XrML>';
const ROOT_SLC = '<XrML version="1.2"><BODY type="LICENSE" version="3.0"><ISSUER><NAME>root</NAME></ISSUER></BODY></XrML>';

function request(file: string, ns: string, op: string, version: '1.1' | '1.2' = '1.1', body = `<${op} xmlns="${ns}"/>`): SoapRequest {
  const svc = service(file);
  const hasHeader = svc.operations.get(op)!.hasVersionData;
  const xml = envelope(version, body, hasHeader ? versionData(ns, '1.0.0.0', '1.0.0.0') : undefined);
  return parseSoapRequest(httpRequest(version, xml, `${ns}/${op}`), svc, { maxBytes: 1 << 20 });
}

function bodyChild(responseXml: string): Element {
  const env = parseXmlSecurely(responseXml).documentElement!;
  const body = elementChildren(env).find((e) => e.localName === 'Body')!;
  return elementChildren(body)[0]!;
}

describe('XmlWriter', () => {
  it('escapes text and attributes and refuses bad names', () => {
    const w = new XmlWriter()
      .leaf('A', `<&>"'`, { x: `a"b<c&\n\t` })
      .leaf('Skipped', undefined)
      .leaf('AlsoSkipped', null)
      .leaf('N', 5)
      .leaf('B', false)
      .empty('E', { k: 'v' })
      .element('P', (x) => x.text('t & u'));
    expect(w.toXml()).toBe(
      '<A x="a&quot;b&lt;c&amp;&#xA;&#x9;">&lt;&amp;&gt;"\'</A><N>5</N><B>false</B><E k="v" /><P>t &amp; u</P>',
    );
    expect(() => new XmlWriter().start('a b')).toThrow(/not an XML name/);
    expect(() => new XmlWriter().leaf('x', 'y', { 'on"x': '1' })).toThrow(/not an XML name/);
    expect(() => new XmlWriter().leaf('n', Number.NaN)).toThrow();
    expect(() => new XmlWriter().start('a').toXml()).toThrow(/unclosed/);
    expect(() => new XmlWriter().end()).toThrow();
  });

  it('replaces characters XML cannot carry instead of writing an unparseable document', () => {
    expect(escapeXmlText('a\u0000b\u001fc\uFFFEd')).toBe('a\uFFFDb\uFFFDc\uFFFDd');
    expect(escapeXmlAttribute('\r')).toBe('&#xD;');
    const xml = `<r>${new XmlWriter().leaf('x', 'bad\u0001').toXml()}</r>`;
    expect(() => parseXmlSecurely(xml)).not.toThrow();
  });

  it('writes a nil member that parses as xsi:nil', () => {
    const doc = parseXmlSecurely(`<r>${new XmlWriter().nil('Template').toXml()}</r>`);
    expect(doc.documentElement!.firstChild && (doc.documentElement!.firstChild as Element).getAttributeNS(NS.xsi, 'nil')).toBe('true');
  });
});

describe('certificateFragment', () => {
  it('drops the XML declaration and adds xmlns="" to an unqualified root', () => {
    expect(certificateFragment(SIGNED_SLC)).toBe(
      '<XrML xmlns="" version="1.2"><BODY type="LICENSE" version="3.0"><ISSUEDTIME>2024-01-01T00:00</ISSUEDTIME></BODY>' +
        '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignatureValue>AAAA</SignatureValue></Signature></XrML>',
    );
    expect(certificateFragment('\uFEFF<XrML/>')).toBe('<XrML xmlns=""/>');
  });

  it('leaves a root that already declares its default namespace alone', () => {
    expect(certificateFragment('<XrML xmlns="" version="1.2"/>')).toBe('<XrML xmlns="" version="1.2"/>');
    expect(certificateFragment("<XrML a='>' xmlns = ''></XrML>")).toBe("<XrML a='>' xmlns = ''></XrML>");
  });

  it('refuses DTDs and non-XML', () => {
    expect(() => certificateFragment('<!DOCTYPE x><XrML/>')).toThrow();
    expect(() => certificateFragment('hello')).toThrow();
  });
});

describe('buildSoapResponse', () => {
  it('writes a SOAP 1.1 response with VersionData in the service namespace and a clean XrML chain', () => {
    const req = request('server.wsdl', NS_SERVER, 'GetLicensorCertificate');
    const result = new XmlWriter().certificateArray('CertificateChain', [SIGNED_SLC, ROOT_SLC]);
    const { contentType, body } = buildSoapResponse(req, result);
    expect(contentType).toBe('text/xml; charset=utf-8');
    const env = parseXmlSecurely(body).documentElement!;
    expect(env.namespaceURI).toBe(NS.soap11Envelope);
    const [header, bodyEl] = elementChildren(env);
    const vd = elementChildren(header!)[0]!;
    expect([vd.namespaceURI, vd.localName]).toEqual([NS_SERVER, 'VersionData']);
    expect(childText(vd, 'MinimumVersion')).toBe('1.0.0.0');
    expect(childText(vd, 'MaximumVersion')).toBe('1.1.0.0');
    const wrapper = elementChildren(bodyEl!)[0]!;
    expect([wrapper.namespaceURI, wrapper.localName]).toEqual([NS_SERVER, 'GetLicensorCertificateResponse']);
    const chain = childElement(childElement(wrapper, 'GetLicensorCertificateResult')!, 'CertificateChain')!;
    const xrmls = elementChildren(chain).map((c) => elementChildren(c)[0]!);
    expect(xrmls.map((x) => [x.namespaceURI || null, x.localName])).toEqual([[null, 'XrML'], [null, 'XrML']]);
    const sig = elementChildren(xrmls[0]!)[1]!;
    expect(sig.namespaceURI).toBe('http://www.w3.org/2000/09/xmldsig#');
  });

  it('writes SOAP 1.2 responses with the SOAP 1.2 content type and the configured server range', () => {
    const req = request('server.wsdl', NS_SERVER, 'GetLicensorCertificate', '1.2');
    const { contentType, body } = buildSoapResponse({ ...req, serverVersions: { min: [1, 0, 0, 0], max: [1, 2, 0, 0] } }, '');
    expect(contentType).toBe('application/soap+xml; charset=utf-8');
    const env = parseXmlSecurely(body).documentElement!;
    expect(env.namespaceURI).toBe(NS.soap12Envelope);
    expect(body).toContain(`<VersionData xmlns="${NS_SERVER}"><MinimumVersion>1.0.0.0</MinimumVersion><MaximumVersion>1.2.0.0</MaximumVersion></VersionData>`);
    expect(body).toContain('<GetLicensorCertificateResponse xmlns="http://microsoft.com/DRM/ServerService"><GetLicensorCertificateResult></GetLicensorCertificateResult>');
  });

  it('leaves out the header for GetServerInfo and the result element for a null result', () => {
    const req = request('server.wsdl', NS_SERVER, 'GetServerInfo');
    const { body } = buildSoapResponse(req, null);
    const env = parseXmlSecurely(body).documentElement!;
    expect(elementChildren(env).map((e) => e.localName)).toEqual(['Body']);
    expect(elementChildren(bodyChild(body))).toEqual([]);
  });
});

describe('responses validate against the WSDL schemas (xmllint --schema)', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'openrms-soap-xsd-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  function validate(file: string, ns: string, element: Element | string): [number, string] {
    const sub = fs.mkdtempSync(path.join(dir, 'v-'));
    const xsd = extractSchemas(service(file).wsdlXml, sub).get(ns)!;
    const xmlFile = path.join(sub, 'instance.xml');
    fs.writeFileSync(xmlFile, typeof element === 'string' ? element : new XMLSerializer().serializeToString(element));
    return xmllintValidate(xsd, xmlFile);
  }

  it('GetLicensorCertificateResponse with a two-certificate chain, and its VersionData header', () => {
    const req = request('server.wsdl', NS_SERVER, 'GetLicensorCertificate');
    const { body } = buildSoapResponse(req, new XmlWriter().certificateArray('CertificateChain', [SIGNED_SLC, ROOT_SLC]));
    expect(validate('server.wsdl', NS_SERVER, bodyChild(body))).toEqual([0, '']);
    const header = elementChildren(elementChildren(parseXmlSecurely(body).documentElement!)[0]!)[0]!;
    expect(validate('server.wsdl', NS_SERVER, header)).toEqual([0, '']);
  });

  it('rejects a response the schema does not allow (the check has teeth)', () => {
    const req = request('server.wsdl', NS_SERVER, 'GetLicensorCertificate');
    const { body } = buildSoapResponse(req, new XmlWriter().leaf('Bogus', 'x'));
    const [status, out] = validate('server.wsdl', NS_SERVER, bodyChild(body));
    expect(status).not.toBe(0);
    expect(out).toMatch(/Bogus/);
  });

  it('CertifyResponse with chain and quota', () => {
    const req = request('certification.wsdl', NS_CERTIFICATION, 'Certify', '1.1',
      `<Certify xmlns="${NS_CERTIFICATION}"><requestParams><Persistent>false</Persistent></requestParams></Certify>`);
    const result = new XmlWriter()
      .certificateArray('CertificateChain', [ROOT_SLC])
      .element('Quota', (w) => w.leaf('Verified', true).leaf('CurrentConsumption', 5).leaf('Maximum', 10));
    expect(validate('certification.wsdl', NS_CERTIFICATION, bodyChild(buildSoapResponse(req, result).body))).toEqual([0, '']);
  });

  it('AcquireLicenseResponse with an empty ReferenceCertificates array', () => {
    const req = request('license.wsdl', NS_LICENSING, 'AcquireLicense');
    const result = new XmlWriter().element('AcquireLicenseResponse', (w) =>
      w.certificateArray('CertificateChain', [SIGNED_SLC, ROOT_SLC]).empty('ReferenceCertificates'),
    );
    expect(validate('license.wsdl', NS_LICENSING, bodyChild(buildSoapResponse(req, result).body))).toEqual([0, '']);
  });

  it('the PROTOCOL.md 2.4 AcquireLicense request and a SubEnroll request using the imported s1:guid type', () => {
    const acquire =
      `<AcquireLicense xmlns="${NS_LICENSING}"><RequestParams><AcquireLicenseParams>` +
      `<LicenseeCerts><Certificate><XrML xmlns="" version="1.2"/></Certificate></LicenseeCerts>` +
      `<IssuanceLicense><Certificate><XrML xmlns="" version="1.2"/></Certificate><Certificate><XrML xmlns="" version="1.2"/></Certificate></IssuanceLicense>` +
      `<ApplicationData /></AcquireLicenseParams></RequestParams></AcquireLicense>`;
    expect(validate('license.wsdl', NS_LICENSING, acquire)).toEqual([0, '']);
    const subEnroll = (guid: string) =>
      `<SubEnroll xmlns="${NS_SUBENROLL}"><oInput><CertificatePublicKey><aPublicKeyBytes>AAEC</aPublicKeyBytes><Guid>${guid}</Guid></CertificatePublicKey>` +
      `<EnrolleeInformation><SKU>x</SKU><Version>1.0</Version><Name>lic</Name><URL>http://lic/_wmcs</URL></EnrolleeInformation></oInput></SubEnroll>`;
    expect(validate('sub-enroll.wsdl', NS_SUBENROLL, subEnroll('0f8fad5b-d9cb-469f-a165-70867728950e'))).toEqual([0, '']);
    expect(validate('sub-enroll.wsdl', NS_SUBENROLL, subEnroll('not-a-guid'))[0]).not.toBe(0);
  });
});
