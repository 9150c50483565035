import { execFile } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { RmsError } from '@openrms/domain';
import { certificateNodes, childElement, childElements, childText } from './certificate-nodes';
import { createSoapEndpoint, type SoapEndpoint, type SoapErrorInfo } from './create-soap-endpoint';
import { WSDL_DIR } from './load-service';
import { NS } from './namespaces';
import type { SoapRequest } from './parse-soap-request';
import {
  envelope,
  httpRequest,
  NS_LICENSING,
  NS_SERVER,
  NS_SUBENROLL,
  readFault,
  service,
  versionData,
} from './test-support';
import { XmlWriter } from './xml-writer';

const server = service('server.wsdl');
const license = service('license.wsdl');
const subEnroll = service('sub-enroll.wsdl');
const GLC = `${NS_SERVER}/GetLicensorCertificate`;
const GLC_BODY = `<GetLicensorCertificate xmlns="${NS_SERVER}" />`;
const VD = versionData(NS_SERVER, '1.0.0.0', '1.0.0.0');
const SLC = '<XrML version="1.2"><BODY type="LICENSE" version="3.0"><NAME>slc</NAME></BODY></XrML>';
const S11 = NS.soap11Envelope;
const S12 = NS.soap12Envelope;

interface Ctx {
  user: string;
}

function serverEndpoint(onError?: (err: unknown, req: SoapRequest | undefined, info: SoapErrorInfo) => void): SoapEndpoint<Ctx> {
  return createSoapEndpoint<Ctx>(
    server,
    {
      GetLicensorCertificate: async () => new XmlWriter().certificateArray('CertificateChain', [SLC]),
      FindServiceLocationsForUser: async (req, ctx) => {
        const w = new XmlWriter();
        for (const r of childElements(childElement(req.bodyElement, 'ServiceNames')!, 'ServiceLocationRequest')) {
          const type = childText(r, 'Type');
          if (type === 'Crash') throw new Error(`db password for ${ctx.user} is hunter2`);
          w.element('ServiceLocationResponse', (x) => x.leaf('URL', `http://rms/_wmcs/${type}?u=${ctx.user}&x=<y>`).leaf('Type', type));
        }
        return w;
      },
      GetServerInfo: async () => {
        throw new RmsError('ArgumentNull', 'requests is null');
      },
    },
    { maxBytes: 64 * 1024, onError },
  );
}

