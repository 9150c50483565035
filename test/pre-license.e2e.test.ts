import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { contentAad, parseProtectedFile, RmsClient } from '@openrms/client';
import { RsaKeyPair } from '@openrms/keys';
import { parseGrantSpec } from '@openrms/domain';
import type { RunningServer } from '@openrms/server';
import { parseXrml, readCertificate, readRac, readUseLicense } from '@openrms/xrml';
import { sqliteDatabase, tempDir, type TestDatabase } from './support/databases';
import { background, REPO, rmsctl, TSX_BIN, type Background } from './support/processes';
import { addPeople, person, provisionLicensing, provisionRoot, startMember } from './support/clusters';
import { freePort } from './support/root-cluster';
import { envelope, faultString, postSoap, versionData } from './support/soap-client';
import { xmlsecVerifies } from './support/xmlsec';

const run = promisify(execFile);

const PASSWORDS = { ADMIN_PW: 'admin-password-1', KEY_PW: 'cluster-key-password-1', ALICE_PW: 'alice-password-1', BOB_PW: 'bob-password-1', CAROL_PW: 'carol-password-1', ERIN_PW: 'erin-password-1' };
const LIC_NS = 'http://microsoft.com/DRM/LicensingService';

/**
 * AcquirePreLicense through python3-zeep, raw XML arguments, strict schema checking.
 * argv: BASE USER PASSWORD IDENTITIES(comma-separated) PL_FILE...; prints JSON: per response, the
 * Licenses entries (each one XML string: a UL or an AcquirePreLicenseException) and the CertificateChain.
 */
const ZEEP_PRE_LICENSE = `
import json, sys, requests
from lxml import etree
from zeep import Client, Settings
from zeep.transports import Transport

base, user, password, identities, *pl_files = sys.argv[1:]
session = requests.Session()
session.auth = (user, password)
client = Client(f"{base}/_wmcs/licensing/license.asmx?wsdl", transport=Transport(session=session), settings=Settings(strict=True))

def element(p):
    with open(p, "rb") as f:
        return etree.fromstring(f.read())

def nodes(array):
    out = []
    for cert in (array.Certificate if array is not None else []):
        value = cert._value_1 if isinstance(cert._value_1, list) else [cert._value_1]
        out.extend(etree.tostring(n, encoding="unicode") for n in value if isinstance(n, etree._Element))
    return out

version = client.get_element("{http://microsoft.com/DRM/LicensingService}VersionData")(MinimumVersion="1.0.0.0", MaximumVersion="1.0.0.0")
answer = client.service.AcquirePreLicense(
    RequestParams={"AcquirePreLicenseParams": [{
        "LicenseeIdentities": {"string": identities.split(",")},
        "IssuanceLicense": {"Certificate": [{"_value_1": element(p)} for p in pl_files]},
    }]},
    _soapheaders=[version],
)
result = answer.body.AcquirePreLicenseResult.AcquirePreLicenseResponse
print(json.dumps([{"licenses": nodes(r.Licenses), "chain": nodes(r.CertificateChain), "references": nodes(r.ReferenceCertificates)} for r in result]))
`;

async function rms(args: string[], env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  try {
    const r = await run(TSX_BIN, [path.join(REPO, 'apps/rms/src/main.ts'), ...args], { cwd: REPO, env: { ...process.env, ...env }, timeout: 60_000 });
    return { code: 0, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stderr: x.stderr ?? '' };
  }
}

