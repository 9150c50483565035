import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { openStore } from '@openrms/store';
import { endpointPath, newId } from '@openrms/domain';
import { postgresDatabase, sqliteDatabase, type TestDatabase } from './support/databases';
import { startTestRoot, type TestRoot } from './support/root-cluster';
import { xmlsecVerify } from './support/xmlsec';
import { certificatesIn, ENV12, envelope, faultString, postSoap, SERVER_NS, versionData } from './support/soap-client';

const run = promisify(execFile);
const ACTION = (op: string) => `${SERVER_NS}/${op}`;
const GET_SLC = `<GetLicensorCertificate xmlns="${SERVER_NS}"/>`;


const targets: [string, () => TestDatabase][] = [
  ['SQLite file', sqliteDatabase],
  ['PostgreSQL', postgresDatabase],
];

describe.each(targets)('Server service of a root cluster on %s', (_label, makeDb) => {
  let root: TestRoot;
  let base: string;
  let auth: { name: string; password: string };
  let clusterKeyPem: string;

  beforeAll(async () => {
    root = await startTestRoot(makeDb());
    base = root.server.url;
    auth = root.admin;
    clusterKeyPem = root.server.runtime.slc.principal.publicKey.export({ format: 'pem', type: 'spki' }).toString();
  });
  afterAll(async () => {
    await root?.stop();
  });

  const getSlc = (over: Partial<Parameters<typeof postSoap>[0]> = {}) =>
    postSoap({
      url: `${base}/_wmcs/certification/server.asmx`,
      action: ACTION('GetLicensorCertificate'),
      auth,
      body: envelope({ header: versionData(SERVER_NS), body: GET_SLC }),
      ...over,
    });

  async function stillServing(): Promise<void> {
    const r = await getSlc();
    expect(r.status).toBe(200);
    expect(certificatesIn(r.text)).toHaveLength(1);
  }

  it('returns a self-signed SLC that xmlsec1 verifies with the cluster key, and nothing else does', async () => {
    const r = await getSlc();
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/xml; charset=utf-8/);
    expect(r.text).toContain(`<VersionData xmlns="${SERVER_NS}"><MinimumVersion>1.0.0.0</MinimumVersion><MaximumVersion>1.1.0.0</MaximumVersion>`);
    const [slc] = certificatesIn(r.text);
    expect(slc).toContain('<OBJECT type="Server-Licensor-Certificate">');
    expect(xmlsecVerify(slc!, clusterKeyPem).ok).toBe(true);
    // One changed byte in the signed BODY, or another key, and the independent verifier refuses.
    expect(xmlsecVerify(slc!.replace('RSA</ALGORITHM>', 'RSB</ALGORITHM>'), clusterKeyPem).ok).toBe(false);
    const { generateKeyPairSync } = await import('node:crypto');
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
    expect(xmlsecVerify(slc!, other).ok).toBe(false);
  });

  it('serves the SLC valid for one year from the licensing path too, in any case, over SOAP 1.2', async () => {
    const r = await postSoap({
      url: `${base}/_WMCS/Licensing/SERVER.asmx`,
      version: '1.2',
      action: ACTION('GetLicensorCertificate'),
      auth,
      body: envelope({ version: '1.2', header: versionData(SERVER_NS, '1.0.0.0', '1.1.0.0'), body: GET_SLC }),
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/soap\+xml/);
    expect(r.text).toContain(`xmlns:soap="${ENV12}"`);
    const slc = certificatesIn(r.text)[0]!;
    const from = /<VALIDITYTIME><FROM>([^<]+)<\/FROM><UNTIL>([^<]+)<\/UNTIL>/.exec(slc)!;
    const years = (Date.parse(`${from[2]}Z`) - Date.parse(`${from[1]}Z`)) / (365 * 86_400_000);
    expect(years).toBeGreaterThanOrEqual(1);
    expect(years).toBeLessThan(1.01);
  });

  it('answers GetServerInfo (no VersionData) and FindServiceLocationsForUser', async () => {
    const info = await postSoap({
      url: `${base}/_wmcs/licensing/server.asmx`,
      action: ACTION('GetServerInfo'),
      auth,
      body: envelope({
        body: `<GetServerInfo xmlns="${SERVER_NS}"><requests><ServerInfoRequest><Type>VersionInfo</Type></ServerInfoRequest><ServerInfoRequest><Type>ServerFeatureInfo</Type></ServerInfoRequest><ServerInfoRequest><Type>ServerLicensorCertificate</Type><AdditionalInfo>x</AdditionalInfo></ServerInfoRequest></requests></GetServerInfo>`,
      }),
    });
    expect(info.status).toBe(200);
    expect(info.text).not.toContain('VersionData');
    expect(info.text).toContain('<VersionInfo Version="6.1.0.0"');
    expect(info.text).toContain(`<Feature Name="OpenRMS-ClusterId" Value="${root.server.runtime.cluster.id}"`);
    expect(info.text).toContain('<ServerInfoRequest Type="ServerLicensorCertificate" AdditionalInfo="x"><ServerLicensorCertificateChain><XrML xmlns="" version="1.2">');

    const loc = await postSoap({
      url: `${base}/_wmcs/certification/server.asmx`,
      action: ACTION('FindServiceLocationsForUser'),
      auth,
      body: envelope({
        header: versionData(SERVER_NS),
        body: `<FindServiceLocationsForUser xmlns="${SERVER_NS}"><ServiceNames><ServiceLocationRequest><Type>LicensingService</Type></ServiceLocationRequest><ServiceLocationRequest><Type>ActivationService</Type></ServiceLocationRequest></ServiceNames></FindServiceLocationsForUser>`,
      }),
    });
    expect(loc.status).toBe(200);
    expect(loc.text).toContain(`<ServiceLocationResponse><URL>${base}/_wmcs/licensing</URL><Type>LicensingService</Type></ServiceLocationResponse>`);
    // No URL for a service the cluster does not run: the element is left out (it is not nillable).
    expect(loc.text).toContain('<ServiceLocationResponse><Type>ActivationService</Type></ServiceLocationResponse>');
    expect(loc.text).not.toContain('xsi:nil');

    const bad = await postSoap({
      url: `${base}/_wmcs/certification/server.asmx`,
      action: ACTION('FindServiceLocationsForUser'),
      auth,
      body: envelope({
        header: versionData(SERVER_NS),
        body: `<FindServiceLocationsForUser xmlns="${SERVER_NS}"><ServiceNames><ServiceLocationRequest><Type>NoSuchService</Type></ServiceLocationRequest></ServiceNames></FindServiceLocationsForUser>`,
      }),
    });
    expect(bad.status).toBe(500);
    expect(faultString(bad.text)).toMatch(/^System\.InvalidOperationException/);
  });

  it('is loaded and called by python3-zeep on both SOAP bindings, and the SLC it gets verifies with xmlsec1', async () => {
    const script = path.join(__dirname, 'support', 'zeep_server_service.py');
    const { stdout } = await run('/usr/bin/python3', [script, base, '/_wmcs/licensing/server.asmx', auth.name, auth.password], { timeout: 60_000 });
    const result = JSON.parse(stdout) as Record<string, { chain: string[]; serverInfo: string; locations: { type: string; url: string | null }[] }> & { operations: string[] };
    expect(result.operations).toEqual(['FindServiceLocations', 'FindServiceLocationsForUser', 'GetLicensorCertificate', 'GetServerInfo']);
    for (const binding of ['ServerSoap', 'ServerSoap12']) {
      const r = result[binding]!;
      expect(r.chain).toHaveLength(1);
      expect(xmlsecVerify(r.chain[0]!, clusterKeyPem).ok).toBe(true);
      expect(r.serverInfo).toContain('Feature Name="CryptoMode" Value="2"');
      expect(r.locations).toEqual([
        { type: 'CertificationService', url: `${base}/_wmcs/certification` },
        { type: 'LicensingService', url: `${base}/_wmcs/licensing` },
        { type: 'ActivationService', url: null },
      ]);
    }
  });

  describe('bad input gets the right answer and the server keeps serving', () => {
    const cases: [string, () => Promise<{ status: number; text: string }>, number, RegExp | undefined][] = [
      ['malformed XML', () => getSlc({ body: '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><oops></soap:Body>' }), 500, /^System\.Xml\.XmlException/],
      [
        'a DOCTYPE with an entity',
        () => getSlc({ body: `<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x "y">]>${envelope({ header: versionData(SERVER_NS), body: GET_SLC }).replace(/^<\?xml[^>]*\?>/, '')}` }),
        500,
        /^System\.Xml\.XmlException/,
      ],
      [
        'an external entity',
        () => getSlc({ body: `<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetLicensorCertificate xmlns="${SERVER_NS}">&x;</GetLicensorCertificate></soap:Body></soap:Envelope>` }),
        500,
        /^System\.Xml\.XmlException/,
      ],
      ['an unknown soapAction', () => getSlc({ action: 'http://microsoft.com/DRM/ServerService/Nope' }), 500, /SOAPAction/],
      ['a missing VersionData header', () => getSlc({ body: envelope({ body: GET_SLC }) }), 500, /^Microsoft\.DigitalRightsManagement\.Core\.MalformedDataVersionException/],
      ['a malformed VersionData', () => getSlc({ body: envelope({ header: versionData(SERVER_NS, '1.0', '1.0.0.0'), body: GET_SLC }) }), 500, /^Microsoft\.DigitalRightsManagement\.Core\.MalformedDataVersionException/],
      ['a too-new VersionData', () => getSlc({ body: envelope({ header: versionData(SERVER_NS, '1.0.0.0', '9.0.0.0'), body: GET_SLC }) }), 500, /^Microsoft\.DigitalRightsManagement\.Core\.UnsupportedDataVersionException/],
      ['wrong credentials', () => getSlc({ auth: { name: 'alice', password: 'wrong-password' } }), 401, undefined],
      ['no credentials', () => getSlc({ auth: null }), 401, undefined],
      ['an unknown user', () => getSlc({ auth: { name: 'mallory', password: 'whatever-1234' } }), 401, undefined],
      ['a body over the 1 MiB limit', () => getSlc({ body: Buffer.alloc(1024 * 1024 + 1, 0x20) }), 413, undefined],
    ];
    it.each(cases)('%s', async (_name, send, status, fault) => {
      const r = await send();
      expect(r.status).toBe(status);
      if (fault) {
        expect(faultString(r.text)).toMatch(fault);
        expect(r.text).not.toMatch(/\n\s+at /); // no stack trace
        expect(r.text).not.toContain('VersionData><Min'); // no VersionData on faults
      }
      if (status === 401) expect(r.text).not.toContain('Certificate');
      await stillServing();
    });
  });

  it('denies a user whose DACL entry says deny, within one refresh, and lets deny win over group allows', async () => {
    const store = await openStore(root.db.url);
    try {
      const alice = await store.principals.getByName('alice');
      const entry = await store.dacl.add({
        id: newId(),
        endpoint: endpointPath('/certification/server.asmx'),
        principalId: alice.id,
        right: 'Execute',
        effect: 'deny',
        createdAt: new Date(),
        createdBy: 'test',
      });
      await root.server.runtime.refresh();
      const denied = await getSlc();
      expect(denied.status).toBe(403);
      expect(faultString(denied.text)).toMatch(/^System\.UnauthorizedAccessException/);
      expect(certificatesIn(denied.text)).toHaveLength(0);
      // The other path has no such entry.
      const other = await getSlc({ url: `${base}/_wmcs/licensing/server.asmx` });
      expect(other.status).toBe(200);
      await store.dacl.remove(entry.id);
      await root.server.runtime.refresh();
      await stillServing();
    } finally {
      await store.close();
    }
  });

  it('serves the WSDL without credentials, with its own address, and answers /healthz and /readyz', async () => {
    const w = await fetch(`${base}/_wmcs/certification/server.asmx?wsdl`);
    expect(w.status).toBe(200);
    const text = await w.text();
    expect(text).toContain('targetNamespace="http://microsoft.com/DRM/ServerService"');
    expect(text).toContain(`location="${base}/_wmcs/certification/server.asmx"`);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = (await (await fetch(`${base}/readyz`)).json()) as { status: string; cluster: { id: string; kind: string } };
    expect(ready).toMatchObject({ status: 'ready', cluster: { id: root.server.runtime.cluster.id, kind: 'root' } });
    expect((await fetch(`${base}/_wmcs/certification/nothing.asmx`)).status).toBe(404);
  });
});
