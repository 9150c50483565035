/**
 * Checks the WSDL texts in wsdl/ with two independent tools: xmllint (well-formed, schemas compile)
 * and python3-zeep (a full WSDL 1.1 client), and checks our own loader agrees with zeep.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SERVICE_PATHS } from '@openrms/domain';
import { SERVICE_WSDL_FILES, WSDL_DIR } from './load-service';
import { NS } from './namespaces';
import { parseXmlSecurely } from './parse-xml-securely';
import { extractSchemas, python, service } from './test-support';

const DRM = 'http://microsoft.com/DRM';
interface Expected {
  ns: string;
  portType: string;
  service: string;
  soap12: boolean;
  path: string;
  /** operation -> carries VersionData */
  ops: Record<string, boolean>;
}

// Straight from PROTOCOL.md 1.2, 2.1 and 2.3.
const EXPECTED: Record<string, Expected> = {
  'server.wsdl': {
    ns: `${DRM}/ServerService`, portType: 'ServerSoap', service: 'Server', soap12: true, path: '/licensing/server.asmx',
    ops: { GetLicensorCertificate: true, FindServiceLocationsForUser: true, FindServiceLocations: true, GetServerInfo: false },
  },
  'certification.wsdl': {
    ns: `${DRM}/CertificationService`, portType: 'CertificationWebServiceSoap', service: 'CertificationWebService', soap12: true,
    path: '/certification/certification.asmx', ops: { Certify: true },
  },
  'server-certification.wsdl': {
    ns: `${DRM}/CertificationService`, portType: 'ServerCertificationWebServiceSoap', service: 'ServerCertificationWebService', soap12: true,
    path: '/certification/ServerCertification.asmx', ops: { Certify: true },
  },
  'license.wsdl': {
    ns: `${DRM}/LicensingService`, portType: 'LicenseSoap', service: 'License', soap12: true, path: '/licensing/license.asmx',
    ops: { AcquireLicense: true, AcquirePreLicense: true },
  },
  'publish.wsdl': {
    ns: `${DRM}/PublishingService`, portType: 'PublishSoap', service: 'Publish', soap12: true, path: '/licensing/publish.asmx',
    ops: { AcquireIssuanceLicense: true, GetClientLicensorCert: true },
  },
  'template-distribution.wsdl': {
    ns: `${DRM}/TemplateDistributionService`, portType: 'TemplateDistributionWebServiceSoap', service: 'TemplateDistributionWebService', soap12: true,
    path: '/licensing/templateDistribution.asmx', ops: { AcquireTemplateInformation: true, AcquireTemplates: true },
  },
  'sub-enroll.wsdl': {
    ns: `${DRM}/SubEnrollmentService`, portType: 'SubEnrollServiceSoap', service: 'SubEnrollService', soap12: false,
    path: '/certification/SubEnrollService.asmx', ops: { SubEnroll: true },
  },
  'precertification.wsdl': {
    ns: `${DRM}/CertificationService`, portType: 'PrecertificationWebServiceSoap', service: 'PrecertificationWebService', soap12: true,
    path: '/certification/Precertification.asmx', ops: { Precertify: true },
  },
  'group-expansion.wsdl': {
    ns: `${DRM}/GroupExpansionWebService`, portType: 'GroupExpansionWebServiceSoap', service: 'GroupExpansionWebService', soap12: true,
    path: '/groupexpansion/GroupExpansion.asmx', ops: { IsPrincipalMemberOf: true },
  },
  'decommission.wsdl': {
    ns: `${DRM}/DecommissionService`, portType: 'DecommissionServiceSoap', service: 'DecommissionService', soap12: true,
    path: '/decommission/decommission.asmx', ops: { AcquireContentKey: true },
  },
  'edit-issuance-license.wsdl': {
    ns: `${DRM}/EditIssuanceLicenseService`, portType: 'RepublishSoap', service: 'Republish', soap12: true,
    path: '/licensing/editissuancelicense.asmx', ops: { EditIssuanceLicense: true },
  },
};
const FILES = Object.keys(EXPECTED);