describe('AcquirePreLicense against a cluster member process', () => {
  let db: TestDatabase;
  let server: Background;
  let base: string;
  let dir: string;
  let env: Record<string, string>;
  const conn = (user: string) => ['--server', base, '--user', user, '--password-env', `${user.toUpperCase()}_PW`];

  beforeAll(async () => {
    db = sqliteDatabase();
    dir = tempDir('pre-license-e2e');
    env = { ...PASSWORDS, RMS_CLIENT_STATE_DIR: path.join(dir, 'state') };
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const prov = rmsctl(['provision', 'root', '--database', db.url, '--cluster-url', base, '--service-account', 'rms-svc', '--admin', 'admin', '--admin-password-env', 'ADMIN_PW', '--key-password-env', 'KEY_PW'], PASSWORDS);
    expect(prov.stderr).toBe('');
    for (const u of ['alice', 'bob', 'carol', 'erin']) {
      expect(rmsctl(['users', 'add', u, '--database', db.url, '--email', `${u}@example.test`, '--password-env', `${u.toUpperCase()}_PW`], PASSWORDS).stderr).toBe('');
    }
    // erin is excluded by policy: no CLC, no use licence, and no pre-licence either.
    expect(rmsctl(['policy', 'exclude-user', '--database', db.url, '--email', 'erin@example.test']).code).toBe(0);
    server = background(TSX_BIN, [path.join(REPO, 'apps/cli/src/main.ts'), 'serve', '--database', db.url, '--listen', `127.0.0.1:${port}`, '--key-password-env', 'KEY_PW'], {
      env: { KEY_PW: PASSWORDS.KEY_PW, RMS_LOG_LEVEL: 'warn' },
    });
    await server.waitFor(/listening on http/);
  });

  afterAll(async () => {
    await server?.stop();
    db?.dispose();
  });

  it('licenses bob before he asks (bound to the key of the RAC he gets later), and answers the others in place', async () => {
    const plain = path.join(dir, 'memo.txt');
    const protectedFile = path.join(dir, 'memo.rms');
    writeFileSync(plain, 'Pre-licensed memo.\n');
    const p = await rms(['protect', plain, '--out', protectedFile, ...conn('alice'), '--grant', 'bob@example.test:VIEW'], env);
    expect(p.code).toBe(0);
    const header = parseProtectedFile(readFileSync(protectedFile)).header;
    // The client publishes offline: the PL leaf is signed by alice's CLC, which follows it.
    const plFiles = header.plChain.map((x, i) => {
      const f = path.join(dir, `pl${i}.xml`);
      writeFileSync(f, x);
      return f;
    });

    const { stdout } = await run(
      '/usr/bin/python3',
      ['-c', ZEEP_PRE_LICENSE, base, 'alice', PASSWORDS.ALICE_PW, 'bob@example.test,nobody@example.test,carol@example.test', ...plFiles],
      { timeout: 60_000 },
    );
    const [got, ...more] = JSON.parse(stdout) as { licenses: string[]; chain: string[]; references: string[] }[];
    expect(more).toHaveLength(0);
    expect(got!.licenses).toHaveLength(3);
    expect(got!.references).toEqual([]);
    const slcPem = rmsctl(['slc', 'show', '--database', db.url, '--pem']).stdout;
    for (const c of got!.chain) expect(xmlsecVerifies(c, slcPem)).toBe(true);

    const [ulXml, nobody, carol] = got!.licenses;
    expect(xmlsecVerifies(ulXml!, slcPem)).toBe(true);
    const ul = readUseLicense(parseXrml(ulXml!));
    expect(ul.licensee.identity.email).toBe('bob@example.test');
    expect(ul.rights.map((r) => r.right)).toEqual(['VIEW']);
    expect(ul.contentId).toBe(header.contentId);
    expect(nobody).toMatch(/^<AcquirePreLicenseException[\s>]/);
    expect(nobody).toMatch(/<ExceptionString>[^<]*AcquirePreLicenseInvalidLicenseeException[^<]*<\/ExceptionString>/);
    expect(nobody).toMatch(/<batchindex>1<\/batchindex>/);
    expect(carol).toMatch(/<ExceptionString>Microsoft\.DigitalRightsManagement\.Licensing\.NoRightsForRequestedPrincipalException: [^<]*<\/ExceptionString>/);
    expect(carol).toMatch(/<batchindex>2<\/batchindex>/);

    // bob certifies only now (by opening the file): his RAC carries the key the pre-licence is sealed to.
    const o = await rms(['open', protectedFile, '--out', path.join(dir, 'bob.txt'), ...conn('bob')], env);
    expect(o.code).toBe(0);
    const bobState = path.join(dir, 'state', `bob@127.0.0.1_${new URL(base).port}`);
    const rac = readRac(parseXrml((JSON.parse(readFileSync(path.join(bobState, 'rac-chain.json'), 'utf8')) as string[])[0]!));
    expect(ul.licensee.identity).toEqual(rac.identity);
    expect(ul.licensee.publicKey.export({ format: 'pem', type: 'spki' })).toEqual(rac.publicKey.export({ format: 'pem', type: 'spki' }));
    // And bob's client opens the memo with the pre-licence alone: its RAC key unseals the content key.
    const machineKey = RsaKeyPair.unwrap(readFileSync(path.join(bobState, 'machine-key.json'), 'utf8'), PASSWORDS.BOB_PW, 'machine key');
    const racKey = machineKey.unsealKeyPair(rac.enablingBits!, 'rac-private-key');
    const parts = parseProtectedFile(readFileSync(protectedFile));
    const contentKey = racKey.unsealContentKey(ul.rights[0]!.enablingBits);
    expect(contentKey.decrypt(parts.encryptedContent, contentAad(parts.headerBytes)).toString('utf8')).toBe('Pre-licensed memo.\n');
  });

  it('answers an excluded recipient with DrmacIsExcludedException, in place', async () => {
    const plain = path.join(dir, 'memo2.txt');
    const protectedFile = path.join(dir, 'memo2.rms');
    writeFileSync(plain, 'For bob and erin.\n');
    expect((await rms(['protect', plain, '--out', protectedFile, ...conn('alice'), '--grant', 'bob@example.test:VIEW', '--grant', 'erin@example.test:VIEW'], env)).code).toBe(0);
    const plFiles = parseProtectedFile(readFileSync(protectedFile)).header.plChain.map((x, i) => {
      const f = path.join(dir, `memo2-pl${i}.xml`);
      writeFileSync(f, x);
      return f;
    });
    const { stdout } = await run('/usr/bin/python3', ['-c', ZEEP_PRE_LICENSE, base, 'alice', PASSWORDS.ALICE_PW, 'erin@example.test,bob@example.test', ...plFiles], { timeout: 60_000 });
    const [got] = JSON.parse(stdout) as { licenses: string[] }[];
    expect(got!.licenses[0]).toMatch(/<ExceptionString>Microsoft\.DigitalRightsManagement\.Licensing\.DrmacIsExcludedException: erin@example\.test is excluded by policy<\/ExceptionString>/);
    expect(got!.licenses[0]).toMatch(/<batchindex>0<\/batchindex>/);
    expect(readUseLicense(parseXrml(got!.licenses[1]!)).licensee.identity.email).toBe('bob@example.test');
  });

  it('answers missing required elements with ArgumentNullException ([MS-RMSI] 3.1.4.2)', async () => {
    const pl = readFileSync(path.join(dir, 'pl0.xml'), 'utf8').replace(/^<\?xml[^>]*\?>/, '').replace(/^<XrML/, '<XrML xmlns=""');
    const call = (inner: string) =>
      postSoap({
        url: `${base}/_wmcs/licensing/license.asmx`,
        action: `${LIC_NS}/AcquirePreLicense`,
        auth: { name: 'alice', password: PASSWORDS.ALICE_PW },
        body: envelope({ header: versionData(LIC_NS), body: `<AcquirePreLicense xmlns="${LIC_NS}">${inner}</AcquirePreLicense>` }),
      });
    const cases: [string, string, RegExp][] = [
      ['no RequestParams', '', /^System\.ArgumentNullException: RequestParams is null/],
      ['no AcquirePreLicenseParams', '<RequestParams/>', /^System\.ArgumentNullException: RequestParams holds no AcquirePreLicenseParams/],
      ['no LicenseeIdentities', `<RequestParams><AcquirePreLicenseParams><IssuanceLicense><Certificate>${pl}</Certificate></IssuanceLicense></AcquirePreLicenseParams></RequestParams>`, /^System\.ArgumentNullException: LicenseeIdentities/],
      ['no IssuanceLicense', '<RequestParams><AcquirePreLicenseParams><LicenseeIdentities><string>bob@example.test</string></LicenseeIdentities></AcquirePreLicenseParams></RequestParams>', /^System\.ArgumentNullException: IssuanceLicense/],
    ];
    for (const [what, inner, fault] of cases) {
      const r = await call(inner);
      expect([what, r.status, faultString(r.text)]).toEqual([what, 500, expect.stringMatching(fault)]);
    }
  });

  it('faults the whole request when the issuance licence does not verify', async () => {
    const bad = path.join(dir, 'bad-pl.xml');
    // The offline PL leaf alone: nothing this cluster trusts signed it.
    writeFileSync(bad, readFileSync(path.join(dir, 'pl0.xml')));
    const r = await run('/usr/bin/python3', ['-c', ZEEP_PRE_LICENSE, base, 'alice', PASSWORDS.ALICE_PW, 'bob@example.test', bad], { timeout: 60_000 }).then(
      () => '',
      (e: { stderr?: string }) => e.stderr ?? '',
    );
    expect(r).toMatch(/InvalidRightsLabelSignatureException/);
  });
});

