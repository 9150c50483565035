import { readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { RmsClient, parseProtectedFile } from '@openrms/client';
import { parseGrantSpec } from '@openrms/domain';
import { addUser, ClusterRuntime, provisionRootCluster } from '@openrms/issuance';
import { certificateFragment } from '@openrms/soap';
import { openStore, type Store } from '@openrms/store';
import { parseXrml, readUseLicense, verifyXrmlSignature } from '@openrms/xrml';
import { sqliteDatabase, tempDir, type TestDatabase } from './support/databases';
import { startTestRoot, type TestRoot } from './support/root-cluster';
import { certificatesIn, ENV11, ENV12, envelope, faultString, postSoap, SERVER_NS, versionData, type RawResponse } from './support/soap-client';
import { sqliteRowCounts } from './support/sqlite-row-counts';

/**
 * Hostile and broken requests against every SOAP endpoint a root cluster serves: transport-level
 * abuse (broken XML, DTDs and entities, oversized bodies, wrong or foreign SOAPActions, missing
 * VersionData, bad credentials) on one representative operation of each endpoint, the default DACL
 * of ServerCertification.asmx, and protocol-level forgeries (tampered SPC, RAC and PL, signature
 * wrapping, a RAC of another cluster, batch rules, size limits). Every refusal must be the
 * protocol's fault, must write nothing but its request-log row, and must leave the server serving.
 */

const CERT_NS = 'http://microsoft.com/DRM/CertificationService';
const LIC_NS = 'http://microsoft.com/DRM/LicensingService';
const PUB_NS = 'http://microsoft.com/DRM/PublishingService';
const TPL_NS = 'http://microsoft.com/DRM/TemplateDistributionService';
const GX_NS = 'http://microsoft.com/DRM/GroupExpansionWebService';

const DRM = 'Microsoft.DigitalRightsManagement';
const FAULTS = {
  xml: /^System\.Xml\.XmlException\b/,
  soap: /^System\.Web\.Services\.Protocols\.SoapException\b/,
  malformedVersion: /^Microsoft\.DigitalRightsManagement\.Core\.MalformedDataVersionException\b/,
  unauthorized: /^System\.UnauthorizedAccessException\b/,
  argumentNull: /^System\.ArgumentNullException\b/,
  argument: /^System\.ArgumentException\b/,
  machineChain: /^Microsoft\.DigitalRightsManagement\.Core\.VerifyMachineCertificateChainFailedException\b/,
  personaSignature: /^Microsoft\.DigitalRightsManagement\.Licensing\.InvalidPersonaCertSignatureException\b/,
  untrustedPersona: /^Microsoft\.DigitalRightsManagement\.Licensing\.UntrustedPersonaCertException\b/,
  rightsLabelSignature: /^Microsoft\.DigitalRightsManagement\.Licensing\.InvalidRightsLabelSignatureException\b/,
  unspecified: /^Microsoft\.DigitalRightsManagement\.Utilities\.UnspecifiedErrorException\b/,
};

interface Credentials {
  name: string;
  password: string;
}

/** One served endpoint and the well-formed request of its representative operation. */
interface Endpoint {
  path: string;
  ns: string;
  op: string;
  user(): Credentials;
  /** The request wrapper element (SOAP Body content) of a call that succeeds. */
  body(): string;
  /** What a successful answer must contain beyond `<{op}Response>`. */
  ok(r: RawResponse): void;
}

const certificateArray = (name: string, chain: readonly string[]) =>
  `<${name}>${chain.map((c) => `<Certificate>${certificateFragment(c)}</Certificate>`).join('')}</${name}>`;

const certifyBody = (chain: readonly string[]) =>
  `<Certify xmlns="${CERT_NS}"><requestParams>${certificateArray('MachineCertificateChain', chain)}<Persistent>true</Persistent></requestParams></Certify>`;

const gclcBody = (racChain: readonly string[]) =>
  `<GetClientLicensorCert xmlns="${PUB_NS}"><RequestParams><GetClientLicensorCertParams>${certificateArray('PersonaCerts', racChain)}</GetClientLicensorCertParams></RequestParams></GetClientLicensorCert>`;

interface LicenseItem {
  rac: readonly string[];
  pl?: readonly string[];
  applicationData?: string;
}
const acquireLicenseBody = (items: readonly LicenseItem[]) =>
  `<AcquireLicense xmlns="${LIC_NS}"><RequestParams>${items
    .map(
      (i) =>
        `<AcquireLicenseParams>${certificateArray('LicenseeCerts', i.rac)}${i.pl ? certificateArray('IssuanceLicense', i.pl) : ''}<ApplicationData>${i.applicationData ?? ''}</ApplicationData></AcquireLicenseParams>`,
    )
    .join('')}</RequestParams></AcquireLicense>`;

const acquireTemplatesBody = (guids: readonly string[]) =>
  `<AcquireTemplates xmlns="${TPL_NS}"><guids>${guids.map((g) => `<string>${g}</string>`).join('')}</guids></AcquireTemplates>`;

/** Replaces the character at `index` by another of the same kind, so the document still parses. */
function changeOneByteAt(xml: string, at: number): string {
  // Random base64 (rights data, keys) may hold + or / at the chosen place: take the next letter or digit.
  let index = at;
  while (index < xml.length && index < at + 16 && !/[A-Za-z0-9]/.test(xml[index] ?? '')) index++;
  const c = xml[index];
  if (at < 0 || c === undefined || !/[A-Za-z0-9]/.test(c)) throw new Error(`no letter or digit at ${at}`);
  const other = c === 'z' ? 'y' : c === 'Z' ? 'Y' : c === '9' ? '8' : String.fromCharCode(c.charCodeAt(0) + 1);
  const out = xml.slice(0, index) + other + xml.slice(index + 1);
  expect(out).toHaveLength(xml.length);
  return out;
}

/** `changeOneByteAt` at `offset` characters after the end of the only occurrence of `anchor`. */
function changeOneByteAfter(xml: string, anchor: string, offset = 0): string {
  const at = xml.indexOf(anchor);
  if (at < 0 || xml.indexOf(anchor, at + 1) >= 0) throw new Error(`"${anchor}" must occur exactly once`);
  return changeOneByteAt(xml, at + anchor.length + offset);
}

const faultCodeOf = (xml: string) => /<faultcode>([^<]*)<\/faultcode>/.exec(xml)?.[1] ?? /<soap:Value>([^<]*)<\/soap:Value>/.exec(xml)?.[1];
const faultNameOf = (xml: string) => faultString(xml)?.split(':')[0];

describe('hostile input on every endpoint of a root cluster (SQLite)', () => {
  let root: TestRoot;
  let base: string;
  let reader: Store;
  let foreignDb: TestDatabase;
  const pat = { name: 'pat', email: 'pat@example.test', password: 'pat-password-1' };
  const svc = { name: 'svc-app', email: 'svc-app@example.test', password: 'svc-app-password-1' };
  let spc: string;
  let racChain: string[];
  let plChain: string[];
  let foreignRacChain: string[];
  const clientState = tempDir('hostile-client');

  /** Requests that ended in a fault after reaching the SOAP layer: the request log must name each. */
  const faulted = new Map<string, { fault: string; endpoint: string; principal: string; operation?: string }>();
  function track(r: RawResponse, endpoint: string, principal: string, operation?: string): void {
    const id = r.headers.get('x-request-id');
    const fault = faultNameOf(r.text);
    if (r.status === 500 && id && fault) faulted.set(id, { fault, endpoint, principal, ...(operation ? { operation } : {}) });
  }

  const canaryHits: string[] = [];
  let canary: Server;
  let canaryUrl: string;

  beforeAll(async () => {
    canary = createServer((req, res) => {
      canaryHits.push(`${req.method} ${req.url}`);
      res.end('<!ENTITY leaked "CANARY-FETCHED">');
    });
    await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
    canaryUrl = `http://127.0.0.1:${(canary.address() as AddressInfo).port}`;

    root = await startTestRoot(sqliteDatabase());
    base = root.server.url;
    await addUser(root.db.url, { ...pat, groups: [] });
    await addUser(root.db.url, { ...svc, groups: ['RMS Service Group'] });
    reader = await openStore(root.db.url);

    // A real client: its SPC, the RAC the server issued for it, and a PL it signed offline with its CLC.
    const client = new RmsClient({ serverUrl: base, user: pat.name, password: pat.password, stateDir: clientState });
    const file = await client.protect(Buffer.from('hostile input fixture'), { grants: parseGrantSpec(`${pat.email}:VIEW`) });
    plChain = parseProtectedFile(file).header.plChain;
    spc = readFileSync(path.join(client.stateFolder, 'spc.xml'), 'utf8');
    racChain = JSON.parse(readFileSync(path.join(client.stateFolder, 'rac-chain.json'), 'utf8')) as string[];
    expect(plChain.length).toBeGreaterThanOrEqual(2);
    expect(racChain.length).toBeGreaterThanOrEqual(2);

    // Another root cluster in its own database, never started: it certifies the same machine for a
    // user of the same name and e-mail, through the issuance API.
    foreignDb = sqliteDatabase();
    await provisionRootCluster({
      databaseUrl: foreignDb.url,
      clusterUrl: 'http://127.0.0.1:9/_wmcs',
      serviceAccount: 'rms-service',
      admin: { name: 'olga', password: 'olga-password-1' },
      keyPassword: 'foreign-key-password-1',
      revocation: { kind: 'standard' },
      serverName: 'foreign-1',
    });
    const foreignPat = await addUser(foreignDb.url, { ...pat, groups: [] });
    const foreignStore = await openStore(foreignDb.url);
    try {
      const rt = await ClusterRuntime.open({ store: foreignStore, keyPassword: 'foreign-key-password-1', serverName: 'foreign-1', refreshMs: 0 });
      try {
        const { chain } = await rt.licensing.certify(
          { requestId: 'foreign-certify', principal: { id: foreignPat.id, name: pat.name, email: pat.email } },
          { machineChain: [spc], persistent: true },
        );
        foreignRacChain = chain;
      } finally {
        await rt.close();
      }
    } finally {
      await foreignStore.close();
    }
  }, 180_000);

  afterAll(async () => {
    await reader?.close();
    await root?.stop();
    foreignDb?.dispose();
    rmSync(clientState, { recursive: true, force: true });
    await new Promise<void>((resolve) => (canary ? canary.close(() => resolve()) : resolve()));
  });

  const patAuth = () => ({ name: pat.name, password: pat.password });
  const svcAuth = () => ({ name: svc.name, password: svc.password });

  const ENDPOINTS: Endpoint[] = [
    {
      path: '/_wmcs/certification/server.asmx',
      ns: SERVER_NS,
      op: 'GetLicensorCertificate',
      user: patAuth,
      body: () => `<GetLicensorCertificate xmlns="${SERVER_NS}"/>`,
      ok: (r) => expect(certificatesIn(r.text)).toHaveLength(1),
    },
    {
      path: '/_wmcs/licensing/server.asmx',
      ns: SERVER_NS,
      op: 'FindServiceLocationsForUser',
      user: patAuth,
      body: () =>
        `<FindServiceLocationsForUser xmlns="${SERVER_NS}"><ServiceNames><ServiceLocationRequest><Type>LicensingService</Type></ServiceLocationRequest></ServiceNames></FindServiceLocationsForUser>`,
      ok: (r) => expect(r.text).toContain(`<ServiceLocationResponse><URL>${base}/_wmcs/licensing</URL><Type>LicensingService</Type>`),
    },
    {
      path: '/_wmcs/certification/certification.asmx',
      ns: CERT_NS,
      op: 'Certify',
      user: patAuth,
      body: () => certifyBody([spc]),
      ok: (r) => {
        expect(certificatesIn(r.text).length).toBeGreaterThanOrEqual(2);
        expect(r.text).toContain('<Verified>true</Verified>');
      },
    },
    {
      path: '/_wmcs/certification/ServerCertification.asmx',
      ns: CERT_NS,
      op: 'Certify',
      user: svcAuth,
      body: () => certifyBody([spc]),
      ok: (r) => {
        expect(certificatesIn(r.text).length).toBeGreaterThanOrEqual(2);
        expect(certificatesIn(r.text)[0]).toContain(`<NAME>${svc.email}</NAME>`);
      },
    },
    {
      path: '/_wmcs/licensing/publish.asmx',
      ns: PUB_NS,
      op: 'GetClientLicensorCert',
      user: patAuth,
      body: () => gclcBody(racChain),
      ok: (r) => expect(certificatesIn(r.text).length).toBeGreaterThanOrEqual(2),
    },
    {
      path: '/_wmcs/licensing/license.asmx',
      ns: LIC_NS,
      op: 'AcquireLicense',
      user: patAuth,
      body: () => acquireLicenseBody([{ rac: racChain, pl: plChain }]),
      ok: (r) => expect(certificatesIn(r.text).length).toBeGreaterThanOrEqual(2),
    },
    {
      path: '/_wmcs/licensing/templateDistribution.asmx',
      ns: TPL_NS,
      op: 'AcquireTemplateInformation',
      user: patAuth,
      body: () => `<AcquireTemplateInformation xmlns="${TPL_NS}"/>`,
      ok: (r) => expect(r.text).toMatch(/<GuidHashCount>\d+<\/GuidHashCount>/),
    },
    {
      // Restricted like ServerCertification: the service account is in RMS Service Group.
      path: '/_wmcs/groupexpansion/GroupExpansion.asmx',
      ns: GX_NS,
      op: 'IsPrincipalMemberOf',
      user: svcAuth,
      body: () =>
        `<IsPrincipalMemberOf xmlns="${GX_NS}"><principalName>${pat.email}</principalName><principalCrossForest>${pat.email}</principalCrossForest><targetGroups><string>RMS Service Group</string><string>nobody-group@example.test</string></targetGroups><crossForestCallsSoFar>0</crossForestCallsSoFar></IsPrincipalMemberOf>`,
      ok: (r) => expect(r.text).toContain('<IsPrincipalMemberOfResult>false</IsPrincipalMemberOfResult>'),
    },
  ];

  /** An endpoint of another service (another namespace), to borrow its SOAPAction and body. */
  function foreignOf(ep: Endpoint): Endpoint {
    const i = ENDPOINTS.indexOf(ep);
    for (let k = 1; k < ENDPOINTS.length; k++) {
      const other = ENDPOINTS[(i + k) % ENDPOINTS.length]!;
      if (other.ns !== ep.ns) return other;
    }
    throw new Error('no foreign endpoint');
  }

  const goodEnvelope = (ep: Endpoint, version: '1.1' | '1.2' = '1.1') => envelope({ version, header: versionData(ep.ns), body: ep.body() });

  const call = (ep: Endpoint, over: Partial<Parameters<typeof postSoap>[0]> = {}) =>
    postSoap({ url: `${base}${ep.path}`, action: `${ep.ns}/${ep.op}`, auth: ep.user(), body: goodEnvelope(ep), ...over });

  function expectOk(ep: Endpoint, r: RawResponse): void {
    expect({ status: r.status, fault: faultString(r.text) }).toEqual({ status: 200, fault: undefined });
    expect(r.text).toContain(`<${ep.op}Response xmlns="${ep.ns}">`);
    ep.ok(r);
  }

  /** An envelope with a DTD in front; the wrapper element carries `content` (which may use the entities). */
  const withDoctype = (ep: Endpoint, dtd: string, content: string, version: '1.1' | '1.2' = '1.1') =>
    `<?xml version="1.0" encoding="utf-8"?>${dtd}<soap:Envelope xmlns:soap="${version === '1.2' ? ENV12 : ENV11}"><soap:Header>${versionData(ep.ns)}</soap:Header><soap:Body><${ep.op} xmlns="${ep.ns}">${content}</${ep.op}></soap:Body></soap:Envelope>`;

  const ENTITY_MARK = 'ENTITY-EXPANDED-7f3a9c';
  const BILLION_LAUGHS =
    '<!DOCTYPE soap:Envelope [<!ENTITY lol "lol">' +
    Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`).join('') +
    ']>';

  interface HostileCase {
    name: string;
    send(ep: Endpoint): Promise<RawResponse>;
    status: number;
    fault?: RegExp;
    /** Expected faultcode (SOAP 1.1) or Code/Value (SOAP 1.2), with its prefix. */
    code?: string;
    /** Strings or patterns that must not appear anywhere in the response. */
    absent?: (string | RegExp)[];
    check?(r: RawResponse, ep: Endpoint): void;
  }

  const CASES: HostileCase[] = [
    {
      name: 'malformed XML',
      send: (ep) => call(ep, { body: `<soap:Envelope xmlns:soap="${ENV11}"><soap:Body><${ep.op} xmlns="${ep.ns}"><oops></soap:Body>` }),
      status: 500,
      fault: FAULTS.xml,
      code: 'soap:Client',
    },
    {
      name: 'a DOCTYPE with an internal entity',
      send: (ep) => call(ep, { body: withDoctype(ep, `<!DOCTYPE soap:Envelope [<!ENTITY x "${ENTITY_MARK}">]>`, '&x;') }),
      status: 500,
      fault: FAULTS.xml,
      code: 'soap:Client',
      absent: [ENTITY_MARK],
    },
    {
      name: 'a billion-laughs payload',
      send: (ep) => call(ep, { body: withDoctype(ep, BILLION_LAUGHS, '&lol9;') }),
      status: 500,
      fault: FAULTS.xml,
      code: 'soap:Client',
      absent: ['lollol'],
      check: (r) => expect(r.text.length).toBeLessThan(4096),
    },
    {
      name: 'an external SYSTEM entity naming /etc/passwd',
      send: (ep) => call(ep, { body: withDoctype(ep, '<!DOCTYPE soap:Envelope [<!ENTITY x SYSTEM "file:///etc/passwd">]>', '&x;') }),
      status: 500,
      fault: FAULTS.xml,
      code: 'soap:Client',
      absent: [/root:[^:\n]*:0:0:/, '/bin/', 'nologin'],
    },
    {
      name: 'an external DTD and parameter entity over HTTP (never fetched)',
      send: (ep) =>
        call(ep, {
          body: withDoctype(
            ep,
            `<!DOCTYPE soap:Envelope SYSTEM "${canaryUrl}/dtd" [<!ENTITY % p SYSTEM "${canaryUrl}/p"> %p;<!ENTITY x SYSTEM "${canaryUrl}/x">]>`,
            '&x;&leaked;',
          ),
        }),
      status: 500,
      fault: FAULTS.xml,
      code: 'soap:Client',
      absent: ['CANARY-FETCHED'],
      check: () => expect(canaryHits).toEqual([]),
    },
    {
      name: 'a DOCTYPE in a SOAP 1.2 request (faults in SOAP 1.2)',
      send: (ep) =>
        call(ep, {
          version: '1.2',
          body: withDoctype(ep, `<!DOCTYPE soap:Envelope [<!ENTITY x "${ENTITY_MARK}">]>`, '&x;', '1.2'),
        }),
      status: 500,
      fault: FAULTS.xml,
      code: 'soap:Sender',
      absent: [ENTITY_MARK],
      check: (r) => {
        expect(r.headers.get('content-type')).toMatch(/^application\/soap\+xml/);
        expect(r.text).toContain(`xmlns:soap="${ENV12}"`);
      },
    },
    {
      name: 'a body over the 1 MiB limit',
      send: (ep) => {
        const good = goodEnvelope(ep);
        // Well-formed (trailing whitespace after the root is legal): only its size is wrong.
        return call(ep, { body: good + ' '.repeat(1024 * 1024 + 1 - Buffer.byteLength(good)) });
      },
      status: 413,
    },
    {
      name: 'an unknown soapAction',
      send: (ep) => call(ep, { action: `${ep.ns}/NoSuchOperation` }),
      status: 500,
      fault: FAULTS.soap,
      code: 'soap:Client',
      check: (r) => expect(faultString(r.text)).toMatch(/SOAPAction/),
    },
    {
      name: "another service's soapAction on this endpoint's request",
      send: (ep) => {
        const other = foreignOf(ep);
        return call(ep, { action: `${other.ns}/${other.op}` });
      },
      status: 500,
      fault: FAULTS.soap,
      code: 'soap:Client',
      check: (r) => expect(faultString(r.text)).toMatch(/SOAPAction/),
    },
    {
      name: "another service's whole request (its soapAction, body and VersionData)",
      send: (ep) => {
        const other = foreignOf(ep);
        return call(ep, { action: `${other.ns}/${other.op}`, body: goodEnvelope(other) });
      },
      status: 500,
      fault: FAULTS.soap,
      code: 'soap:Client',
      check: (r) => {
        expect(faultString(r.text)).toMatch(/SOAPAction/);
        expect(certificatesIn(r.text)).toHaveLength(0);
      },
    },
    {
      name: 'a missing VersionData header',
      send: (ep) => call(ep, { body: envelope({ body: ep.body() }) }),
      status: 500,
      fault: FAULTS.malformedVersion,
      code: 'soap:Server',
    },
    {
      name: 'no credentials',
      send: (ep) => call(ep, { auth: null }),
      status: 401,
    },
    {
      name: 'a wrong password',
      send: (ep) => call(ep, { auth: { name: ep.user().name, password: 'not-the-password-1' } }),
      status: 401,
    },
    {
      name: 'a well-formed SOAP 1.2 request (works)',
      send: (ep) => call(ep, { version: '1.2', body: goodEnvelope(ep, '1.2') }),
      status: 200,
      check: (r, ep) => {
        expect(r.headers.get('content-type')).toMatch(/^application\/soap\+xml; charset=utf-8/);
        expect(r.text).toContain(`xmlns:soap="${ENV12}"`);
        expect(r.text).toContain(`<VersionData xmlns="${ep.ns}"><MinimumVersion>1.0.0.0</MinimumVersion>`);
        expectOk(ep, r);
      },
    },
  ];

  describe.each(ENDPOINTS.map((ep) => [ep.path, ep] as const))('%s', (_path, ep) => {
    it.each(CASES.map((c) => [c.name, c] as const))('%s, and the server keeps serving', async (_name, c) => {
      const r = await c.send(ep);
      expect(r.status).toBe(c.status);
      if (c.fault) {
        expect(faultString(r.text)).toMatch(c.fault);
        expect(r.text).not.toMatch(/\n\s+at /); // no stack trace
        expect(r.text).not.toContain('<MinimumVersion>'); // no VersionData on faults
      }
      if (c.code) expect(faultCodeOf(r.text)).toBe(c.code);
      for (const a of c.absent ?? []) {
        if (typeof a === 'string') expect(r.text).not.toContain(a);
        else expect(r.text).not.toMatch(a);
      }
      if (r.status === 401) {
        expect(r.headers.get('www-authenticate')).toMatch(/^Basic realm="OpenRMS"/);
        expect(r.text).not.toContain('Certificate');
      }
      c.check?.(r, ep);
      track(r, ep.path, ep.user().name);
      expectOk(ep, await call(ep));
    });
  });

  describe('authorisation', () => {
    it('a plain user gets 403 and UnauthorizedAccessException from ServerCertification.asmx, while certification.asmx certifies the same user', async () => {
      const serverCertification = ENDPOINTS.find((e) => e.path.endsWith('/ServerCertification.asmx'))!;
      const certification = ENDPOINTS.find((e) => e.path.endsWith('/certification.asmx'))!;
      const racsBefore = await reader.issued.count({ kind: 'RAC' });

      const denied = await call(serverCertification, { auth: patAuth() });
      expect(denied.status).toBe(403);
      expect(faultString(denied.text)).toMatch(FAULTS.unauthorized);
      expect(certificatesIn(denied.text)).toHaveLength(0);
      expect(await reader.issued.count({ kind: 'RAC' })).toBe(racsBefore);

      // Also over SOAP 1.2: the denial is written in the caller's SOAP version.
      const denied12 = await call(serverCertification, { auth: patAuth(), version: '1.2', body: goodEnvelope(serverCertification, '1.2') });
      expect(denied12.status).toBe(403);
      expect(denied12.headers.get('content-type')).toMatch(/^application\/soap\+xml/);
      expect(faultString(denied12.text)).toMatch(FAULTS.unauthorized);

      const allowed = await call(certification, { auth: patAuth() });
      expectOk(certification, allowed);
      expect(certificatesIn(allowed.text)[0]).toContain(`<NAME>${pat.email}</NAME>`);
      expect(await reader.issued.count({ kind: 'RAC' })).toBe(racsBefore + 1);
    });
  });

  describe('forged and out-of-bounds protocol input: the fault, and nothing written but the request-log row', () => {
    const snapshot = async () => ({ issued: await reader.issued.count(), rows: sqliteRowCounts(root.db.url, ['request_log']) });

    async function expectRefusedWritingNothing(
      o: { path: string; ns: string; op: string; body: string; auth?: Credentials; min?: string; max?: string },
      fault: RegExp,
    ): Promise<RawResponse> {
      const before = await snapshot();
      const auth = o.auth ?? patAuth();
      const r = await postSoap({
        url: `${base}${o.path}`,
        action: `${o.ns}/${o.op}`,
        auth,
        body: envelope({ header: versionData(o.ns, o.min ?? '1.0.0.0', o.max ?? '1.0.0.0'), body: o.body }),
      });
      expect({ status: r.status, fault: faultString(r.text) }).toEqual({ status: 500, fault: expect.stringMatching(fault) });
      expect(faultCodeOf(r.text)).toBe('soap:Server');
      expect(certificatesIn(r.text)).toHaveLength(0);
      expect(r.text).not.toMatch(/\n\s+at /);
      expect(await snapshot()).toEqual(before);
      track(r, o.path, auth.name, o.op);
      return r;
    }

    const certify = (chain: readonly string[]) => ({ path: '/_wmcs/certification/certification.asmx', ns: CERT_NS, op: 'Certify', body: certifyBody(chain) });
    const license = (items: readonly LicenseItem[], max = '1.0.0.0') => ({
      path: '/_wmcs/licensing/license.asmx',
      ns: LIC_NS,
      op: 'AcquireLicense',
      body: acquireLicenseBody(items),
      max,
    });

    /** The RAC with one byte of the user's e-mail address changed (inside the signed BODY). */
    const tamperedRac = () => {
      const rac = racChain[0]!;
      const name = `<NAME>${pat.email}</NAME>`;
      const at = rac.indexOf(name);
      expect(at >= 0 && rac.indexOf(name, at + 1) < 0).toBe(true);
      return [changeOneByteAt(rac, at + '<NAME>'.length), ...racChain.slice(1)];
    };

    it('Certify with a machine certificate whose signed BODY has one byte changed: VerifyMachineCertificateChainFailedException', async () => {
      const broken = changeOneByteAfter(spc, '<SECURITYLEVEL name="Manufacturer" value="');
      expect(broken).not.toBe(spc);
      await expectRefusedWritingNothing(certify([broken]), FAULTS.machineChain);
    });

    it('Certify with a machine certificate whose SignatureValue has one byte changed: VerifyMachineCertificateChainFailedException', async () => {
      await expectRefusedWritingNothing(certify([changeOneByteAfter(spc, '<ds:SignatureValue>', 20)]), FAULTS.machineChain);
    });

    it('Certify with an empty MachineCertificateChain: ArgumentNullException', async () => {
      await expectRefusedWritingNothing(certify([]), FAULTS.argumentNull);
    });

    it('AcquireLicense with a RAC that has one byte changed: InvalidPersonaCertSignatureException', async () => {
      await expectRefusedWritingNothing(license([{ rac: tamperedRac(), pl: plChain }]), FAULTS.personaSignature);
    });

    it('AcquireLicense with a PL that has one byte changed inside BODY: InvalidRightsLabelSignatureException', async () => {
      const pl = changeOneByteAfter(plChain[0]!, '<AUTHENTICATEDDATA id="Encrypted-Rights-Data">', 40);
      await expectRefusedWritingNothing(license([{ rac: racChain, pl: [pl, ...plChain.slice(1)] }]), FAULTS.rightsLabelSignature);
    });

    describe('signature wrapping of the PL', () => {
      const realBody = () => /<BODY[\s\S]*<\/BODY>/.exec(plChain[0]!)![0];
      /** The PL BODY naming mallory as owner instead of pat: what a wrapping attack wants read. */
      const forgedBody = () => {
        const real = realBody();
        const forged = real.replace(`<OWNER><OBJECT><ID type="Federation"/><NAME>${pat.email}</NAME>`, '<OWNER><OBJECT><ID type="Federation"/><NAME>mallory@example.test</NAME>');
        expect(forged).not.toBe(real);
        return forged;
      };
      const signature = () => /<ds:Signature[\s\S]*<\/ds:Signature>/.exec(plChain[0]!)![0];
      const WRAPS: [string, () => string][] = [
        ['the signed BODY moved into a wrapper element, a forged BODY in its place', () => plChain[0]!.replace(realBody(), `<Wrapper>${realBody()}</Wrapper>${forgedBody()}`)],
        ['the signed BODY moved into a ds:Object of the signature, a forged BODY in its place', () =>
          plChain[0]!.replace(realBody(), forgedBody()).replace('</ds:Signature>', `<ds:Object>${realBody()}</ds:Object></ds:Signature>`)],
        ['the signed BODY after a forged BODY', () => plChain[0]!.replace(realBody(), `${forgedBody()}${realBody()}`)],
        ['a second ds:Signature', () => plChain[0]!.replace(signature(), `${signature()}${signature()}`)],
        ['a forged BODY with the original signature, and a second ds:Signature', () => plChain[0]!.replace(realBody(), forgedBody()).replace(signature(), `${signature()}${signature()}`)],
      ];
      it.each(WRAPS)('%s: InvalidRightsLabelSignatureException, no use licence', async (_name, wrap) => {
        const pl = wrap();
        expect(pl).not.toBe(plChain[0]);
        await expectRefusedWritingNothing(license([{ rac: racChain, pl: [pl, ...plChain.slice(1)] }]), FAULTS.rightsLabelSignature);
      });
    });

    it('GetClientLicensorCert with a RAC issued by another cluster: UntrustedPersonaCertException', async () => {
      // Same user name, e-mail and machine: only the issuing cluster differs.
      expect(foreignRacChain[0]).toContain(`<NAME>${pat.email}</NAME>`);
      await expectRefusedWritingNothing(
        { path: '/_wmcs/licensing/publish.asmx', ns: PUB_NS, op: 'GetClientLicensorCert', body: gclcBody(foreignRacChain) },
        FAULTS.untrustedPersona,
      );
    });

    it('AcquireLicense with a batch of 2 under VersionData 1.0.0.0: ArgumentException', async () => {
      await expectRefusedWritingNothing(license([{ rac: racChain, pl: plChain }, { rac: racChain }]), FAULTS.argument);
    });

    it('AcquireLicense with a batch under 1.1.0.0, one good and one bad item: 200, one UL and one AcquireLicenseException at batchindex 1', async () => {
      const before = await snapshot();
      const r = await postSoap({
        url: `${base}/_wmcs/licensing/license.asmx`,
        action: `${LIC_NS}/AcquireLicense`,
        auth: patAuth(),
        body: envelope({ header: versionData(LIC_NS, '1.0.0.0', '1.1.0.0'), body: acquireLicenseBody([{ rac: racChain, pl: plChain }, { rac: tamperedRac() }]) }),
      });
      expect({ status: r.status, fault: faultString(r.text) }).toEqual({ status: 200, fault: undefined });
      const responses = [...r.text.matchAll(/<AcquireLicenseResponse>([\s\S]*?)<\/AcquireLicenseResponse>/g)].map((m) => m[1]!);
      expect(responses).toHaveLength(2);
      const [good, bad] = responses as [string, string];
      const ul = certificatesIn(good)[0]!;
      expect(readUseLicense(verifyXrmlSignature(parseXrml(ul), root.server.runtime.slc.principal.publicKey)).rights.map((x) => x.right)).toEqual(['OWNER']); // pat published it
      expect(bad).not.toContain('<XrML');
      const exceptions = [...r.text.matchAll(/<AcquireLicenseException><ExceptionString>([^<]*)<\/ExceptionString><batchindex>(\d+)<\/batchindex><\/AcquireLicenseException>/g)];
      expect(exceptions).toHaveLength(1);
      expect(exceptions[0]![1]).toMatch(FAULTS.personaSignature);
      expect(exceptions[0]![2]).toBe('1');
      expect(bad).toContain(exceptions[0]![0]);
      const after = await snapshot();
      // Exactly one thing was issued: the UL of item 0.
      expect(after.issued).toBe(before.issued + 1);
      expect(after.rows).toEqual({ ...before.rows, issued: before.rows.issued! + 1 });
    });

    it('AcquireLicense with ApplicationData over 102,400 bytes: UnspecifiedErrorException (the body stays under 1 MiB)', async () => {
      const req = license([{ rac: racChain, pl: plChain, applicationData: 'A'.repeat(110_000) }]);
      expect(Buffer.byteLength(req.body)).toBeLessThan(1024 * 1024);
      const r = await expectRefusedWritingNothing(req, FAULTS.unspecified);
      // The catch-all fault carries a correlation id, not the internal message.
      expect(faultString(r.text)).toMatch(/Correlation id/);
    });

    it('AcquireLicense with ApplicationData under the limit (100,000 bytes) still gets its use licence', async () => {
      const before = await reader.issued.count({ kind: 'UL' });
      const r = await postSoap({
        url: `${base}/_wmcs/licensing/license.asmx`,
        action: `${LIC_NS}/AcquireLicense`,
        auth: patAuth(),
        body: envelope({ header: versionData(LIC_NS), body: acquireLicenseBody([{ rac: racChain, pl: plChain, applicationData: 'A'.repeat(100_000) }]) }),
      });
      expect({ status: r.status, fault: faultString(r.text) }).toEqual({ status: 200, fault: undefined });
      expect(await reader.issued.count({ kind: 'UL' })).toBe(before + 1);
    });

    it('AcquireLicense with ApplicationData of 120,000 UTF-8 bytes (40,000 "€"): UnspecifiedErrorException — the limit is in bytes', async () => {
      const appData = '€'.repeat(40_000);
      expect(Buffer.byteLength(appData)).toBe(120_000);
      await expectRefusedWritingNothing(license([{ rac: racChain, pl: plChain, applicationData: appData }]), FAULTS.unspecified);
    });

    it('AcquireTemplates with 26 GUIDs: ArgumentException; with 25 it answers', async () => {
      const guids = Array.from({ length: 26 }, (_, i) => `{00000000-0000-4000-8000-${String(i).padStart(12, '0')}}`);
      const templates = (g: string[]) => ({ path: '/_wmcs/licensing/templateDistribution.asmx', ns: TPL_NS, op: 'AcquireTemplates', body: acquireTemplatesBody(g) });
      await expectRefusedWritingNothing(templates(guids), FAULTS.argument);
      const r = await postSoap({
        url: `${base}/_wmcs/licensing/templateDistribution.asmx`,
        action: `${TPL_NS}/AcquireTemplates`,
        auth: patAuth(),
        body: envelope({ header: versionData(TPL_NS), body: acquireTemplatesBody(guids.slice(0, 25)) }),
      });
      expect({ status: r.status, fault: faultString(r.text) }).toEqual({ status: 200, fault: undefined });
      expect(r.text).toContain(`<AcquireTemplatesResponse xmlns="${TPL_NS}">`);
    });
  });

  it('the request log holds a row for every faulted request, with the fault name as its result, written in the background', async () => {
    // Every transport case of every endpoint except 413/401/200, plus the protocol-level refusals.
    expect(faulted.size).toBeGreaterThanOrEqual(ENDPOINTS.length * 10 + 12);
    // One more, so that at least one row is certainly still queued when polling starts.
    const license = ENDPOINTS.find((e) => e.op === 'AcquireLicense')!;
    const last = await call(license, { body: `<soap:Envelope xmlns:soap="${ENV11}"><soap:Body><AcquireLicense xmlns="${LIC_NS}">` });
    expect(faultString(last.text)).toMatch(FAULTS.xml);
    track(last, license.path, pat.name);
    const lastId = last.headers.get('x-request-id')!;

    const started = Date.now();
    let rows = new Map<string, Awaited<ReturnType<Store['requestLog']['tail']>>[number]>();
    while (Date.now() - started < 5000) {
      rows = new Map((await reader.requestLog.tail(5000)).filter((e) => e.requestId).map((e) => [e.requestId!, e]));
      if ([...faulted.keys()].every((id) => rows.has(id))) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const missing = [...faulted.entries()].filter(([id]) => !rows.has(id));
    expect(missing).toEqual([]);
    expect(rows.get(lastId)).toMatchObject({ operation: 'unknown', result: 'System.Xml.XmlException', endpoint: license.path });
    for (const [id, want] of faulted) {
      const row = rows.get(id)!;
      expect({ id, result: row.result, endpoint: row.endpoint, principal: row.principal }).toEqual({
        id,
        result: want.fault,
        endpoint: want.endpoint,
        principal: want.principal,
      });
      if (want.operation) expect({ id, operation: row.operation }).toEqual({ id, operation: want.operation });
      expect(row.serverId).toBe(root.server.runtime.serverId);
    }
    // Faults of the forgeries carry the protocol's names, not a catch-all.
    const results = new Set([...faulted.keys()].map((id) => rows.get(id)!.result));
    for (const name of [
      `${DRM}.Core.VerifyMachineCertificateChainFailedException`,
      `${DRM}.Licensing.InvalidPersonaCertSignatureException`,
      `${DRM}.Licensing.InvalidRightsLabelSignatureException`,
      `${DRM}.Licensing.UntrustedPersonaCertException`,
      'System.ArgumentNullException',
      'System.ArgumentException',
      'System.Xml.XmlException',
      `${DRM}.Core.MalformedDataVersionException`,
    ]) {
      expect(results).toContain(name);
    }
  });
});
