import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { XMLSerializer } from '@xmldom/xmldom';
import { RmsError } from '@openrms/domain';
import type { SoapEndpoint } from '../create-soap-endpoint';
import { NS, type SoapVersion } from '../namespaces';
import { parseXmlSecurely } from '../parse-xml-securely';
import { elementChildren, envelope, extractSchemas, httpRequest, readFault, service, versionData, xmllintValidate } from '../test-support';
import type { CallerContext } from './caller-context';
import {
  createGroupExpansionEndpoint,
  GROUP_EXPANSION_LIMITS,
  GROUP_EXPANSION_NS,
  GROUP_EXPANSION_WSDL,
  type GroupExpansionPort,
  type IsPrincipalMemberOfRequest,
} from './group-expansion-service';

const NS_GE = GROUP_EXPANSION_NS;
const ACTION = `${NS_GE}/IsPrincipalMemberOf`;
const VD = versionData(NS_GE, '1.0.0.0', '1.0.0.0');
const CTX: CallerContext = { requestId: 'r1', principal: { id: 'p-rms', name: 'CONTOSO\\rms-svc', email: 'rms-svc@contoso.com' } };
const S11 = NS.soap11Envelope;
const S12 = NS.soap12Envelope;

interface Members {
  principalName?: string;
  principalCrossForest?: string;
  targetGroups?: string;
  crossForestCallsSoFar?: string;
}
const leaf = (name: string, v: string | undefined) => (v === undefined ? '' : v === 'nil' ? `<${name} xsi:nil="true"/>` : `<${name}>${v}</${name}>`);
const groups = (...g: string[]) => g.map((x) => (x === 'nil' ? '<string xsi:nil="true"/>' : `<string>${x}</string>`)).join('');
function body(m: Members = {}): string {
  const all = { principalName: 'alice@contoso.com', principalCrossForest: 'alice@contoso.com', targetGroups: groups('sales@contoso.com'), crossForestCallsSoFar: '0', ...m };
  return (
    `<IsPrincipalMemberOf xmlns="${NS_GE}" xmlns:xsi="${NS.xsi}">` +
    leaf('principalName', all.principalName) +
    leaf('principalCrossForest', all.principalCrossForest) +
    leaf('targetGroups', all.targetGroups) +
    leaf('crossForestCallsSoFar', all.crossForestCallsSoFar) +
    `</IsPrincipalMemberOf>`
  );
}
/** Leaves a member out entirely. */
function without(member: keyof Members): string {
  return body().replace(new RegExp(`<${member}>.*?</${member}>`), '');
}

class RecordingPort implements GroupExpansionPort {
  calls: Array<[CallerContext, IsPrincipalMemberOfRequest]> = [];
  constructor(private readonly answer: (req: IsPrincipalMemberOfRequest) => unknown = (r) => r.targetGroups.some((g) => g.startsWith('sales'))) {}
  async isPrincipalMemberOf(ctx: CallerContext, req: IsPrincipalMemberOfRequest): Promise<boolean> {
    this.calls.push([ctx, req]);
    return (await this.answer(req)) as boolean;
  }
}

function endpointWith(port: GroupExpansionPort, maxBytes = 1 << 20): SoapEndpoint<CallerContext> {
  return createGroupExpansionEndpoint<CallerContext>(port, { maxBytes });
}

async function call(xml: string, version: SoapVersion = '1.1', port = new RecordingPort()) {
  const out = await endpointWith(port)(httpRequest(version, envelope(version, xml, VD), ACTION), CTX);
  return { out, port };
}

const resultOf = (responseBody: string) => {
  const env = parseXmlSecurely(responseBody).documentElement!;
  const bodyEl = elementChildren(env).find((e) => e.localName === 'Body')!;
  return elementChildren(bodyEl)[0]!;
};