describe('createSoapEndpoint', () => {
  it('dispatches to the handler with the context and writes the response', async () => {
    const endpoint = serverEndpoint();
    const out = await endpoint(httpRequest('1.1', envelope('1.1', GLC_BODY, VD), GLC), { user: 'alice' });
    expect(out.status).toBe(200);
    expect(out.operation).toBe('GetLicensorCertificate');
    expect(out.fault).toBeUndefined();
    expect(out.contentType).toBe('text/xml; charset=utf-8');
    expect(out.body).toContain('<GetLicensorCertificateResult><CertificateChain><Certificate><XrML xmlns="" version="1.2">');

    const body = `<FindServiceLocationsForUser xmlns="${NS_SERVER}"><ServiceNames><ServiceLocationRequest><Type>LicensingService</Type></ServiceLocationRequest></ServiceNames></FindServiceLocationsForUser>`;
    const out12 = await endpoint(httpRequest('1.2', envelope('1.2', body, VD), `${NS_SERVER}/FindServiceLocationsForUser`), { user: 'bob' });
    expect(out12.status).toBe(200);
    expect(out12.contentType).toBe('application/soap+xml; charset=utf-8');
    expect(out12.body).toContain('<URL>http://rms/_wmcs/LicensingService?u=bob&amp;x=&lt;y&gt;</URL>');
  });

  it('answers an operation without a handler with InvalidOperationException', async () => {
    const endpoint = serverEndpoint();
    const body = `<FindServiceLocations xmlns="${NS_SERVER}"/>`;
    const out = await endpoint(httpRequest('1.1', envelope('1.1', body, VD), `${NS_SERVER}/FindServiceLocations`), { user: 'a' });
    expect(out.status).toBe(500);
    expect(out.operation).toBe('FindServiceLocations');
    expect(readFault(out.body)).toMatchObject({
      code: `{${S11}}Server`,
      text: 'System.InvalidOperationException: The operation FindServiceLocations is not available on this server.',
    });
  });

  it('faults in the SOAP version of the request, with the handler error mapped', async () => {
    const body = `<GetServerInfo xmlns="${NS_SERVER}"/>`;
    const out = await serverEndpoint()(httpRequest('1.2', envelope('1.2', body), `${NS_SERVER}/GetServerInfo`), { user: 'a' });
    expect(out.fault).toBe('System.ArgumentNullException');
    expect(out.contentType).toBe('application/soap+xml; charset=utf-8');
    expect(readFault(out.body)).toMatchObject({ version: '1.2', code: `{${S12}}Receiver`, text: 'System.ArgumentNullException: requests is null' });
  });

  it('hides an unexpected handler error behind the correlation id and reports it once', async () => {
    const seen: Array<[unknown, string | undefined, SoapErrorInfo]> = [];
    const endpoint = serverEndpoint((err, req, info) => seen.push([err, req?.operation.name, info]));
    const body = `<FindServiceLocationsForUser xmlns="${NS_SERVER}"><ServiceNames><ServiceLocationRequest><Type>Crash</Type></ServiceLocationRequest></ServiceNames></FindServiceLocationsForUser>`;
    const input = { ...httpRequest('1.1', envelope('1.1', body, VD), `${NS_SERVER}/FindServiceLocationsForUser`), correlationId: 'req-42' };
    const out = await endpoint(input, { user: 'eve' });
    expect(readFault(out.body).text).toBe('Microsoft.DigitalRightsManagement.Utilities.UnspecifiedErrorException: Correlation id req-42');
    expect(out.body).not.toMatch(/hunter2|eve|Error:/);
    expect(seen).toHaveLength(1);
    expect((seen[0]![0] as Error).message).toContain('hunter2');
    expect(seen[0]![1]).toBe('FindServiceLocationsForUser');
    expect(seen[0]![2]).toEqual({ correlationId: 'req-42', faultName: 'Microsoft.DigitalRightsManagement.Utilities.UnspecifiedErrorException', withheld: true });
  });

  it('never throws, even when the logger does', async () => {
    const endpoint = serverEndpoint(() => {
      throw new Error('logger down');
    });
    const out = await endpoint({ body: Buffer.from('junk'), contentType: 'text/xml', soapActionHeader: GLC }, { user: 'a' });
    expect(out.status).toBe(500);
    expect(out.fault).toBe('System.Xml.XmlException');
  });

  it('refuses handlers for operations the WSDL does not have', () => {
    expect(() => createSoapEndpoint(server, { Nope: async () => '' }, { maxBytes: 1 })).toThrow(/no operation Nope/);
  });

  // Every rejection rule, through the endpoint, as the client sees it.
  const faultCases: Array<[string, Parameters<SoapEndpoint>[0], string, string]> = [
    ['missing VersionData', httpRequest('1.1', envelope('1.1', GLC_BODY), GLC), 'Microsoft.DigitalRightsManagement.Core.MalformedDataVersionException', `{${S11}}Server`],
    ['malformed VersionData', httpRequest('1.1', envelope('1.1', GLC_BODY, versionData(NS_SERVER, '1', '1')), GLC), 'Microsoft.DigitalRightsManagement.Core.MalformedDataVersionException', `{${S11}}Server`],
    ['VersionData min > max', httpRequest('1.2', envelope('1.2', GLC_BODY, versionData(NS_SERVER, '1.1.0.0', '1.0.0.0')), GLC), 'Microsoft.DigitalRightsManagement.Core.MalformedDataVersionException', `{${S12}}Receiver`],
    ['VersionData too high', httpRequest('1.1', envelope('1.1', GLC_BODY, versionData(NS_SERVER, '1.0.0.0', '2.0.0.0')), GLC), 'Microsoft.DigitalRightsManagement.Core.UnsupportedDataVersionException', `{${S11}}Server`],
    ['a DOCTYPE', httpRequest('1.1', `<!DOCTYPE x>${envelope('1.1', GLC_BODY, VD).replace(/^<\?xml[^>]*>\n/, '')}`, GLC), 'System.Xml.XmlException', `{${S11}}Client`],
    ['an external entity (SOAP 1.2)', httpRequest('1.2', `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>`, GLC), 'System.Xml.XmlException', `{${S12}}Sender`],
    ['a processing instruction', httpRequest('1.1', envelope('1.1', `<?pi?>${GLC_BODY}`, VD), GLC), 'System.Xml.XmlException', `{${S11}}Client`],
    ['malformed XML', httpRequest('1.1', '<soap:Envelope', GLC), 'System.Xml.XmlException', `{${S11}}Client`],
    ['a non-UTF-8 charset', httpRequest('1.1', envelope('1.1', GLC_BODY, VD), GLC, { contentType: 'text/xml; charset=utf-16' }), 'System.Web.Services.Protocols.SoapException', `{${S11}}Client`],
    ['two body children', httpRequest('1.1', envelope('1.1', GLC_BODY + GLC_BODY, VD), GLC), 'System.Web.Services.Protocols.SoapException', `{${S11}}Client`],
    ['an unknown action', httpRequest('1.1', envelope('1.1', GLC_BODY, VD), `${NS_SERVER}/Nope`), 'System.Web.Services.Protocols.SoapException', `{${S11}}Client`],
    ['an action that disagrees with the body', httpRequest('1.2', envelope('1.2', GLC_BODY, VD), `${NS_SERVER}/GetServerInfo`), 'System.Web.Services.Protocols.SoapException', `{${S12}}Sender`],
    ['a mustUnderstand header', httpRequest('1.1', envelope('1.1', GLC_BODY, `${VD}<t:T xmlns:t="urn:t" soap:mustUnderstand="1"/>`), GLC), 'System.Web.Services.Protocols.SoapHeaderException', `{${S11}}MustUnderstand`],
    ['a body over the limit', httpRequest('1.1', envelope('1.1', `<GetLicensorCertificate xmlns="${NS_SERVER}"><!--${'x'.repeat(70000)}--></GetLicensorCertificate>`, VD), GLC), 'System.Web.HttpException', `{${S11}}Client`],
    ['an unknown envelope namespace', httpRequest('1.1', `<Envelope xmlns="urn:x"><Body/></Envelope>`, GLC), 'System.Web.Services.Protocols.SoapException', `{${S11}}VersionMismatch`],
  ];
  it.each(faultCases)('faults on %s with the right name and code, as a parseable envelope', async (_what, input, name, code) => {
    const out = await serverEndpoint()(input, { user: 'a' });
    expect(out.status).toBe(500);
    expect(out.fault).toBe(name);
    const fault = readFault(out.body);
    expect(fault.code).toBe(code);
    expect(fault.text.startsWith(`${name}: `)).toBe(true);
    expect(out.body).not.toMatch(/<(\w+:)?VersionData/);
  });

  it('answers SOAP 1.2 on the SOAP 1.1-only SubEnroll service with a SOAP 1.1 VersionMismatch', async () => {
    const endpoint = createSoapEndpoint(subEnroll, { SubEnroll: async () => '' }, { maxBytes: 1 << 16 });
    const xml = envelope('1.2', `<SubEnroll xmlns="${NS_SUBENROLL}"/>`, versionData(NS_SUBENROLL, '1.0.0.0', '1.0.0.0'));
    const out = await endpoint(httpRequest('1.2', xml, `${NS_SUBENROLL}/SubEnroll`), undefined);
    expect(out.contentType).toBe('text/xml; charset=utf-8');
    expect(readFault(out.body)).toMatchObject({ version: '1.1', code: `{${S11}}VersionMismatch`, headerChildren: [`{${S12}}Upgrade`] });
  });
});

