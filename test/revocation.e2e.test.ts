import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseProtectedFile, RmsClient } from '@openrms/client';
import { parseGrantSpec } from '@openrms/domain';
import type { RunningServer } from '@openrms/server';
import { openStore } from '@openrms/store';
import { parseXrml, readCertificate, readPublishingLicense } from '@openrms/xrml';
import { addPeople, freePort, person, provisionRoot, startMember } from './support/clusters';
import { postgresDatabase, tempDir, type TestDatabase } from './support/databases';
import { background, REPO, TSX_BIN } from './support/processes';
import { envelope, faultString, postSoap, versionData } from './support/soap-client';
import { xmlsecVerify } from './support/xmlsec';

const LIC_NS = 'http://microsoft.com/DRM/LicensingService';
const ADMIN = { name: 'root-admin', password: 'root-admin-password' };

/**
 * rmsctl as an operator runs it, but asynchronously: the two members run in this process, and a
 * blocking spawn would stop them answering while it runs.
 */
async function rmsctl(args: string[]): Promise<{ code: number | null; output: string }> {
  const p = background(TSX_BIN, [path.join(REPO, 'apps/cli/src/main.ts'), ...args], { env: { RMS_LOG_LEVEL: 'warn' } });
  const code = await p.exited();
  return { code, output: p.output() };
}

/** Polls until `f` gives `want` (members refresh every 5 s), within a generous deadline; returns the last answer. */
async function eventually(f: () => Promise<string>, want: string, ms = 30_000): Promise<string> {
  const until = Date.now() + ms;
  let got = await f();
  while (got !== want && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 250));
    got = await f();
  }
  return got;
}

const basic = (c: { name: string; password: string }) => `Basic ${Buffer.from(`${c.name}:${c.password}`).toString('base64')}`;
const inCert = (xml: string) => `<Certificate>${xml.replace('<XrML', '<XrML xmlns=""')}</Certificate>`;