/**
 * A licensing-only cluster holds no rights account keys (the root does): [MS-RMSI] 3.5.4.1 has a
 * server that cannot retrieve a person's key answer that person with
 * AcquirePreLicenseInvalidLicenseeException, in place, after the PL itself was accepted.
 */
describe('AcquirePreLicense at a licensing-only cluster', () => {
  const enroller = person('enroller');
  const alice = person('alice');
  const bob = person('bob');
  let rootDb: TestDatabase;
  let licDb: TestDatabase;
  let root: RunningServer;
  let lic: RunningServer;
  let dir: string;

  beforeAll(async () => {
    rootDb = sqliteDatabase();
    licDb = sqliteDatabase();
    dir = tempDir('pre-license-lic');
    const [rootPort, licPort] = [await freePort(), await freePort()];
    const rootBase = await provisionRoot(rootDb, rootPort);
    await addPeople(rootDb, [enroller, alice, bob]);
    expect(rmsctl(['dacl', 'grant', '--database', rootDb.url, '--endpoint', '/_wmcs/certification/SubEnrollService.asmx', '--principal', 'enroller', '--right', 'Execute']).code).toBe(0);
    root = await startMember(rootDb, rootPort, 'root-1');
    await provisionLicensing(licDb, licPort, rootBase, enroller);
    await addPeople(licDb, [alice, bob]);
    lic = await startMember(licDb, licPort, 'lic-1');
  }, 120_000);

  afterAll(async () => {
    await lic?.close();
    await root?.close();
    rootDb?.dispose();
    licDb?.dispose();
  });

  it('accepts the PL, and answers each recipient with the invalid-licensee exception', async () => {
    const file = await new RmsClient({ serverUrl: lic.url, user: alice.name, password: alice.password, stateDir: path.join(dir, 'state') }).protect(Buffer.from('licensed here'), {
      grants: parseGrantSpec('bob@example.test:VIEW'),
    });
    const plFiles = parseProtectedFile(file).header.plChain.map((x, i) => {
      const f = path.join(dir, `pl${i}.xml`);
      writeFileSync(f, x);
      return f;
    });
    const { stdout } = await run('/usr/bin/python3', ['-c', ZEEP_PRE_LICENSE, lic.url, alice.name, alice.password, 'bob@example.test,nobody@example.test', ...plFiles], { timeout: 60_000 });
    const [got] = JSON.parse(stdout) as { licenses: string[]; chain: string[] }[];
    // The licensing cluster's SLC chain (its SLC, then the root's), as lxml re-serialises it.
    expect(got!.chain).toHaveLength(2);
    expect(readCertificate(parseXrml(got!.chain[0]!)).principal.id).toBe(lic.runtime.slc.principal.id);
    expect(got!.licenses).toHaveLength(2);
    got!.licenses.forEach((l, i) => {
      expect(l).toMatch(/^<AcquirePreLicenseException[\s>]/);
      expect(l).toMatch(/<ExceptionString>Microsoft\.DigitalRightsManagement\.Licensing\.AcquirePreLicenseInvalidLicenseeException: this licensing-only cluster does not hold rights account keys/);
      expect(l).toContain(`<batchindex>${i}</batchindex>`);
    });
  });
});