// Everything zeep knows about the bindings and ports, as JSON.
const ZEEP_PROBE = `
import sys, json, zeep
from zeep.wsdl.bindings.soap import Soap12Binding
out = {}
for path in sys.argv[1:]:
    c = zeep.Client('file://' + path)
    bindings = {}
    for qn, b in c.wsdl.bindings.items():
        ops = {}
        for name, op in b._operations.items():
            hin = [str(e.qname) for _, e in op.input.header.type.elements] if op.input.header else []
            hout = [str(e.qname) for _, e in op.output.header.type.elements] if op.output.header else []
            ops[name] = {'soapAction': op.soapaction, 'style': op.style, 'input': str(op.input.body.qname),
                         'output': str(op.output.body.qname), 'inputHeaders': hin, 'outputHeaders': hout}
        bindings[str(qn)] = {'soap': '1.2' if isinstance(b, Soap12Binding) else '1.1', 'portType': str(b.port_type.name), 'ops': ops}
    services = {}
    for sname, s in c.wsdl.services.items():
        services[sname] = {pname: {'binding': str(p.binding.name), 'address': p.binding_options.get('address')} for pname, p in s.ports.items()}
    out[path.rsplit('/', 1)[-1]] = {'bindings': bindings, 'services': services}
print(json.dumps(out))
`;

interface ZeepOp {
  soapAction: string;
  style: string;
  input: string;
  output: string;
  inputHeaders: string[];
  outputHeaders: string[];
}
type ZeepView = Record<string, {
  bindings: Record<string, { soap: string; portType: string; ops: Record<string, ZeepOp> }>;
  services: Record<string, Record<string, { binding: string; address: string }>>;
}>;