describe('IsPrincipalMemberOf on GroupExpansion.asmx', () => {
  it.each(['1.1', '1.2'] as const)('SOAP %s: hands the parsed request and the caller to the port and answers true', async (version) => {
    const { out, port } = await call(body({ targetGroups: groups('sales@contoso.com', 'eng@contoso.com') }), version);
    expect(out.status).toBe(200);
    expect(out.fault).toBeUndefined();
    expect(out.operation).toBe('IsPrincipalMemberOf');
    expect(out.contentType).toBe(version === '1.1' ? 'text/xml; charset=utf-8' : 'application/soap+xml; charset=utf-8');
    expect(port.calls).toEqual([[CTX, { principalName: 'alice@contoso.com', principalCrossForest: 'alice@contoso.com', targetGroups: ['sales@contoso.com', 'eng@contoso.com'], crossForestCallsSoFar: 0 }]]);
    const env = parseXmlSecurely(out.body).documentElement!;
    expect(env.namespaceURI).toBe(version === '1.1' ? S11 : S12);
    expect(out.body).toContain(`<VersionData xmlns="${NS_GE}"><MinimumVersion>1.0.0.0</MinimumVersion>`);
    expect(out.body).toContain(
      `<IsPrincipalMemberOfResponse xmlns="${NS_GE}"><IsPrincipalMemberOfResult>true</IsPrincipalMemberOfResult></IsPrincipalMemberOfResponse>`,
    );
  });

  it('answers false as false', async () => {
    const { out } = await call(body({ targetGroups: groups('eng@contoso.com') }), '1.2');
    expect(out.status).toBe(200);
    expect(resultOf(out.body).textContent).toBe('false');
    expect(out.body).toContain('<IsPrincipalMemberOfResult>false</IsPrincipalMemberOfResult>');
  });

  it('trims names, drops repeated groups (ignoring case), keeps order, and passes an absent cross-forest name as null', async () => {
    const xml = body({
      principalName: '  bob@fabrikam.com\n',
      principalCrossForest: 'nil',
      targetGroups: groups(' eng@contoso.com ', 'Sales@contoso.com', 'ENG@contoso.com', 'sales@CONTOSO.com'),
      crossForestCallsSoFar: ' +3 ',
    });
    const { port } = await call(xml);
    expect(port.calls[0]![1]).toEqual({
      principalName: 'bob@fabrikam.com',
      principalCrossForest: null,
      targetGroups: ['eng@contoso.com', 'Sales@contoso.com'],
      crossForestCallsSoFar: 3,
    });
    const { port: p2 } = await call(without('principalCrossForest'));
    expect(p2.calls[0]![1].principalCrossForest).toBeNull();
  });

  it('accepts an empty group list (the port answers false) and exactly the maximum number of groups', async () => {
    const { out, port } = await call(body({ targetGroups: '' }));
    expect(out.status).toBe(200);
    expect(port.calls[0]![1].targetGroups).toEqual([]);
    const many = Array.from({ length: GROUP_EXPANSION_LIMITS.maxTargetGroups }, (_, i) => `g${i}@contoso.com`);
    const { out: outMany, port: pMany } = await call(body({ targetGroups: groups(...many) }));
    expect(outMany.status).toBe(200);
    expect(pMany.calls[0]![1].targetGroups).toHaveLength(GROUP_EXPANSION_LIMITS.maxTargetGroups);
  });

  const ARG = 'System.ArgumentException';
  const NULL = 'System.ArgumentNullException';
  const tooMany = groups(...Array.from({ length: GROUP_EXPANSION_LIMITS.maxTargetGroups + 1 }, (_, i) => `g${i}@contoso.com`));
  const long = `${'a'.repeat(GROUP_EXPANSION_LIMITS.maxNameLength)}@x`;
  const faultCases: Array<[string, string, string]> = [
    ['principalName missing', without('principalName'), NULL],
    ['principalName nil', body({ principalName: 'nil' }), NULL],
    ['principalName blank', body({ principalName: '  ' }), NULL],
    ['principalName in no namespace', body().replace('<principalName>alice@contoso.com</principalName>', '<principalName xmlns="">alice@contoso.com</principalName>'), NULL],
    ['principalName twice', body().replace('</principalName>', '</principalName><principalName>eve@contoso.com</principalName>'), ARG],
    ['principalName too long', body({ principalName: long }), ARG],
    ['principalCrossForest too long', body({ principalCrossForest: long }), ARG],
    ['targetGroups missing', without('targetGroups'), NULL],
    ['targetGroups nil', body({ targetGroups: 'nil' }), NULL],
    ['a nil target group', body({ targetGroups: groups('sales@contoso.com', 'nil') }), NULL],
    ['an empty target group', body({ targetGroups: groups('sales@contoso.com', ' ') }), ARG],
    ['a target group too long', body({ targetGroups: groups(long) }), ARG],
    ['more groups than the limit', body({ targetGroups: tooMany }), ARG],
    ['crossForestCallsSoFar missing', without('crossForestCallsSoFar'), ARG],
    ['crossForestCallsSoFar nil', body({ crossForestCallsSoFar: 'nil' }), ARG],
    ['crossForestCallsSoFar empty', body({ crossForestCallsSoFar: '' }), ARG],
    ['crossForestCallsSoFar not a number', body({ crossForestCallsSoFar: 'two' }), ARG],
    ['crossForestCallsSoFar a decimal', body({ crossForestCallsSoFar: '1.0' }), ARG],
    ['crossForestCallsSoFar in exponent form', body({ crossForestCallsSoFar: '1e0' }), ARG],
    ['crossForestCallsSoFar in hex', body({ crossForestCallsSoFar: '0x1' }), ARG],
    ['crossForestCallsSoFar negative', body({ crossForestCallsSoFar: '-1' }), ARG],
    ['crossForestCallsSoFar beyond xs:int', body({ crossForestCallsSoFar: '2147483648' }), ARG],
    ['crossForestCallsSoFar at the cross-forest limit', body({ crossForestCallsSoFar: String(GROUP_EXPANSION_LIMITS.maxCrossForestCalls) }), ARG],
    ['crossForestCallsSoFar twice', body().replace('</crossForestCallsSoFar>', '</crossForestCallsSoFar><crossForestCallsSoFar>0</crossForestCallsSoFar>'), ARG],
  ];
  it.each(faultCases)('faults on %s without asking the port', async (_what, xml, name) => {
    for (const version of ['1.1', '1.2'] as const) {
      const { out, port } = await call(xml, version);
      expect(out.status).toBe(500);
      expect(out.fault).toBe(name);
      const fault = readFault(out.body);
      expect(fault.code).toBe(version === '1.1' ? `{${S11}}Server` : `{${S12}}Receiver`);
      expect(fault.text.startsWith(`${name}: `)).toBe(true);
      expect(port.calls).toEqual([]);
    }
  });

  it('checks VersionData as every RMS service does', async () => {
    const ep = endpointWith(new RecordingPort());
    const missing = await ep(httpRequest('1.1', envelope('1.1', body()), ACTION), CTX);
    expect(missing.fault).toBe('Microsoft.DigitalRightsManagement.Core.MalformedDataVersionException');
    const high = await ep(httpRequest('1.1', envelope('1.1', body(), versionData(NS_GE, '1.0.0.0', '9.0.0.0')), ACTION), CTX);
    expect(high.fault).toBe('Microsoft.DigitalRightsManagement.Core.UnsupportedDataVersionException');
    // A VersionData in another service's namespace is not ours.
    const other = await ep(httpRequest('1.1', envelope('1.1', body(), versionData('http://microsoft.com/DRM/ServerService', '1.0.0.0', '1.0.0.0')), ACTION), CTX);
    expect(other.fault).toBe('Microsoft.DigitalRightsManagement.Core.MalformedDataVersionException');
  });

  it('dispatches on the body element when the SOAPAction is empty, and refuses another service\'s action', async () => {
    const ep = endpointWith(new RecordingPort());
    const empty = await ep(httpRequest('1.1', envelope('1.1', body(), VD), '', { soapActionHeader: '""' }), CTX);
    expect(empty.status).toBe(200);
    const wrong = await ep(httpRequest('1.1', envelope('1.1', body(), VD), 'http://microsoft.com/DRM/ServerService/FindServiceLocations'), CTX);
    expect(wrong.fault).toBe('System.Web.Services.Protocols.SoapException');
  });

  describe('hostile input', () => {
    const hostile: Array<[string, string]> = [
      ['a DOCTYPE', `<?xml version="1.0"?><!DOCTYPE soap:Envelope>${envelope('1.1', body(), VD).replace(/^<\?xml[^>]*>\n/, '')}`],
      ['an external entity', `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>${envelope('1.1', body({ principalName: '&e;' }), VD).replace(/^<\?xml[^>]*>\n/, '')}`],
      ['billion laughs', `<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>${envelope('1.1', body({ principalName: '&b;' }), VD).replace(/^<\?xml[^>]*>\n/, '')}`],
      ['an undeclared entity', envelope('1.1', body({ principalName: '&e;' }), VD)],
      ['a processing instruction', envelope('1.1', body({ principalName: '<?php x ?>a@b' }), VD)],
    ];
    it.each(hostile)('refuses %s before the port sees anything', async (_what, xml) => {
      const port = new RecordingPort();
      const out = await endpointWith(port)(httpRequest('1.1', xml, ACTION), CTX);
      expect(out.status).toBe(500);
      expect(out.fault).toBe('System.Xml.XmlException');
      expect(out.body).not.toContain('root:');
      expect(port.calls).toEqual([]);
    });

    it('refuses a huge group array at the body limit, and a deep one at the depth limit', async () => {
      const port = new RecordingPort();
      const huge = envelope('1.1', body({ targetGroups: groups(...Array.from({ length: 50_000 }, (_, i) => `g${i}@contoso.com`)) }), VD);
      const out = await endpointWith(port, 256 * 1024)(httpRequest('1.1', huge, ACTION), CTX);
      expect(out.fault).toBe('System.Web.HttpException');
      const deep = envelope('1.1', body({ targetGroups: `${'<string>'.repeat(400)}x${'</string>'.repeat(400)}` }), VD);
      const outDeep = await endpointWith(port)(httpRequest('1.1', deep, ACTION), CTX);
      expect(outDeep.fault).toBe('System.Xml.XmlException');
      expect(port.calls).toEqual([]);
    });

    it('hands escaped markup to the port as text and never echoes a name into a fault', async () => {
      const { port } = await call(body({ principalName: '&lt;x&gt;@contoso.com' }));
      expect(port.calls[0]![1].principalName).toBe('<x>@contoso.com');
      const { out } = await call(body({ principalName: '&lt;x&gt;'.repeat(400) }));
      expect(out.fault).toBe('System.ArgumentException');
      expect(() => readFault(out.body)).not.toThrow();
      expect(out.body).not.toContain('<x>');
    });
  });

  it('maps the port\'s RmsError and withholds anything else, including a non-boolean answer', async () => {
    const refusing = new RecordingPort(() => {
      throw new RmsError('AdEntrySearchFailed', 'the directory is unreachable');
    });
    const { out } = await call(body(), '1.1', refusing);
    expect(readFault(out.body).text).toBe('Microsoft.DigitalRightsManagement.Utilities.ADEntrySearchFailedException: the directory is unreachable');

    for (const answer of ['true', 1, undefined, null]) {
      const { out: o } = await call(body(), '1.1', new RecordingPort(() => answer));
      expect(o.status).toBe(500);
      expect(o.fault).toBe('Microsoft.DigitalRightsManagement.Utilities.UnspecifiedErrorException');
      expect(o.body).not.toContain('IsPrincipalMemberOfResult');
    }
  });
});

