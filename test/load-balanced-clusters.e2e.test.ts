import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseProtectedFile, RmsClient } from '@openrms/client';
import { parseGrantSpec } from '@openrms/domain';
import { openStore } from '@openrms/store';
import { parseXrml, readCertificate, readRac } from '@openrms/xrml';
import { postgresDatabase, tempDir, type TestDatabase } from './support/databases';
import { startHaproxy, waitForStatus, type Balancer } from './support/haproxy';
import { background, REPO, rmsctl, TSX_BIN, type Background } from './support/processes';
import { freePort } from './support/root-cluster';
import { xmlsecVerifies } from './support/xmlsec';
import { envelope, postSoap, versionData } from './support/soap-client';

const SECRETS = { KEY_PW: 'cluster-key-password-1', ADMIN_PW: 'admin-password-1', ENROLLER_PW: 'enroller-password-1', ALICE_PW: 'alice-password-1', BOB_PW: 'bob-password-1' };
const LIC_NS = 'http://microsoft.com/DRM/LicensingService';

function member(db: TestDatabase, port: number, name: string): Background {
  return background(TSX_BIN, [path.join(REPO, 'apps/cli/src/main.ts'), 'serve', '--database', db.url, '--listen', `127.0.0.1:${port}`, '--key-password-env', 'KEY_PW', '--server-name', name], {
    env: { KEY_PW: SECRETS.KEY_PW, RMS_LOG_LEVEL: 'warn' },
  });
}

function ok(r: { code: number | null; stderr: string }): void {
  if (r.code !== 0) throw new Error(r.stderr);
}


const clusterIdOf = (db: TestDatabase) => /cluster: +\S+ (\S+)/.exec(rmsctl(['cluster', 'status', '--database', db.url]).stdout)![1]!;