// A real WSDL client talking HTTP to the endpoint: zeep builds the requests from the WSDL and parses our answers.
const ZEEP_CLIENT = `
import sys, json, zeep
from zeep.helpers import serialize_object
from lxml import etree
base, wsdl_dir = sys.argv[1], sys.argv[2]
out = {}
def run(name, fn):
    try:
        out[name] = {'ok': serialize_object(fn())}
    except zeep.exceptions.Fault as f:
        out[name] = {'fault': f.message, 'code': str(f.code)}
def xml(e):
    # Exclusive c14n, as a signature verifier would see the document (lxml alone would copy the
    # envelope's namespace declarations onto the element).
    return etree.tostring(e, method='c14n', exclusive=True).decode() if isinstance(e, etree._Element) else str(e)

S = '{http://microsoft.com/DRM/ServerService}'
c = zeep.Client(wsdl_dir + '/server.wsdl')
VD = c.get_element(S + 'VersionData')
for port in ['ServerSoap', 'ServerSoap12']:
    svc = c.create_service(S + port, base + '/server')
    run(port + ' GetLicensorCertificate', lambda: svc.GetLicensorCertificate(_soapheaders=[VD(MinimumVersion='1.0.0.0', MaximumVersion='1.1.0.0')]))
    run(port + ' FindServiceLocationsForUser', lambda: svc.FindServiceLocationsForUser(
        ServiceNames={'ServiceLocationRequest': [{'Type': 'LicensingService'}, {'Type': 'CertificationService'}]},
        _soapheaders=[VD(MinimumVersion='1.0.0.0', MaximumVersion='1.0.0.0')]))
    run(port + ' too high', lambda: svc.GetLicensorCertificate(_soapheaders=[VD(MinimumVersion='1.0.0.0', MaximumVersion='9.0.0.0')]))
    run(port + ' GetServerInfo', lambda: svc.GetServerInfo(requests={'ServerInfoRequest': [{'Type': 'VersionInfo'}]}))

L = '{http://microsoft.com/DRM/LicensingService}'
lc = zeep.Client(wsdl_dir + '/license.wsdl')
LVD = lc.get_element(L + 'VersionData')
lsvc = lc.create_service(L + 'LicenseSoap', base + '/license')
rac = etree.fromstring('<XrML version="1.2"><BODY type="LICENSE"><NAME>rac &amp; co</NAME></BODY></XrML>')
pl = etree.fromstring('<XrML version="1.2"><BODY type="Microsoft Rights Label"/></XrML>')
run('AcquireLicense', lambda: lsvc.AcquireLicense(
    RequestParams={'AcquireLicenseParams': [{'LicenseeCerts': {'Certificate': [{'_value_1': rac}]},
                                             'IssuanceLicense': {'Certificate': [{'_value_1': pl}]}, 'ApplicationData': {}}]},
    _soapheaders=[LVD(MinimumVersion='1.0.0.0', MaximumVersion='1.0.0.0')]))

E = '{http://microsoft.com/DRM/SubEnrollmentService}'
ec = zeep.Client(wsdl_dir + '/sub-enroll.wsdl')
EVD = ec.get_element(E + 'VersionData')
esvc = ec.create_service(E + 'SubEnrollServiceSoap', base + '/subenroll')
run('SubEnroll', lambda: esvc.SubEnroll(oInput={
    'CertificatePublicKey': {'aPublicKeyBytes': b'\\x01\\x02', 'Guid': '0f8fad5b-d9cb-469f-a165-70867728950e'},
    'EnrolleeInformation': {'SKU': 's', 'Version': '1', 'Name': 'n', 'URL': 'http://lic/_wmcs'}},
    _soapheaders=[EVD(MinimumVersion='1.0.0.0', MaximumVersion='1.0.0.0')]))
print(json.dumps(out, default=xml))
`;