describe('IsPrincipalMemberOf messages validate against the WSDL schema (xmllint --schema)', () => {
  let dir: string;
  let xsd: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'openrms-ge-xsd-'));
    xsd = extractSchemas(service(GROUP_EXPANSION_WSDL).wsdlXml, dir).get(NS_GE)!;
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  let n = 0;
  const validate = (xml: string | Element): [number, string] => {
    const file = path.join(dir, `instance-${n++}.xml`);
    fs.writeFileSync(file, typeof xml === 'string' ? xml : new XMLSerializer().serializeToString(xml));
    return xmllintValidate(xsd, file);
  };

  it.each([true, false])('the response for %s and its VersionData header', async (answer) => {
    const { out } = await call(body(), '1.2', new RecordingPort(() => answer));
    expect(validate(resultOf(out.body))).toEqual([0, '']);
    const header = elementChildren(elementChildren(parseXmlSecurely(out.body).documentElement!)[0]!)[0]!;
    expect(header.localName).toBe('VersionData');
    expect(validate(header)).toEqual([0, '']);
  });

  it('the requests the tests send, and not a non-integer count (the check has teeth)', () => {
    expect(validate(body({ targetGroups: groups('a@b', 'nil') }))).toEqual([0, '']);
    expect(validate(body({ crossForestCallsSoFar: 'two' }))[0]).not.toBe(0);
    expect(validate(without('crossForestCallsSoFar'))[0]).not.toBe(0);
  });
});
