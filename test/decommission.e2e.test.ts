import { execFile } from 'node:child_process';
import { createDecipheriv } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { contentAad, parseProtectedFile } from '@openrms/client';
import { newBracedGuid } from '@openrms/domain';
import { ContentKey, RsaKeyPair } from '@openrms/keys';
import { openStore } from '@openrms/store';
import { buildPublishingLicense, issuerFromCertificate, parseXrml, readCertificate } from '@openrms/xrml';
import { sqliteDatabase, tempDir, type TestDatabase } from './support/databases';
import { background, REPO, rmsctl, TSX_BIN, type Background } from './support/processes';
import { freePort } from './support/root-cluster';
import { envelope, faultString, postSoap, SERVER_NS, versionData } from './support/soap-client';

const run = promisify(execFile);
const PASSWORDS = { ADMIN_PW: 'admin-password-1', KEY_PW: 'cluster-key-password-1', ALICE_PW: 'alice-password-1', BOB_PW: 'bob-password-1' };
const NS = 'http://microsoft.com/DRM/DecommissionService';

/** The XrML documents as ArrayOfXmlNode members (each in the empty namespace, as clients send them). */
function acquireContentKey(plChain: string[]): string {
  const certs = plChain.map((x) => `<Certificate>${x.replace(/^<\?xml[^>]*\?>/, '').replace(/^<XrML/, '<XrML xmlns=""')}</Certificate>`).join('');
  return envelope({
    header: versionData(NS),
    body: `<AcquireContentKey xmlns="${NS}"><paramsSoap><AcquireContentKeyParams><IssuanceLicense>${certs}</IssuanceLicense></AcquireContentKeyParams></paramsSoap></AcquireContentKey>`,
  });
}