describe('revocation on a two-member cluster (PostgreSQL), through raw SOAP and rmsctl', () => {
  const alice = person('alice');
  const bob = person('bob');
  const carol = person('carol');
  let db: TestDatabase;
  let m1: RunningServer;
  let m2: RunningServer;
  let dir: string;
  let clusterPem: string;

  beforeAll(async () => {
    db = postgresDatabase();
    dir = tempDir('revocation');
    const [p1, p2] = [await freePort(), await freePort()];
    await provisionRoot(db, p1);
    await addPeople(db, [alice, bob, carol]);
    [m1, m2] = await Promise.all([startMember(db, p1, 'm1'), startMember(db, p2, 'm2')]);
    clusterPem = m1.runtime.slc.principal.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }, 120_000);

  afterAll(async () => {
    await m1?.close();
    await m2?.close();
    db?.dispose();
  });

  const client = (p: { name: string; password: string }) => new RmsClient({ serverUrl: m1.url, user: p.name, password: p.password, stateDir: path.join(dir, p.name) });
  const stateFile = (c: RmsClient, name: string) => JSON.parse(readFileSync(path.join(c.stateFolder, name), 'utf8')) as string[];

  /** One AcquireLicense as raw SOAP to `member`, signed on as `who`: 'ok' or the fault's exception name. */
  const acquire = async (member: RunningServer, who: { name: string; password: string }, rac: string, plChain: string[]): Promise<string> => {
    const body = envelope({
      header: versionData(LIC_NS),
      body: `<AcquireLicense xmlns="${LIC_NS}"><RequestParams><AcquireLicenseParams><LicenseeCerts>${inCert(rac)}</LicenseeCerts><IssuanceLicense>${plChain.map(inCert).join('')}</IssuanceLicense></AcquireLicenseParams></RequestParams></AcquireLicense>`,
    });
    const r = await postSoap({ url: `${member.url}/_wmcs/licensing/license.asmx`, action: `${LIC_NS}/AcquireLicense`, auth: who, body });
    if (r.status === 200) return 'ok';
    return /([A-Za-z.]+Exception)/.exec(faultString(r.text) ?? r.text)?.[1] ?? `HTTP ${r.status}`;
  };
  const onBoth = async (f: (m: RunningServer) => Promise<string>, want: string) => [await eventually(() => f(m1), want), await eventually(() => f(m2), want)];

  const protectFor = async (grants: string) => parseProtectedFile(await client(alice).protect(Buffer.from(`for ${grants}`), { grants: parseGrantSpec(grants) })).header.plChain;

  test('a revoked RAC is refused by AcquireLicense on both members within the refresh; the list names it and verifies with xmlsec1', async () => {
    const bobClient = client(bob);
    await bobClient.identity();
    const bobRac = stateFile(bobClient, 'rac-chain.json')[0]!;
    const plChain = await protectFor(`${bob.email}:VIEW`);
    expect(await acquire(m1, bob, bobRac, plChain)).toBe('ok');
    expect(await acquire(m2, bob, bobRac, plChain)).toBe('ok');

    const racFile = path.join(dir, 'bob-rac.xml');
    writeFileSync(racFile, bobRac);
    const r = await rmsctl(['revoke', 'rac', '--database', db.url, '--file', racFile, '--reason', 'laptop lost', '--json']);
    expect(r.code).toBe(0);
    const revoked = JSON.parse(r.output) as { id: string; kind: string; value: string; subject: string };
    expect(revoked).toMatchObject({ kind: 'RAC', subject: bob.email, value: readCertificate(parseXrml(bobRac)).descriptorGuid });

    const started = Date.now();
    expect(await onBoth((m) => acquire(m, bob, bobRac, plChain), 'Microsoft.DigitalRightsManagement.Licensing.UnexpectedPersonaCertException')).toEqual([
      'Microsoft.DigitalRightsManagement.Licensing.UnexpectedPersonaCertException',
      'Microsoft.DigitalRightsManagement.Licensing.UnexpectedPersonaCertException',
    ]);
    process.stdout.write(`RAC revocation refused on both members ${Date.now() - started} ms after rmsctl returned\n`);

    // The signed list, served by both members without authentication, names the RAC.
    const listUrl = (m: RunningServer) => `${m.url}/_wmcs/licensing/revocation/${m.runtime.cluster.id}.xml`;
    const fetchList = async (m: RunningServer) => {
      const res = await fetch(listUrl(m));
      return res.status === 200 ? await res.text() : `HTTP ${res.status}`;
    };
    let xml = '';
    await eventually(async () => {
      xml = await fetchList(m2);
      return xml.includes(revoked.value) ? 'listed' : 'not yet';
    }, 'listed');
    expect(xml).toContain(`<REVOKE category="license" type="license-id">`);
    expect(xml).toContain(revoked.value);
    expect(xml).not.toContain(bob.email);
    expect(xmlsecVerify(xml, clusterPem).ok).toBe(true);
    const tampered = xml.replace(revoked.value, '{00000000-0000-4000-8000-000000000000}');
    expect(xmlsecVerify(tampered, clusterPem).ok).toBe(false);
    // The SLC names that URL in its revocation condition.
    expect(m1.runtime.slc.revocation?.authorities[0]?.url).toBe(`${m1.runtime.cluster.url}/licensing/revocation/${m1.runtime.cluster.id}.xml`);
    expect((await fetch(`${m1.url}/_wmcs/licensing/revocation/another-cluster.xml`)).status).toBe(404);

    const listed = await rmsctl(['revoke', 'list', '--database', db.url]);
    expect(listed.code).toBe(0);
    expect(listed.output).toContain(revoked.id);
    expect(listed.output).toContain('laptop lost');
  }, 180_000);

  test('a revoked CLC and a revoked PL (content ID) refuse the issuance licence on both members', async () => {
    await client(carol).identity();
    const carolRac = stateFile(client(carol), 'rac-chain.json')[0]!;
    const byClc = await protectFor(`${carol.email}:VIEW`);
    expect(await acquire(m1, carol, carolRac, byClc)).toBe('ok');
    const clcFile = path.join(dir, 'alice-clc.json');
    writeFileSync(clcFile, JSON.stringify(stateFile(client(alice), 'clc-chain.json')));
    const clc = await rmsctl(['revoke', 'clc', '--database', db.url, '--file', clcFile]);
    expect(clc.code).toBe(0);
    expect(await onBoth((m) => acquire(m, carol, carolRac, byClc), 'Microsoft.DigitalRightsManagement.Licensing.InvalidRightsLabelSignatureException')).toEqual([
      'Microsoft.DigitalRightsManagement.Licensing.InvalidRightsLabelSignatureException',
      'Microsoft.DigitalRightsManagement.Licensing.InvalidRightsLabelSignatureException',
    ]);
    const clcId = /revocation ([0-9a-f-]{36})/.exec(clc.output)![1]!;
    expect((await rmsctl(['revoke', 'remove', '--database', db.url, clcId.slice(0, 8)])).code).toBe(0);
    expect(await onBoth((m) => acquire(m, carol, carolRac, byClc), 'ok')).toEqual(['ok', 'ok']);

    const contentId = readPublishingLicense(parseXrml(byClc[0]!)).contentId;
    expect((await rmsctl(['revoke', 'pl', '--database', db.url, '--content-id', contentId])).code).toBe(0);
    expect(await onBoth((m) => acquire(m, carol, carolRac, byClc), 'Microsoft.DigitalRightsManagement.Licensing.InvalidRightsLabelSignatureException')).toEqual([
      'Microsoft.DigitalRightsManagement.Licensing.InvalidRightsLabelSignatureException',
      'Microsoft.DigitalRightsManagement.Licensing.InvalidRightsLabelSignatureException',
    ]);
    // Other content of the same author is not touched.
    const other = await protectFor(`${carol.email}:VIEW`);
    expect(await acquire(m2, carol, carolRac, other)).toBe('ok');

    const store = await openStore(db.url);
    try {
      const audit = (await store.audit.list({ limit: 100 })).filter((e) => e.action.startsWith('revocation.'));
      expect(audit.map((e) => e.action).sort()).toEqual(['revocation.add', 'revocation.add', 'revocation.add', 'revocation.remove']);
      expect(audit.every((e) => e.actor === 'rmsctl')).toBe(true);
    } finally {
      await store.close();
    }
  }, 180_000);

  test('the admin page revokes only for administrators, with a form token from this origin', async () => {
    const page = `${m2.url}/_wmcs/admin/revocation`;
    const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
    const post = (auth: string, fields: Record<string, string>, path = '') =>
      fetch(`${page}${path}`, { method: 'POST', redirect: 'manual', headers: { authorization: auth, origin: m2.url, 'content-type': 'application/x-www-form-urlencoded' }, body: form(fields) });

    const before = JSON.parse((await rmsctl(['revoke', 'list', '--database', db.url, '--json'])).output) as unknown[];
    // Not an administrator: refused before the form is read, nothing written.
    expect((await post(basic(bob), { kind: 'SLC', id: '{0f0f0f0f-1111-4222-8333-444444444444}', confirm: 'yes' })).status).toBe(403);
    expect((await fetch(page, { headers: { authorization: basic(bob) } })).status).toBe(403);
    expect((await fetch(page)).status).toBe(401);
    // An administrator without the form token: refused too.
    expect((await post(basic(ADMIN), { kind: 'SLC', id: '{0f0f0f0f-1111-4222-8333-444444444444}', confirm: 'yes' })).status).toBe(403);

    const html = await (await fetch(page, { headers: { authorization: basic(ADMIN) } })).text();
    expect(html).toContain(`/licensing/revocation/${m2.runtime.cluster.id}.xml`);
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
    // Without the confirmation box: the form comes back with the reason, nothing written.
    const unconfirmed = await post(basic(ADMIN), { csrf, kind: 'SLC', id: '{0f0f0f0f-1111-4222-8333-444444444444}' });
    expect(unconfirmed.status).toBe(400);
    expect(await unconfirmed.text()).toContain('confirmation');
    const bad = await post(basic(ADMIN), { csrf, kind: 'RAC', id: 'not-a-guid', confirm: 'yes' });
    expect(bad.status).toBe(400);
    expect(JSON.parse((await rmsctl(['revoke', 'list', '--database', db.url, '--json'])).output)).toEqual(before);

    const done = await post(basic(ADMIN), { csrf, kind: 'SLC', id: '{0f0f0f0f-1111-4222-8333-444444444444}', reason: 'partner decommissioned', confirm: 'yes' });
    expect(done.status).toBe(303);
    const after = JSON.parse((await rmsctl(['revoke', 'list', '--database', db.url, '--json'])).output) as { kind: string; value: string; revokedBy: string }[];
    expect(after).toContainEqual(expect.objectContaining({ kind: 'SLC', value: '{0f0f0f0f-1111-4222-8333-444444444444}', revokedBy: ADMIN.name }));
  }, 120_000);

  test('rmsctl refuses bad input with one line and a non-zero exit', async () => {
    const noTarget = await rmsctl(['revoke', 'rac', '--database', db.url]);
    expect(noTarget.code).toBe(2);
    expect(noTarget.output.trim().split('\n')).toHaveLength(1);
    expect(noTarget.output).toMatch(/name the RAC one way/);
    const notGuid = await rmsctl(['revoke', 'pl', '--database', db.url, '--content-id', 'nope']);
    expect(notGuid.code).toBe(2);
    expect(notGuid.output).toMatch(/not a GUID/);
    const wrongFile = path.join(dir, 'not-xrml.txt');
    writeFileSync(wrongFile, 'hello');
    const bad = await rmsctl(['revoke', 'clc', '--database', db.url, '--file', wrongFile]);
    expect(bad.code).toBe(2);
    expect(bad.output).toMatch(/no XrML document/);
    const own = await rmsctl(['revoke', 'slc', '--database', db.url, '--server-id', m1.runtime.cluster.id]);
    expect(own.code).toBe(2);
    expect(own.output).toMatch(/its own SLC/);
    const missing = await rmsctl(['revoke', 'remove', '--database', db.url, 'ffffffff']);
    expect(missing.code).toBe(5);
    expect(missing.output).not.toMatch(/\bat .*\.ts:\d+/);
  }, 120_000);
});