describe('a root and a licensing-only cluster, two members each, behind two real HAProxy balancers', () => {
  const dbs: TestDatabase[] = [];
  const procs: Background[] = [];
  const balancers: Balancer[] = [];
  let rootDb: TestDatabase;
  let licDb: TestDatabase;
  let hr: Balancer;
  let hl: Balancer;
  const ports: Record<string, number> = {};
  const licMembers: Record<string, Background> = {};

  beforeAll(async () => {
    for (const k of ['hr', 'hl', 'sr', 'sl', 'r1', 'r2', 'l1', 'l2']) ports[k] = await freePort();
    rootDb = postgresDatabase();
    licDb = postgresDatabase();
    dbs.push(rootDb, licDb);
    const rootUrl = `http://127.0.0.1:${ports.hr}`;
    ok(rmsctl(['provision', 'root', '--database', rootDb.url, '--cluster-url', rootUrl, '--service-account', 'root-svc', '--admin', 'admin', '--admin-password-env', 'ADMIN_PW', '--key-password-env', 'KEY_PW', '--server-name', 'r1'], SECRETS));
    for (const u of ['enroller', 'alice', 'bob']) ok(rmsctl(['users', 'add', u, '--database', rootDb.url, '--email', `${u}@example.test`, '--password-env', `${u.toUpperCase()}_PW`], SECRETS));
    ok(rmsctl(['cluster', 'join', '--database', rootDb.url, '--service-account', 'root-svc', '--key-password-env', 'KEY_PW', '--server-url', `http://127.0.0.1:${ports.r2}`, '--server-name', 'r2'], SECRETS));
    for (const n of ['r1', 'r2']) procs.push(member(rootDb, ports[n]!, n));
    await Promise.all(procs.map((p) => p.waitFor(/listening on/)));
    hr = await startHaproxy({ port: ports.hr!, statsPort: ports.sr!, clusterId: clusterIdOf(rootDb), servers: [{ name: 'r1', port: ports.r1! }, { name: 'r2', port: ports.r2! }] });
    balancers.push(hr);
    await waitForStatus(hr, { r1: 'UP', r2: 'UP' });
  }, 120_000);

  afterAll(async () => {
    for (const b of balancers) await b.stop();
    for (const p of [...procs, ...Object.values(licMembers)]) await p.stop();
    for (const d of dbs) d.dispose();
  });

  const provisionLicensing = () =>
    rmsctl(
      ['provision', 'licensing', '--root-url', hr.url, '--root-user', 'enroller', '--root-password-env', 'ENROLLER_PW', '--database', licDb.url, '--cluster-url', `http://127.0.0.1:${ports.hl}`, '--service-account', 'lic-svc', '--admin', 'admin', '--admin-password-env', 'ADMIN_PW', '--key-password-env', 'KEY_PW', '--server-name', 'l1'],
      SECRETS,
    );

  it('refuses sub-enrollment through the balancer until the DACL grants it, then accepts it', async () => {
    const refused = provisionLicensing();
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/UnauthorizedAccessException/);
    const s = await openStore(licDb.url, { migrate: true });
    expect(await s.clusters.find()).toBeUndefined();
    await s.close();
    ok(rmsctl(['dacl', 'grant', '--database', rootDb.url, '--endpoint', '/_wmcs/certification/SubEnrollService.asmx', '--principal', 'enroller', '--right', 'Execute']));
    // Both root members must see the grant (each re-reads DACLs every 5 s).
    let accepted = provisionLicensing();
    for (let i = 0; i < 12 && accepted.code !== 0; i++) {
      await new Promise((r) => setTimeout(r, 500));
      accepted = provisionLicensing();
    }
    ok(accepted);
    expect(accepted.stdout).toMatch(/chain of 2/);
  }, 60_000);

  it('runs the licensing cluster behind its own balancer, which keeps a member of another cluster out', async () => {
    for (const u of ['alice', 'bob']) ok(rmsctl(['users', 'add', u, '--database', licDb.url, '--email', `${u}@example.test`, '--password-env', `${u.toUpperCase()}_PW`], SECRETS));
    ok(rmsctl(['cluster', 'join', '--database', licDb.url, '--service-account', 'lic-svc', '--key-password-env', 'KEY_PW', '--server-url', `http://127.0.0.1:${ports.l2}`, '--server-name', 'l2'], SECRETS));
    for (const n of ['l1', 'l2']) licMembers[n] = member(licDb, ports[n]!, n);
    await Promise.all(Object.values(licMembers).map((p) => p.waitFor(/listening on/)));
    // r1 is a healthy server, but of the root cluster: it must never pass as a licensing member.
    hl = await startHaproxy({ port: ports.hl!, statsPort: ports.sl!, clusterId: clusterIdOf(licDb), servers: [{ name: 'l1', port: ports.l1! }, { name: 'l2', port: ports.l2! }, { name: 'rogue', port: ports.r1! }] });
    balancers.push(hl);
    await waitForStatus(hl, { l1: 'UP', l2: 'UP', rogue: 'DOWN' });
    const status = rmsctl(['cluster', 'status', '--database', licDb.url]).stdout;
    expect(status).toMatch(/licensing/);
    expect(status).toMatch(/l1 .* alive/);
    expect(status).toMatch(/l2 .* alive/);
  }, 60_000);

  let plChain: string[] = [];
  let bobRac = '';
  it('protects through the licensing cluster and opens as another user; certification comes back from the root; every chain ends at the root key', async () => {
    const state = tempDir('lb-client');
    const client = (u: string) => new RmsClient({ serverUrl: hl.url, user: u, password: SECRETS[`${u.toUpperCase()}_PW` as keyof typeof SECRETS], stateDir: state });
    const file = await client('alice').protect(Buffer.from('behind the balancer'), { grants: parseGrantSpec('bob@example.test:VIEW') });
    const opened = await client('bob').open(file);
    expect(opened.content.toString()).toBe('behind the balancer');

    const rootPem = rmsctl(['slc', 'show', '--database', rootDb.url, '--pem']).stdout;
    const licLeaf = readCertificate(parseXrml(JSON.parse(readFileSync(path.join(state, `alice@127.0.0.1_${ports.hl}`, 'clc-chain.json'), 'utf8'))[1] as string));
    const licPem = licLeaf.principal.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const racChain = JSON.parse(readFileSync(path.join(state, `bob@127.0.0.1_${ports.hl}`, 'rac-chain.json'), 'utf8')) as string[];
    bobRac = racChain[0]!;
    plChain = parseProtectedFile(file).header.plChain;
    // RAC (through the licensing balancer) signed by the root; its chain is the root's SLC.
    expect(xmlsecVerifies(racChain[0]!, rootPem)).toBe(true);
    expect(racChain.slice(1).every((c) => xmlsecVerifies(c, rootPem))).toBe(true);
    expect(readRac(parseXrml(racChain[0]!)).identity.email).toBe('bob@example.test');
    // PL chain: PL ← CLC ← licensing SLC ← root SLC.
    expect(plChain).toHaveLength(4);
    expect(xmlsecVerifies(plChain[1]!, licPem)).toBe(true);
    expect(xmlsecVerifies(plChain[2]!, rootPem)).toBe(true);
    expect(xmlsecVerifies(plChain[3]!, rootPem)).toBe(true);
    // UL signed by the licensing cluster, whose SLC the root signed.
    expect(xmlsecVerifies(opened.useLicense, licPem)).toBe(true);
  }, 120_000);

  it('loses no request once the health check has seen a killed member, and writes nothing twice', async () => {
    const body = envelope({
      header: versionData(LIC_NS),
      body: `<AcquireLicense xmlns="${LIC_NS}"><RequestParams><AcquireLicenseParams><LicenseeCerts><Certificate>${bobRac.replace('<XrML', '<XrML xmlns=""')}</Certificate></LicenseeCerts><IssuanceLicense>${plChain.map((c) => `<Certificate>${c.replace('<XrML', '<XrML xmlns=""')}</Certificate>`).join('')}</IssuanceLicense></AcquireLicenseParams></RequestParams></AcquireLicense>`,
    });
    const store = await openStore(licDb.url);
    const ulBefore = await store.issued.count({ kind: 'UL' });
    const TOTAL = 240;
    const results: { i: number; startedAt: number; at: number; status: number }[] = [];
    let next = 0;
    let killedAt = 0;
    let downAt = 0;
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= TOTAL) return;
        if (i === 60) {
          killedAt = Date.now();
          licMembers.l2!.killGroup('SIGKILL');
          void waitForStatus(hl, { l2: 'DOWN' }, 10_000).then(() => (downAt = Date.now()));
        }
        const startedAt = Date.now();
        const r = await postSoap({ url: `${hl.url}/_wmcs/licensing/license.asmx`, action: `${LIC_NS}/AcquireLicense`, auth: { name: 'bob', password: SECRETS.BOB_PW }, body }).catch(() => ({ status: 0 }));
        results.push({ i, startedAt, at: Date.now(), status: r.status });
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    await waitForStatus(hl, { l2: 'DOWN' });
    expect(killedAt).toBeGreaterThan(0);
    const failures = results.filter((r) => r.status !== 200);
    const successes = results.length - failures.length;
    // Only requests sent before the balancer saw the kill may fail; none sent after it.
    expect(failures.every((f) => f.startedAt <= downAt)).toBe(true);
    expect(results.filter((r) => r.startedAt > downAt && r.status !== 200)).toEqual([]);
    expect(results.filter((r) => r.startedAt > downAt).length).toBeGreaterThan(20);
    // Each delivered request was licensed once: no retry of a request that reached a member.
    await new Promise((r) => setTimeout(r, 1500));
    const issued = (await store.issued.count({ kind: 'UL' })) - ulBefore;
    expect(issued).toBeGreaterThanOrEqual(successes);
    expect(issued).toBeLessThanOrEqual(successes + failures.length);
    const log = await store.requestLog.tail(TOTAL * 3);
    const ids = log.map((r) => r.requestId).filter(Boolean);
    expect(new Set(ids).size).toBe(ids.length);
    await store.close();
    process.stdout.write(`kill test: ${results.length} requests, ${failures.length} failed (in flight at the kill), health check reacted after ${downAt - killedAt} ms\n`);
  }, 120_000);
});