describe('interoperability with python3-zeep over HTTP', () => {
  let httpServer: http.Server;
  let base: string;
  const seen: Array<{ op: string; version: string; detail?: unknown }> = [];

  beforeAll(async () => {
    const endpoints: Record<string, SoapEndpoint<undefined>> = {
      '/server': createSoapEndpoint(server, {
        GetLicensorCertificate: async (req) => {
          seen.push({ op: 'GetLicensorCertificate', version: req.soapVersion, detail: req.version?.clientMax });
          return new XmlWriter().certificateArray('CertificateChain', [SLC, SLC.replace('slc', 'root')]);
        },
        FindServiceLocationsForUser: async (req) => {
          const types = childElements(childElement(req.bodyElement, 'ServiceNames')!, 'ServiceLocationRequest').map((r) => childText(r, 'Type')!);
          seen.push({ op: 'FindServiceLocationsForUser', version: req.soapVersion, detail: types });
          const w = new XmlWriter();
          for (const t of types) w.element('ServiceLocationResponse', (x) => x.leaf('URL', `http://rms/_wmcs/${t}`).leaf('Type', t));
          return w;
        },
        GetServerInfo: async (req) => {
          seen.push({ op: 'GetServerInfo', version: req.soapVersion });
          return new XmlWriter().element('Results', (w) => w.element('ServerInfoRequest', (x) => x.empty('VersionInfo', { Version: '6.0.0.0' }), { Type: 'VersionInfo', AdditionalInfo: '' }), { xmlns: '' });
        },
      }, { maxBytes: 1 << 20 }),
      '/license': createSoapEndpoint(license, {
        AcquireLicense: async (req) => {
          const params = childElement(childElement(req.bodyElement, 'RequestParams')!, 'AcquireLicenseParams')!;
          const racs = certificateNodes(childElement(params, 'LicenseeCerts'));
          const pls = certificateNodes(childElement(params, 'IssuanceLicense'));
          seen.push({ op: 'AcquireLicense', version: req.soapVersion, detail: [...racs, ...pls] });
          return new XmlWriter().element('AcquireLicenseResponse', (w) => w.certificateArray('CertificateChain', [...racs, ...pls]).empty('ReferenceCertificates'));
        },
      }, { maxBytes: 1 << 20 }),
      '/subenroll': createSoapEndpoint(subEnroll, {
        SubEnroll: async (req) => {
          const key = childElement(childElement(req.bodyElement, 'oInput')!, 'CertificatePublicKey')!;
          seen.push({ op: 'SubEnroll', version: req.soapVersion, detail: [childText(key, 'aPublicKeyBytes'), childText(key, 'Guid')] });
          return new XmlWriter().element('LicensorCertificateChain', (w) => w.leaf('string', SLC).leaf('string', 'root'));
        },
      }, { maxBytes: 1 << 20 }),
    };
    httpServer = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const endpoint = endpoints[req.url ?? ''];
        if (!endpoint) {
          res.writeHead(404).end();
          return;
        }
        void endpoint({ body: Buffer.concat(chunks), contentType: req.headers['content-type'], soapActionHeader: req.headers.soapaction as string | undefined }, undefined)
          .then((out) => res.writeHead(out.status, { 'Content-Type': out.contentType }).end(out.body));
      });
    });
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => httpServer.close(() => resolve())));

  it('zeep calls every kind of operation on both bindings and reads our answers and faults', async () => {
    // Async on purpose: the HTTP server runs on this event loop.
    const { stdout } = await promisify(execFile)('/usr/bin/python3', ['-W', 'ignore', '-c', ZEEP_CLIENT, base, path.resolve(WSDL_DIR)], { timeout: 60_000 });
    const r = JSON.parse(stdout) as Record<string, { ok?: any; fault?: string; code?: string }>;

    for (const port of ['ServerSoap', 'ServerSoap12']) {
      const glc = r[`${port} GetLicensorCertificate`]!.ok;
      expect(glc.header.VersionData).toMatchObject({ MinimumVersion: '1.0.0.0', MaximumVersion: '1.1.0.0' });
      const chain = glc.body.GetLicensorCertificateResult.CertificateChain.Certificate.map((c: { _value_1: string }) => c._value_1);
      expect(chain).toEqual([SLC, SLC.replace('slc', 'root')]);

      const fsl = r[`${port} FindServiceLocationsForUser`]!.ok.body.FindServiceLocationsForUserResult.ServiceLocationResponse;
      expect(fsl).toEqual([
        { URL: 'http://rms/_wmcs/LicensingService', Type: 'LicensingService' },
        { URL: 'http://rms/_wmcs/CertificationService', Type: 'CertificationService' },
      ]);

      expect(r[`${port} too high`]).toEqual({
        fault: expect.stringMatching(/^Microsoft\.DigitalRightsManagement\.Core\.UnsupportedDataVersionException: /),
        code: port === 'ServerSoap' ? 'soap:Server' : 'soap:Receiver', // zeep reports the QName text
      });
      expect(r[`${port} GetServerInfo`]!.ok).toBe(
        '<Results><ServerInfoRequest AdditionalInfo="" Type="VersionInfo"><VersionInfo Version="6.0.0.0"></VersionInfo></ServerInfoRequest></Results>',
      );
    }
    // The two "too high" calls never reach the handler.
    expect(seen.filter((s) => s.op === 'GetLicensorCertificate').map((s) => [s.version, s.detail])).toEqual([
      ['1.1', [1, 1, 0, 0]],
      ['1.2', [1, 1, 0, 0]],
    ]);
    expect(seen.filter((s) => s.op === 'FindServiceLocationsForUser').map((s) => s.version)).toEqual(['1.1', '1.2']);

    const al = r.AcquireLicense!.ok.body.AcquireLicenseResult.AcquireLicenseResponse[0];
    expect(al.CertificateChain.Certificate.map((c: { _value_1: string }) => c._value_1)).toEqual([
      '<XrML version="1.2"><BODY type="LICENSE"><NAME>rac &amp; co</NAME></BODY></XrML>',
      '<XrML version="1.2"><BODY type="Microsoft Rights Label"></BODY></XrML>',
    ]);
    expect(seen.find((s) => s.op === 'AcquireLicense')!.detail).toEqual([
      '<XrML version="1.2"><BODY type="LICENSE"><NAME>rac &amp; co</NAME></BODY></XrML>',
      '<XrML version="1.2"><BODY type="Microsoft Rights Label"/></XrML>',
    ]);

    expect(r.SubEnroll!.ok.body.SubEnrollResult.LicensorCertificateChain.string).toEqual([SLC, 'root']);
    expect(seen.find((s) => s.op === 'SubEnroll')!.detail).toEqual(['AQI=', '0f8fad5b-d9cb-469f-a165-70867728950e']);
  });
});
