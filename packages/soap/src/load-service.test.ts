import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RmsError } from '@openrms/domain';
import { loadService, WSDL_DIR } from './load-service';
import { parseXmlSecurely } from './parse-xml-securely';
import { NS } from './namespaces';
import { service } from './test-support';
import { wsdlForRequest } from './wsdl-for-request';

describe('loadService', () => {
  it('builds the operation table of server.wsdl', () => {
    const svc = service('server.wsdl');
    expect(svc.wsdlPath).toBe(path.join(WSDL_DIR, 'server.wsdl'));
    expect(svc.wsdlXml).toBe(fs.readFileSync(svc.wsdlPath, 'utf8'));
    expect(svc.operations.get('GetLicensorCertificate')).toEqual({
      name: 'GetLicensorCertificate',
      soapAction: 'http://microsoft.com/DRM/ServerService/GetLicensorCertificate',
      requestElement: 'GetLicensorCertificate',
      responseElement: 'GetLicensorCertificateResponse',
      resultElement: 'GetLicensorCertificateResult',
      hasVersionData: true,
    });
    expect(svc.operations.get('GetServerInfo')?.hasVersionData).toBe(false);
  });

  it('caches per resolved path', () => {
    const a = loadService(path.join(WSDL_DIR, 'license.wsdl'));
    const b = loadService(path.join(WSDL_DIR, '..', 'wsdl', 'license.wsdl'));
    expect(b).toBe(a);
  });

  describe('refuses WSDLs it could not serve faithfully', () => {
    let dir: string;
    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'openrms-wsdl-bad-'));
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
    const broken = (name: string, edit: (xml: string) => string) => {
      const file = path.join(dir, name);
      fs.writeFileSync(file, edit(fs.readFileSync(path.join(WSDL_DIR, 'license.wsdl'), 'utf8')));
      return () => loadService(file);
    };

    it('bindings that disagree on a soapAction', () => {
      let n = 0;
      const load = broken('a.wsdl', (x) => x.replace(/soapAction="([^"]*)\/AcquireLicense"/g, (m, base: string) => (n++ === 1 ? `soapAction="${base}/Other"` : m)));
      expect(load).toThrow(/differs between the SOAP 1.1 and SOAP 1.2 bindings/);
    });

    it('an operation missing from one binding', () => {
      const load = broken('b.wsdl', (x) => x.replace(/(<wsdl:binding name="LicenseSoap12"[\s\S]*?)<wsdl:operation name="AcquirePreLicense">[\s\S]*?<\/wsdl:operation>/, '$1'));
      expect(load).toThrow(/AcquirePreLicense is missing from a binding/);
    });

    it('a DTD, like any other document', () => {
      expect(broken('c.wsdl', (x) => x.replace('<wsdl:definitions', '<!DOCTYPE x><wsdl:definitions'))).toThrow(RmsError);
    });
  });
});

describe('wsdlForRequest', () => {
  const svc = service('server.wsdl');

  it('points both addresses at the requested URL and changes nothing else', () => {
    const out = wsdlForRequest(svc, 'https://rms.example.test/_wmcs/certification/server.asmx?wsdl');
    const defs = parseXmlSecurely(out).documentElement!;
    const locations = [
      ...Array.from(defs.getElementsByTagNameNS(NS.wsdlSoap11, 'address')),
      ...Array.from(defs.getElementsByTagNameNS(NS.wsdlSoap12, 'address')),
    ].map((a) => a.getAttribute('location'));
    expect(locations).toEqual(['https://rms.example.test/_wmcs/certification/server.asmx', 'https://rms.example.test/_wmcs/certification/server.asmx']);
    expect(out.replace(/https:\/\/rms\.example\.test\/_wmcs\/certification\/server\.asmx/g, 'http://localhost/_wmcs/licensing/server.asmx')).toBe(svc.wsdlXml);
  });

  it('escapes what a hostile Host header could smuggle in, and refuses non-http URLs', () => {
    expect(() => wsdlForRequest(svc, 'http://evil"><x/>.test/_wmcs/a.asmx')).toThrow(RmsError);
    const out = wsdlForRequest(svc, `http://h.test/_wmcs/a&b'"><x/>.asmx`);
    const defs = parseXmlSecurely(out).documentElement!;
    expect(defs.getElementsByTagNameNS(NS.wsdlSoap11, 'address').item(0)!.getAttribute('location')).toBe(
      "http://h.test/_wmcs/a&b'%22%3E%3Cx/%3E.asmx",
    );
    expect(() => wsdlForRequest(svc, 'javascript:alert(1)')).toThrow(RmsError);
    expect(() => wsdlForRequest(svc, 'not a url')).toThrow(RmsError);
  });
});
