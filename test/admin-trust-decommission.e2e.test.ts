import { createDecipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { contentAad, parseProtectedFile, RmsClient, RmsServiceClient, SoapTransport } from '@openrms/client';
import { parseGrantSpec, SERVICE_PATHS, WMCS_PREFIX } from '@openrms/domain';
import { changeDacl, exportClusterKey } from '@openrms/issuance';
import type { RunningServer } from '@openrms/server';
import { openStore } from '@openrms/store';
import { FakeClient } from '../packages/issuance/src/testing/fake-client';
import { addPeople, freePort, KEY_PASSWORD, person, provisionRoot, startMember } from './support/clusters';
import { sqliteDatabase, tempDir, type TestDatabase } from './support/databases';
import { certificatesIn, envelope, faultString, postSoap, versionData } from './support/soap-client';

/** A multipart POST announcing `length` bytes, of which only the first few are sent: the answer and whether the server closed. */
function rawUpload(url: URL, target: string, length: number): Promise<{ status: number; text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: url.hostname, port: Number(url.port) });
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer; got ${JSON.stringify(data.slice(0, 200))}`));
    }, 60_000);
    socket.on('connect', () => {
      socket.write(
        `POST ${target} HTTP/1.1\r\nHost: ${url.host}\r\nOrigin: ${url.origin}\r\nAuthorization: ${basic(ADMIN)}\r\n` +
          `Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: ${length}\r\n\r\n--xyz\r\nContent-Disposition: form-data; name="slcFile"; filename="big.xml"\r\n\r\n`,
      );
      socket.write(Buffer.alloc(1024, 0x41));
    });
    socket.on('data', (d) => (data += d.toString('utf8')));
    socket.on('close', () => {
      clearTimeout(timer);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (!m) return reject(new Error(`closed without an answer: ${JSON.stringify(data.slice(0, 200))}`));
      resolve({ status: Number(m[1]), text: data.split('\r\n\r\n').slice(1).join('\r\n\r\n'), closed: true });
    });
    socket.on('error', () => undefined);
  });
}

/** The administrator provisionRoot creates. */
const ADMIN = { name: 'root-admin', password: 'root-admin-password' };
const EXPORT_PASSWORD = 'export-password-for-the-page-1';
const DECOMMISSION_NS = 'http://microsoft.com/DRM/DecommissionService';
const CERT_NS = 'http://microsoft.com/DRM/CertificationService';
const basic = (p: { name: string; password: string }) => `Basic ${Buffer.from(`${p.name}:${p.password}`).toString('base64')}`;
const certs = (name: string, chain: readonly string[]) =>
  `<${name}>${chain.map((c) => `<Certificate>${c.replace(/^<\?xml[^>]*\?>/, '').replace(/^<XrML/, '<XrML xmlns=""')}</Certificate>`).join('')}</${name}>`;

/**
 * The Trust and Decommissioning administration pages over real HTTP (Basic sign-on, form tokens,
 * multipart uploads), between two root clusters A and B: what an administrator does there takes
 * effect on the protocol (B accepts A's RACs, licenses A's content, stops issuing and releases
 * content keys), is audited under the administrator's name, and anything hostile or not theirs to
 * do is refused with nothing written.
 */
describe('Trust and Decommissioning admin pages', () => {
  const alice = person('alice');
  const bob = person('bob');
  const pat = person('pat');
  let dbA: TestDatabase;
  let dbB: TestDatabase;
  let a: RunningServer;
  let b: RunningServer;
  let dir: string;
  const page = (p: string) => `${b.url}/_wmcs/admin${p}`;

  beforeAll(async () => {
    dbA = sqliteDatabase();
    dbB = sqliteDatabase();
    dir = tempDir('admin-trust-decommission');
    const [portA, portB] = [await freePort(), await freePort()];
    await provisionRoot(dbA, portA);
    await provisionRoot(dbB, portB);
    await addPeople(dbA, [alice]);
    await addPeople(dbB, [bob, pat]);
    [a, b] = await Promise.all([startMember(dbA, portA, 'a1'), startMember(dbB, portB, 'b1')]);
  }, 120_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    dbA?.dispose();
    dbB?.dispose();
  });

  /** A page as the administrator (or someone else) sees it. */
  const get = async (p: string, who = ADMIN): Promise<{ status: number; html: string }> => {
    const r = await fetch(page(p), { headers: { authorization: basic(who) } });
    return { status: r.status, html: await r.text() };
  };
  const tokenOf = async (p: string): Promise<string> => {
    const { html } = await get(p);
    return /name="csrf" value="([^"]+)"/.exec(html)![1]!;
  };
  /** A form POST from this origin: multipart when a field is a file ({ file: text }). */
  const post = async (
    p: string,
    fields: Record<string, string | { file: string | Buffer; name?: string }>,
    opts: { who?: { name: string; password: string }; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; html: string; location: string | null }> => {
    const multipart = Object.values(fields).some((v) => typeof v !== 'string');
    let body: FormData | string;
    const headers: Record<string, string> = { authorization: basic(opts.who ?? ADMIN), ...(opts.headers ?? { origin: b.url }) };
    if (multipart) {
      const form = new FormData();
      for (const [k, v] of Object.entries(fields)) {
        if (typeof v === 'string') form.append(k, v);
        else form.append(k, new Blob([typeof v.file === 'string' ? v.file : new Uint8Array(v.file)]), v.name ?? 'upload.txt');
      }
      body = form;
    } else {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(fields as Record<string, string>).toString();
    }
    const r = await fetch(page(p), { method: 'POST', redirect: 'manual', headers, body });
    return { status: r.status, html: await r.text(), location: r.headers.get('location') };
  };
  const withStore = async <T>(db: TestDatabase, f: (s: Awaited<ReturnType<typeof openStore>>) => Promise<T>): Promise<T> => {
    const store = await openStore(db.url);
    try {
      return await f(store);
    } finally {
      await store.close();
    }
  };
  const audit = (db: TestDatabase, prefix: string) => withStore(db, async (s) => (await s.audit.list({ limit: 500 })).filter((e) => e.action.startsWith(prefix)));
  const trustSettings = (db: TestDatabase) =>
    withStore(db, async (s) => JSON.stringify([await s.settings.get('trust.userDomains'), await s.settings.get('trust.publishingDomains'), (await s.keys.list((await s.clusters.get()).id)).length]));
  const client = (server: RunningServer, p: { name: string; password: string }) => new RmsClient({ serverUrl: server.url, user: p.name, password: p.password, stateDir: path.join(dir, p.name) });
  const racOf = (c: RmsClient) => JSON.parse(readFileSync(path.join(c.stateFolder, 'rac-chain.json'), 'utf8')) as string[];
  /** AcquireLicense at B as bob: 'ok' or the fault's short name. */
  const acquireAtB = async (racChain: string[], plChain: string[]): Promise<string> => {
    const service = new RmsServiceClient(new SoapTransport({ serverUrl: b.url, user: bob.name, password: bob.password }));
    try {
      const [item] = await service.acquireLicense([{ licenseeCerts: racChain, issuanceLicense: plChain }], `${b.url}/_wmcs/licensing/license.asmx`);
      if (item && 'chain' in item) return 'ok';
      return String((item?.error as { shortName?: string })?.shortName ?? item?.error);
    } catch (e) {
      return String((e as { shortName?: string }).shortName ?? (e as Error).message);
    }
  };
  const eventually = async (f: () => Promise<string>, want: string, ms = 30_000): Promise<string> => {
    const until = Date.now() + ms;
    let got = await f();
    while (got !== want && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 300));
      got = await f();
    }
    return got;
  };
  const slcChainOf = (db: TestDatabase) => withStore(db, async (s) => (await s.slcChains.getActive((await s.clusters.get()).id)).chain);

  test('only administrators, with a form token of this origin, change anything', async () => {
    for (const p of ['/trust', '/decommission']) {
      expect((await get(p)).status).toBe(200);
      expect((await get(p, pat)).status).toBe(403);
      const anon = await fetch(page(p));
      expect(anon.status).toBe(401);
    }
    const token = await tokenOf('/trust');
    const before = await trustSettings(dbB);
    const chain = (await slcChainOf(dbA)).join('\n');
    const refusals: [string, ReturnType<typeof post>][] = [
      ['non-admin with the admin token', post('/trust/user-domains', { csrf: token, slcFile: { file: chain } }, { who: pat })],
      ['no token', post('/trust/user-domains', { slcFile: { file: chain } })],
      ['a forged token', post('/trust/user-domains', { csrf: `${Date.now()}.${'A'.repeat(43)}`, slcFile: { file: chain } })],
      ['a foreign Origin', post('/trust/user-domains', { csrf: token, slcFile: { file: chain } }, { headers: { origin: 'http://evil.example' } })],
      ['import without a token', post('/trust/publishing-domains', { exportFile: { file: 'x' }, exportPassword: EXPORT_PASSWORD })],
      ['decommission by a non-admin', post('/decommission', { csrf: token, confirmName: 'anything' }, { who: pat })],
      ['decommission without a token', post('/decommission', { confirmName: 'anything' })],
      ['decommission with a wrong token', post('/decommission', { csrf: token.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')), confirmName: 'anything' })],
    ];
    for (const [what, response] of refusals) expect([what, (await response).status]).toEqual([what, 403]);
    expect(await trustSettings(dbB)).toBe(before);
    expect(await withStore(dbB, async (s) => (await s.clusters.get()).decommissioned)).toBe(false);
    expect(await audit(dbB, 'trust.')).toEqual([]);
  });

  test('trusting a user domain on the page: B accepts A’s RACs, hostile input writes nothing, removal is confirmed', async () => {
    const aliceAtA = client(a, alice);
    await aliceAtA.identity();
    const file = await client(b, bob).protect(Buffer.from('for alice of A'), { grants: parseGrantSpec(`${alice.email}:VIEW`) });
    const plChain = parseProtectedFile(file).header.plChain;
    const request = () => acquireAtB(racOf(aliceAtA), plChain);
    expect(await request()).toBe('UntrustedPersonaCert');

    const token = await tokenOf('/trust');
    const before = await trustSettings(dbB);
    const chain = (await slcChainOf(dbA)).join('\n');
    const hostile: [string, Record<string, string | { file: string | Buffer }>, number, RegExp][] = [
      ['a garbage chain with markup in the name', { name: '<script id="x">alert(1)</script>', slcFile: { file: '<XrML><BODY>garbage</BODY></XrML>' } }, 400, /does not verify/],
      ['not a certificate at all', { slcText: 'hello <img src=x onerror=alert(1)>' }, 400, /neither a PEM public key nor an SLC/],
      ['nothing given', { slcText: '  ' }, 400, /choose the SLC chain file or paste/],
      ['both a file and pasted text', { slcFile: { file: chain }, slcText: chain }, 400, /either as a file or pasted, not both/],
      ['a tampered chain', { slcFile: { file: chain.replace(/<NAME>([^<]*)<\/NAME>/, '<NAME>$1x</NAME>') } }, 400, /does not verify/],
    ];
    for (const [what, fields, status, message] of hostile) {
      const r = await post('/trust/user-domains', { csrf: token, ...fields });
      expect([what, r.status]).toEqual([what, status]);
      expect([what, r.html]).toEqual([what, expect.stringMatching(message)]);
      expect(r.html).not.toContain('<script id="x">');
      expect(r.html).not.toContain('<img src=x');
    }
    // A huge upload is refused from its announced length, before it is read (and so before its token).
    const huge = await rawUpload(new URL(b.url), '/_wmcs/admin/trust/user-domains', 300 * 1024);
    expect(huge.status).toBe(413);
    expect(huge.text).toMatch(/larger than 256 KiB/);
    expect(huge.closed).toBe(true);
    expect(await trustSettings(dbB)).toBe(before);
    expect(await audit(dbB, 'trust.')).toEqual([]);

    // A's SLC chain as a file, under a name with markup: trusted, shown escaped, audited as the admin.
    const added = await post('/trust/user-domains', { csrf: token, name: '<b>Cluster A</b> & co', slcFile: { file: chain } });
    expect(added.status).toBe(303);
    expect(added.location).toMatch(/^\/_wmcs\/admin\/trust\?flash=/);
    const shown = await get(added.location!.replace('/_wmcs/admin', ''));
    expect(shown.html).toMatch(/Now trusting user domain &#60;b&#62;Cluster A&#60;\/b&#62; &#38; co \(sha256:[0-9a-f]{64}\)/);
    expect(shown.html).not.toContain('<b>Cluster A</b>');
    const fingerprint = /sha256:([0-9a-f]{64})/.exec(shown.html)![1]!;
    expect(shown.html).toContain(`<td class="mono">${fingerprint}</td>`);
    // Applied on this member at once; polled only because the client's connection may be reused.
    expect(await eventually(request, 'ok')).toBe('ok');
    // The same chain again is a conflict, and writes nothing more.
    expect((await post('/trust/user-domains', { csrf: token, slcFile: { file: chain } })).status).toBe(409);

    // Removing: the confirmation names what goes; the form without confirm=yes changes nothing.
    const confirm = await get(`/trust?confirm=remove-user-domain&fingerprint=${fingerprint}`);
    expect(confirm.html).toMatch(/<section id="confirm-remove"[\s\S]*Stop trusting user domain &#60;b&#62;Cluster A/);
    expect((await get('/trust?confirm=remove-user-domain&fingerprint=00')).status).toBe(404);
    expect((await post('/trust/user-domains/remove', { csrf: token, fingerprint })).status).toBe(400);
    expect(await request()).toBe('ok');
    const removed = await post('/trust/user-domains/remove', { csrf: token, fingerprint, confirm: 'yes' });
    expect(removed.status).toBe(303);
    expect(await eventually(request, 'UntrustedPersonaCert')).toBe('UntrustedPersonaCert');

    const rows = await audit(dbB, 'trust.user-domain.');
    expect(rows.map((r) => [r.action, r.actor, r.target]).sort()).toEqual([
      ['trust.user-domain.add', ADMIN.name, '<b>Cluster A</b> & co'],
      ['trust.user-domain.remove', ADMIN.name, '<b>Cluster A</b> & co'],
    ]);
  }, 180_000);

  test('importing a publishing domain on the page: B licenses A’s content; a wrong password is refused and never echoed', async () => {
    const exportFile = path.join(dir, 'a-export.pem');
    await exportClusterKey({ databaseUrl: dbA.url, keyPassword: KEY_PASSWORD, exportPassword: EXPORT_PASSWORD, outFile: exportFile });
    const exportText = readFileSync(exportFile, 'utf8');
    const file = await client(a, alice).protect(Buffer.from('for bob, published on A'), { grants: parseGrantSpec(`${bob.email}:VIEW`) });
    const plChain = parseProtectedFile(file).header.plChain;
    const bobAtB = client(b, bob);
    await bobAtB.identity();
    const request = () => acquireAtB(racOf(bobAtB), plChain);
    expect(await request()).toBe('InvalidRightsLabelSignature');

    const token = await tokenOf('/trust');
    const before = await trustSettings(dbB);
    const wrong = 'wrong-password-<i>shown</i>';
    const refused: [string, Record<string, string | { file: string | Buffer }>, number, RegExp][] = [
      ['a wrong password', { exportFile: { file: exportText }, exportPassword: wrong }, 400, /password is wrong/],
      ['garbage', { exportFile: { file: '<script>alert(1)</script>' }, exportPassword: EXPORT_PASSWORD }, 400, /not a usable cluster key export/],
      ['no file', { exportFile: { file: '' }, exportPassword: EXPORT_PASSWORD }, 400, /choose the key export file/],
      ['no password', { exportFile: { file: exportText }, exportPassword: '' }, 400, /export file password is required/],
      ['B’s own export', { exportFile: { file: await ownExport() }, exportPassword: EXPORT_PASSWORD }, 400, /this cluster’s own key/],
    ];
    for (const [what, fields, status, message] of refused) {
      const r = await post('/trust/publishing-domains', { csrf: token, ...fields });
      expect([what, r.status, r.html]).toEqual([what, status, expect.stringMatching(message)]);
      expect(r.html).not.toContain('wrong-password');
      expect(r.html).not.toContain('<script>alert(1)');
    }
    expect(await trustSettings(dbB)).toBe(before);

    const imported = await post('/trust/publishing-domains', { csrf: token, exportFile: { file: exportText, name: 'a-export.pem' }, exportPassword: EXPORT_PASSWORD });
    expect(imported.status).toBe(303);
    const listed = await get('/trust');
    const keyId = /confirm=remove-publishing-domain&#38;key=([^"#&]+)/.exec(listed.html)![1]!;
    expect(listed.html).toContain('id="trusted-publishing-domains"');
    // B issues the use licence for A's file at once (this member refreshed on import).
    expect(await eventually(request, 'ok')).toBe('ok');

    const everything = JSON.stringify(await withStore(dbB, (s) => s.audit.list({ limit: 500 })));
    expect(everything).not.toContain(EXPORT_PASSWORD);
    expect(everything).not.toContain('wrong-password');
    expect((await audit(dbB, 'trust.publishing-domain.import')).map((r) => r.actor)).toEqual([ADMIN.name]);

    expect((await get(`/trust?confirm=remove-publishing-domain&key=${keyId}`)).html).toMatch(/Remove publishing domain/);
    const removed = await post('/trust/publishing-domains/remove', { csrf: token, key: decodeURIComponent(keyId), confirm: 'yes' });
    expect(removed.status).toBe(303);
    expect(await eventually(request, 'InvalidRightsLabelSignature')).toBe('InvalidRightsLabelSignature');
    expect((await audit(dbB, 'trust.publishing-domain.remove')).map((r) => r.actor)).toEqual([ADMIN.name]);
  }, 180_000);

  async function ownExport(): Promise<string> {
    const f = path.join(dir, 'b-export.pem');
    await exportClusterKey({ databaseUrl: dbB.url, keyPassword: KEY_PASSWORD, exportPassword: EXPORT_PASSWORD, outFile: f, force: true });
    return readFileSync(f, 'utf8');
  }

  test('decommissioning on the page, after typing the cluster’s name: Certify faults, AcquireContentKey returns the key', async () => {
    const plain = 'Memo protected on B before it was retired.\n';
    const file = parseProtectedFile(await client(b, bob).protect(Buffer.from(plain), { grants: parseGrantSpec(`${bob.email}:VIEW`) }));
    const endpoint = WMCS_PREFIX + SERVICE_PATHS.decommission;
    await withStore(dbB, (s) => changeDacl(s, 'test', { action: 'grant', endpoint, principal: bob.name, right: 'Execute' }));
    const contentKey = () =>
      postSoap({
        url: `${b.url}${endpoint}`,
        action: `${DECOMMISSION_NS}/AcquireContentKey`,
        auth: bob,
        body: envelope({ header: versionData(DECOMMISSION_NS), body: `<AcquireContentKey xmlns="${DECOMMISSION_NS}"><paramsSoap><AcquireContentKeyParams>${certs('IssuanceLicense', file.header.plChain)}</AcquireContentKeyParams></paramsSoap></AcquireContentKey>` }),
      }).catch(() => undefined);
    // Refused before decommissioning (polled: the DACL grant reaches the member within its refresh).
    const notYet = async () => faultString((await contentKey())?.text ?? '') ?? 'no fault';
    const NOT_DECOMMISSIONED = 'Microsoft.DigitalRightsManagement.Utilities.ClusterNotDecommissionedException';
    expect((await eventually(async () => (await notYet()).split(':')[0]!, NOT_DECOMMISSIONED)).trim()).toBe(NOT_DECOMMISSIONED);

    const shown = await get('/decommission');
    expect(shown.html).toMatch(/id="decommission-state" class="yes">no: in service/);
    expect(shown.html).toMatch(/cannot be undone/);
    expect(shown.html).toContain('<td>bob</td><td>user</td><td>Execute</td><td class="allow">allow</td>');
    const clusterName = await withStore(dbB, async (s) => (await s.clusters.get()).name);
    expect(shown.html).toContain(`<strong>${clusterName}</strong>`);
    const token = await tokenOf('/decommission');
    for (const typed of ['', 'yes', clusterName.toUpperCase() === clusterName ? `${clusterName}x` : clusterName.toUpperCase(), '<script>alert(1)</script>']) {
      const r = await post('/decommission', { csrf: token, confirmName: typed });
      expect([typed, r.status]).toEqual([typed, 400]);
      expect(r.html).not.toContain('<script>alert(1)');
    }
    expect(await withStore(dbB, async (s) => (await s.clusters.get()).decommissioned)).toBe(false);
    expect(await audit(dbB, 'cluster.decommission')).toEqual([]);

    const done = await post('/decommission', { csrf: token, confirmName: clusterName });
    expect(done.status).toBe(303);
    expect((await get(done.location!.replace('/_wmcs/admin', ''))).html).toMatch(/Decommissioned .*: members issue nothing from now on/);

    // Certify faults at once on this member; AcquireContentKey returns the key that decrypts the memo.
    const machine = new FakeClient(new Date());
    const certify = await postSoap({
      url: `${b.url}/_wmcs/certification/certification.asmx`,
      action: `${CERT_NS}/Certify`,
      auth: bob,
      body: envelope({ header: versionData(CERT_NS), body: `<Certify xmlns="${CERT_NS}"><requestParams>${certs('MachineCertificateChain', [machine.spc])}<Persistent>true</Persistent></requestParams></Certify>` }),
    });
    expect(certify.status).toBe(500);
    expect(faultString(certify.text)).toMatch(/^Microsoft\.RightsManagementServices\.ClusterDecommissionedException\b/);
    let released = await contentKey();
    for (const until = Date.now() + 20_000; released?.status !== 200 && Date.now() < until; ) {
      await new Promise((r) => setTimeout(r, 300));
      released = await contentKey();
    }
    expect(released?.status).toBe(200);
    expect(certificatesIn(released!.text)).toEqual([]);
    const key = Buffer.from(/<ContentKey>([^<]+)<\/ContentKey>/.exec(released!.text)![1]!, 'base64');
    const c = file.encryptedContent;
    const decipher = createDecipheriv('aes-256-gcm', key, c.subarray(0, 12));
    decipher.setAAD(contentAad(file.headerBytes));
    decipher.setAuthTag(c.subarray(c.length - 16));
    expect(Buffer.concat([decipher.update(c.subarray(12, c.length - 16)), decipher.final()]).toString('utf8')).toBe(plain);

    // The page now says so, lists the calls (refused before, released after), and offers no switch.
    const after = await get('/decommission');
    expect(after.html).toMatch(/id="decommission-state" class="no">yes/);
    expect(after.html).toMatch(new RegExp(`Since</th><td>[^<]+ by ${ADMIN.name}`));
    expect(after.html).not.toContain('id="decommission-form"');
    const calls = /<table id="content-key-calls">([\s\S]*?)<\/table>/.exec(after.html)![1]!;
    expect(calls).toMatch(new RegExp(`<td>bob</td><td class="mono wrap">${file.header.contentId.replace(/[{}]/g, '\\$&')}</td>\\s*<td class="yes">key released`));
    expect(calls).toMatch(/refused: ClusterNotDecommissioned/);
    expect(after.html).not.toContain(key.toString('base64'));
    expect((await audit(dbB, 'cluster.decommission')).map((r) => r.actor)).toEqual([ADMIN.name]);
    // A second time: nothing changes, nothing more is audited.
    expect((await post('/decommission', { csrf: token, confirmName: clusterName })).status).toBe(303);
    expect(await audit(dbB, 'cluster.decommission')).toHaveLength(1);
  }, 180_000);
});