describe('wsdl/*.wsdl', () => {
  it('holds exactly the expected files, one per service endpoint', () => {
    expect(fs.readdirSync(WSDL_DIR).filter((f) => f.endsWith('.wsdl')).sort()).toEqual([...FILES].sort());
    for (const [key, file] of Object.entries(SERVICE_WSDL_FILES)) {
      expect(FILES).toContain(file);
      expect(SERVICE_PATHS[key as keyof typeof SERVICE_PATHS]).toBeDefined();
    }
  });

  it.each(FILES)('%s is well-formed and its schemas compile (xmllint)', (file) => {
    const full = path.join(WSDL_DIR, file);
    expect(() => execFileSync('xmllint', ['--noout', '--nonet', full], { stdio: 'pipe' })).not.toThrow();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'openrms-wsdl-'));
    try {
      const xsd = extractSchemas(fs.readFileSync(full, 'utf8'), dir).get(EXPECTED[file]!.ns)!;
      // An empty instance cannot validate, but the schema must compile before xmllint gets that far.
      fs.writeFileSync(path.join(dir, 'probe.xml'), '<probe/>');
      let stderr = '';
      try {
        execFileSync('xmllint', ['--noout', '--nonet', '--schema', xsd, path.join(dir, 'probe.xml')], { stdio: 'pipe' });
      } catch (e) {
        stderr = String((e as { stderr?: Buffer }).stderr);
      }
      expect(stderr).toMatch(/No matching global declaration available for the validation root/);
      expect(stderr).not.toMatch(/failed to compile|parser error/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(FILES)('%s follows the ASMX document/literal layout', (file) => {
    const exp = EXPECTED[file]!;
    const defs = parseXmlSecurely(fs.readFileSync(path.join(WSDL_DIR, file), 'utf8')).documentElement!;
    expect(defs.getAttribute('targetNamespace')).toBe(exp.ns);
    const schema = defs.getElementsByTagNameNS(NS.xsd, 'schema').item(0)!;
    expect(schema.getAttribute('elementFormDefault')).toBe('qualified');
    const messages = Array.from(defs.getElementsByTagNameNS(NS.wsdl, 'message')).map((m) => m.getAttribute('name'));
    for (const [op, header] of Object.entries(exp.ops)) {
      expect(messages).toEqual(expect.arrayContaining([`${op}SoapIn`, `${op}SoapOut`]));
      expect(messages.includes(`${op}VersionData`)).toBe(header);
    }
    const addresses = [
      ...Array.from(defs.getElementsByTagNameNS(NS.wsdlSoap11, 'address')),
      ...Array.from(defs.getElementsByTagNameNS(NS.wsdlSoap12, 'address')),
    ].map((a) => a.getAttribute('location'));
    expect(addresses).toEqual(exp.soap12 ? [`http://localhost/_wmcs${exp.path}`, `http://localhost/_wmcs${exp.path}`] : [`http://localhost/_wmcs${exp.path}`]);
  });

  it('sub-enroll.wsdl carries the documentation strings and the s1:guid type', () => {
    const text = fs.readFileSync(path.join(WSDL_DIR, 'sub-enroll.wsdl'), 'utf8');
    const defs = parseXmlSecurely(text).documentElement!;
    const docOf = (localName: string) =>
      defs.getElementsByTagNameNS(NS.wsdl, localName).item(0)!.getElementsByTagNameNS(NS.wsdl, 'documentation').item(0)?.textContent;
    expect(docOf('portType')).toBe('SubEnrollment Entry Point');
    expect(docOf('service')).toBe('A web service used to enroll additional DRM servers in an enterprise');
    expect(text).toContain('type="s1:guid"');
    expect(text).toContain('targetNamespace="http://microsoft.com/wsdl/types/"');
  });

  it('group-expansion.wsdl declares the MS-RMPRS 3.5 request and response members', () => {
    const defs = parseXmlSecurely(fs.readFileSync(path.join(WSDL_DIR, 'group-expansion.wsdl'), 'utf8')).documentElement!;
    const schema = defs.getElementsByTagNameNS(NS.xsd, 'schema').item(0)!;
    const decl = (name: string) =>
      Array.from(schema.getElementsByTagNameNS(NS.xsd, 'element')).find((e) => e.parentNode === schema && e.getAttribute('name') === name)!;
    const members = (name: string) =>
      Array.from(decl(name).getElementsByTagNameNS(NS.xsd, 'element')).map((e) =>
        [e.getAttribute('name'), e.getAttribute('type'), e.getAttribute('minOccurs'), e.getAttribute('maxOccurs')].join(' '));
    expect(members('IsPrincipalMemberOf')).toEqual([
      'principalName s:string 0 1',
      'principalCrossForest s:string 0 1',
      'targetGroups tns:ArrayOfString 0 1',
      'crossForestCallsSoFar s:int 1 1',
    ]);
    expect(members('IsPrincipalMemberOfResponse')).toEqual(['IsPrincipalMemberOfResult s:boolean 1 1']);
    expect(SERVICE_PATHS.groupExpansion).toBe('/groupexpansion/GroupExpansion.asmx');
  });

  describe('as python3-zeep reads them', () => {
    let zeep: ZeepView;
    beforeAll(() => {
      zeep = JSON.parse(python(ZEEP_PROBE, FILES.map((f) => path.join(WSDL_DIR, f)))) as ZeepView;
    });

    it.each(FILES)('%s: every operation on every binding, with the right soapAction and headers', (file) => {
      const exp = EXPECTED[file]!;
      const view = zeep[file]!;
      const q = (local: string) => `{${exp.ns}}${local}`;
      const bindingNames = exp.soap12 ? [q(exp.portType), q(`${exp.portType}12`)] : [q(exp.portType)];
      expect(Object.keys(view.bindings).sort()).toEqual(bindingNames.sort());
      expect(view.bindings[q(exp.portType)]!.soap).toBe('1.1');
      if (exp.soap12) expect(view.bindings[q(`${exp.portType}12`)]!.soap).toBe('1.2');
      for (const name of bindingNames) {
        const b = view.bindings[name]!;
        expect(b.portType).toBe(q(exp.portType));
        expect(Object.keys(b.ops).sort()).toEqual(Object.keys(exp.ops).sort());
        for (const [op, header] of Object.entries(exp.ops)) {
          const headers = header ? [q('VersionData')] : [];
          expect(b.ops[op]).toEqual({
            soapAction: `${exp.ns}/${op}`,
            style: 'document',
            input: q(op),
            output: q(`${op}Response`),
            inputHeaders: headers,
            outputHeaders: headers,
          });
        }
      }
      expect(Object.keys(view.services)).toEqual([exp.service]);
      const ports = view.services[exp.service]!;
      expect(Object.keys(ports).sort()).toEqual(bindingNames.map((b) => b.slice(b.indexOf('}') + 1)).sort());
    });

    it.each(FILES)('%s: loadService agrees with zeep', (file) => {
      const exp = EXPECTED[file]!;
      const svc = service(file);
      expect(svc).toMatchObject({ name: exp.service, portTypeName: exp.portType, targetNamespace: exp.ns, soap11: true, soap12: exp.soap12 });
      const zeepOps = zeep[file]!.bindings[`{${exp.ns}}${exp.portType}`]!.ops;
      expect([...svc.operations.keys()].sort()).toEqual(Object.keys(zeepOps).sort());
      for (const op of svc.operations.values()) {
        const z = zeepOps[op.name]!;
        expect(op.soapAction).toBe(z.soapAction);
        expect(`{${exp.ns}}${op.requestElement}`).toBe(z.input);
        expect(`{${exp.ns}}${op.responseElement}`).toBe(z.output);
        expect(op.hasVersionData).toBe(z.inputHeaders.length > 0);
        expect(op.resultElement).toBe(`${op.name}Result`);
      }
    });
  });
});