describe('decommissioning a cluster member', () => {
  let db: TestDatabase;
  let server: Background;
  let base: string;
  let dir: string;
  let plChain: string[];
  let file: ReturnType<typeof parseProtectedFile>;
  const plain = 'Memo that must outlive its cluster.\n';

  const callAs = (name: 'alice' | 'bob') =>
    postSoap({
      url: `${base}/_wmcs/decommission/decommission.asmx`,
      action: `${NS}/AcquireContentKey`,
      auth: { name, password: PASSWORDS[`${name.toUpperCase()}_PW` as 'ALICE_PW' | 'BOB_PW'] },
      body: acquireContentKey(plChain),
    });

  beforeAll(async () => {
    db = sqliteDatabase();
    dir = tempDir('decommission-e2e');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    expect(rmsctl(['provision', 'root', '--database', db.url, '--cluster-url', base, '--service-account', 'rms-svc', '--admin', 'admin', '--admin-password-env', 'ADMIN_PW', '--key-password-env', 'KEY_PW'], PASSWORDS).stderr).toBe('');
    for (const u of ['alice', 'bob']) {
      expect(rmsctl(['users', 'add', u, '--database', db.url, '--email', `${u}@example.test`, '--password-env', `${u.toUpperCase()}_PW`], PASSWORDS).stderr).toBe('');
    }
    // Restricted by default: only who the DACL names may ask for content keys.
    expect(rmsctl(['dacl', 'grant', '--database', db.url, '--endpoint', '/_wmcs/decommission/decommission.asmx', '--principal', 'bob', '--right', 'execute']).code).toBe(0);
    expect(rmsctl(['dacl', 'grant', '--database', db.url, '--endpoint', '/_wmcs/licensing/editissuancelicense.asmx', '--principal', 'bob', '--right', 'execute']).code).toBe(0);
    server = background(TSX_BIN, [path.join(REPO, 'apps/cli/src/main.ts'), 'serve', '--database', db.url, '--listen', `127.0.0.1:${port}`, '--key-password-env', 'KEY_PW'], {
      env: { KEY_PW: PASSWORDS.KEY_PW, RMS_LOG_LEVEL: 'warn' },
    });
    await server.waitFor(/listening on http/);

    const source = path.join(dir, 'memo.txt');
    const protectedFile = path.join(dir, 'memo.rms');
    writeFileSync(source, plain);
    await run(TSX_BIN, [path.join(REPO, 'apps/rms/src/main.ts'), 'protect', source, '--out', protectedFile, '--server', base, '--user', 'alice', '--password-env', 'ALICE_PW', '--grant', 'alice@example.test:VIEW'], {
      cwd: REPO,
      env: { ...process.env, ...PASSWORDS, RMS_CLIENT_STATE_DIR: path.join(dir, 'state') },
      timeout: 60_000,
    });
    file = parseProtectedFile(readFileSync(protectedFile));
    plChain = file.header.plChain;
  });

  afterAll(async () => {
    await server?.stop();
    db?.dispose();
  });

  it('refuses AcquireContentKey before decommissioning, and to callers the DACL does not name', async () => {
    const r = await callAs('bob');
    expect(r.status).toBe(500);
    expect(faultString(r.text)).toMatch(/^Microsoft\.DigitalRightsManagement\.Utilities\.ClusterNotDecommissionedException/);
    expect((await callAs('alice')).status).toBe(403);
  });

  it('rmsctl cluster decommission refuses without --confirm and says it cannot be undone', () => {
    const r = rmsctl(['cluster', 'decommission', '--database', db.url]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot be undone/);
    expect(r.stderr).toMatch(/--confirm/);
  });

  it('after decommissioning, licensing faults and AcquireContentKey returns the key that decrypts the content', async () => {
    const d = rmsctl(['cluster', 'decommission', '--database', db.url, '--confirm', '--actor', 'ops']);
    expect(d.code).toBe(0);
    expect(d.stdout).toMatch(/decommissioned cluster/);
    expect(rmsctl(['cluster', 'decommission', '--database', db.url, '--confirm']).stdout).toMatch(/already is decommissioned/);

    // Members pick the flag up at their next refresh (every 5 s).
    // A kept-alive connection the member closed while rmsctl ran may fail once: ask again.
    const attempt = () => callAs('bob').catch(() => undefined);
    let r = await attempt();
    for (let i = 0; i < 40 && r?.status !== 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      r = await attempt();
    }
    if (!r) throw new Error('the member did not answer');
    expect(r.status).toBe(200);
    expect(r.text).toMatch(/<ContentKeyType>AES<\/ContentKeyType>/);
    const key = Buffer.from(/<ContentKey>([^<]+)<\/ContentKey>/.exec(r.text)![1]!, 'base64');
    expect(key).toHaveLength(32);
    const c = file.encryptedContent;
    const decipher = createDecipheriv('aes-256-gcm', key, c.subarray(0, 12));
    decipher.setAAD(contentAad(file.headerBytes));
    decipher.setAuthTag(c.subarray(c.length - 16));
    expect(Buffer.concat([decipher.update(c.subarray(12, c.length - 16)), decipher.final()]).toString('utf8')).toBe(plain);

    const slc = await postSoap({
      url: `${base}/_wmcs/licensing/server.asmx`,
      action: `${SERVER_NS}/GetLicensorCertificate`,
      auth: { name: 'alice', password: PASSWORDS.ALICE_PW },
      body: envelope({ header: versionData(SERVER_NS), body: `<GetLicensorCertificate xmlns="${SERVER_NS}"/>` }),
    });
    expect(faultString(slc.text)).toMatch(/^Microsoft\.RightsManagementServices\.ClusterDecommissionedException/);

    const store = await openStore(db.url, { migrate: false });
    try {
      const audit = await store.audit.list({ limit: 100 });
      expect(audit.find((a) => a.action === 'cluster.decommission')).toMatchObject({ actor: 'ops' });
      expect(audit.find((a) => a.action === 'content-key.release')).toMatchObject({ actor: 'bob', target: file.header.contentId });
      expect(JSON.stringify(audit)).not.toContain(key.toString('base64'));
    } finally {
      await store.close();
    }
  });

  it('then answers AcquireContentKey’s own faults, and the other RMSI operations fault ClusterDecommissioned', async () => {
    const bob = { name: 'bob', password: PASSWORDS.BOB_PW };
    const call = (path: string, ns: string, op: string, body: string) =>
      postSoap({ url: `${base}${path}`, action: `${ns}/${op}`, auth: bob, body: envelope({ header: versionData(ns), body }) });
    const contentKeyOf = (inner: string) => call('/_wmcs/decommission/decommission.asmx', NS, 'AcquireContentKey', `<AcquireContentKey xmlns="${NS}">${inner}</AcquireContentKey>`);
    const certs = (chain: string[]) => chain.map((x) => `<Certificate>${x.replace(/^<\?xml[^>]*\?>/, '').replace(/^<XrML/, '<XrML xmlns=""')}</Certificate>`).join('');

    // A PL naming another cluster in ISSUEDPRINCIPALS: decided by that before any signature ([MS-RMSI] 3.2.4.1).
    const store = await openStore(db.url, { migrate: false });
    const slc = await store.slcChains.getActive((await store.clusters.get()).id).finally(() => store.close());
    const elsewhere = RsaKeyPair.generate();
    const foreign = buildPublishingLicense({
      issuedTime: new Date(),
      issuer: issuerFromCertificate(readCertificate(parseXrml(slc.chain[0]!))),
      licensingUrl: 'https://elsewhere.example/_wmcs/licensing',
      server: { serverGuid: newBracedGuid(), publicKey: elsewhere.publicKey, version: '6.1.0.0', sku: 'OpenRMS' },
      enablingBits: ContentKey.generate().sealTo(elsewhere.publicKey),
      contentId: newBracedGuid(),
      owner: { idType: 'Federation', email: 'alice@example.test' },
      encryptedRightsData: Buffer.from('not for us'),
    });
    const cases: [string, string, RegExp][] = [
      ['a PL published for another cluster', `<paramsSoap><AcquireContentKeyParams><IssuanceLicense>${certs([foreign])}</IssuanceLicense></AcquireContentKeyParams></paramsSoap>`, /^Microsoft\.DigitalRightsManagement\.UnsignedIssuanceLicenseNoMatchingIssuedPrincipalException: /],
      ['a PL whose signature does not verify', `<paramsSoap><AcquireContentKeyParams><IssuanceLicense>${certs([plChain[0]!])}</IssuanceLicense></AcquireContentKeyParams></paramsSoap>`, /^Microsoft\.DigitalRightsManagement\.Licensing\.InvalidRightsLabelSignatureException: /],
      ['an empty paramsSoap', '<paramsSoap/>', /^System\.ArgumentNullException: /],
      ['no paramsSoap', '', /^System\.ArgumentNullException: /],
      ['an empty IssuanceLicense', '<paramsSoap><AcquireContentKeyParams><IssuanceLicense/></AcquireContentKeyParams></paramsSoap>', /^System\.ArgumentNullException: /],
    ];
    for (const [what, inner, fault] of cases) {
      const r = await contentKeyOf(inner);
      expect([what, r.status, faultString(r.text)]).toEqual([what, 500, expect.stringMatching(fault)]);
    }
    // Only the first AcquireContentKeyParams counts: a foreign second one changes nothing.
    const two = await contentKeyOf(`<paramsSoap><AcquireContentKeyParams><IssuanceLicense>${certs(plChain)}</IssuanceLicense></AcquireContentKeyParams><AcquireContentKeyParams><IssuanceLicense>${certs([foreign])}</IssuanceLicense></AcquireContentKeyParams></paramsSoap>`);
    expect(two.status).toBe(200);
    expect(two.text.match(/<AcquireContentKeyResponse>/g)).toHaveLength(1);

    const LIC = 'http://microsoft.com/DRM/LicensingService';
    const EDIT = 'http://microsoft.com/DRM/EditIssuanceLicenseService';
    const pre = await call('/_wmcs/licensing/license.asmx', LIC, 'AcquirePreLicense',
      `<AcquirePreLicense xmlns="${LIC}"><RequestParams><AcquirePreLicenseParams><LicenseeIdentities><string>alice@example.test</string></LicenseeIdentities><IssuanceLicense>${certs(plChain)}</IssuanceLicense></AcquirePreLicenseParams></RequestParams></AcquirePreLicense>`);
    expect(faultString(pre.text)).toMatch(/^Microsoft\.RightsManagementServices\.ClusterDecommissionedException: /);
    const edit = await call('/_wmcs/licensing/editissuancelicense.asmx', EDIT, 'EditIssuanceLicense',
      `<EditIssuanceLicense xmlns="${EDIT}"><RequestParams><EditIssuanceLicenseParams><SignedIssuanceLicense>${certs([plChain[0]!]).replace(/<\/?Certificate>/g, '')}</SignedIssuanceLicense><UnsignedIssuanceLicense>${certs([foreign]).replace(/<\/?Certificate>/g, '')}</UnsignedIssuanceLicense></EditIssuanceLicenseParams></RequestParams></EditIssuanceLicense>`);
    expect(edit.status).toBe(500);
    expect(faultString(edit.text)).toMatch(/^Microsoft\.RightsManagementServices\.ClusterDecommissionedException: /);
  });
});
