import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseProtectedFile, RmsClient } from '@openrms/client';
import { parseGrantSpec } from '@openrms/domain';
import { tempDir } from './support/databases';
import { startHaproxy, waitForStatus, type Balancer } from './support/haproxy';
import { startPrivatePostgres, startPrivateRedis, type PrivatePostgres, type PrivateRedis } from './support/private-services';
import { background, REPO, rmsctl, TSX_BIN, type Background } from './support/processes';
import { freePort } from './support/root-cluster';
import { envelope, postSoap, versionData } from './support/soap-client';

/*
 * Two members of one cluster behind the shipped HAProxy configuration, with a PostgreSQL and a
 * Redis of the test's own, so they can be stopped: the database decides readiness, Redis does not,
 * and a member killed under load costs only the requests it held.
 */

const SECRETS = { KEY_PW: 'cluster-key-password-1', ADMIN_PW: 'admin-password-1', ALICE_PW: 'alice-password-1', BOB_PW: 'bob-password-1' };
const LIC_NS = 'http://microsoft.com/DRM/LicensingService';

function ok(r: { code: number | null; stderr: string }): void {
  if (r.code !== 0) throw new Error(r.stderr);
}

describe('faults behind the shipped HAProxy configuration (private PostgreSQL and Redis)', () => {
  let pg: PrivatePostgres;
  let redis: PrivateRedis;
  let hb: Balancer;
  const members: Record<string, Background> = {};
  const ports: Record<string, number> = {};
  let licenseBody = '';

  const member = (name: string) =>
    background(TSX_BIN, [path.join(REPO, 'apps/cli/src/main.ts'), 'serve', '--database', pg.url, '--listen', `127.0.0.1:${ports[name]}`, '--key-password-env', 'KEY_PW', '--server-name', name, '--redis', redis.url], {
      env: { KEY_PW: SECRETS.KEY_PW, RMS_LOG_LEVEL: 'warn' },
    });
  const license = () =>
    postSoap({ url: `${hb.url}/_wmcs/licensing/license.asmx`, action: `${LIC_NS}/AcquireLicense`, auth: { name: 'bob', password: SECRETS.BOB_PW }, body: licenseBody }).catch(() => ({ status: 0, text: '' }));

  beforeAll(async () => {
    [pg, redis] = await Promise.all([startPrivatePostgres(), startPrivateRedis()]);
    for (const k of ['hb', 'st', 'm1', 'm2']) ports[k] = await freePort();
    const url = `http://127.0.0.1:${ports.hb}`;
    ok(rmsctl(['provision', 'root', '--database', pg.url, '--cluster-url', url, '--service-account', 'rms-svc', '--admin', 'admin', '--admin-password-env', 'ADMIN_PW', '--key-password-env', 'KEY_PW', '--server-name', 'm1'], SECRETS));
    for (const u of ['alice', 'bob']) ok(rmsctl(['users', 'add', u, '--database', pg.url, '--email', `${u}@example.test`, '--password-env', `${u.toUpperCase()}_PW`], SECRETS));
    ok(rmsctl(['cluster', 'join', '--database', pg.url, '--service-account', 'rms-svc', '--key-password-env', 'KEY_PW', '--server-url', `http://127.0.0.1:${ports.m2}`, '--server-name', 'm2'], SECRETS));
    members.m1 = member('m1');
    members.m2 = member('m2');
    await Promise.all(Object.values(members).map((m) => m.waitFor(/listening on/, 60_000)));
    const clusterId = /cluster: +\S+ (\S+)/.exec(rmsctl(['cluster', 'status', '--database', pg.url]).stdout)![1]!;
    hb = await startHaproxy({ port: ports.hb!, statsPort: ports.st!, clusterId, servers: [{ name: 'm1', port: ports.m1! }, { name: 'm2', port: ports.m2! }] });
    await waitForStatus(hb, { m1: 'UP', m2: 'UP' }, 60_000);
    // A real client protects a file through the balancer; bob's RAC and the PL make the licence request.
    const state = tempDir('faults-client');
    const client = (u: 'alice' | 'bob') => new RmsClient({ serverUrl: hb.url, user: u, password: SECRETS[`${u.toUpperCase()}_PW` as 'ALICE_PW'], stateDir: state });
    const file = await client('alice').protect(Buffer.from('faults'), { grants: parseGrantSpec('bob@example.test:VIEW') });
    expect((await client('bob').open(file)).content.toString()).toBe('faults');
    const rac = (JSON.parse(readFileSync(path.join(state, `bob@127.0.0.1_${ports.hb}`, 'rac-chain.json'), 'utf8')) as string[])[0]!;
    const plChain = parseProtectedFile(file).header.plChain;
    const cert = (x: string) => `<Certificate>${x.replace('<XrML', '<XrML xmlns=""')}</Certificate>`;
    licenseBody = envelope({
      header: versionData(LIC_NS),
      body: `<AcquireLicense xmlns="${LIC_NS}"><RequestParams><AcquireLicenseParams><LicenseeCerts>${cert(rac)}</LicenseeCerts><IssuanceLicense>${plChain.map(cert).join('')}</IssuanceLicense></AcquireLicenseParams></RequestParams></AcquireLicense>`,
    });
    expect((await license()).status).toBe(200);
  }, 240_000);

  afterAll(async () => {
    await hb?.stop();
    for (const m of Object.values(members)) await m.stop();
    await redis?.close();
    await pg?.close();
  });

  it('Redis stopped: both members stay in the pool and every licence request succeeds', async () => {
    await redis.stop();
    try {
      const statuses: number[] = [];
      const seen: Record<string, string>[] = [];
      // About as long as it takes the balancer to act on three failed checks, and then some.
      const until = Date.now() + 6_000;
      while (Date.now() < until) {
        statuses.push((await license()).status);
        seen.push(await hb.status());
      }
      expect(statuses.length).toBeGreaterThan(5);
      expect(statuses.filter((s) => s !== 200)).toEqual([]);
      expect(seen.every((s) => s.m1 === 'UP' && s.m2 === 'UP')).toBe(true);
      // Probes get the last settled answer at once; a fresh one follows within about a second.
      let ready: { status: string; degraded?: string[] } = { status: '' };
      for (let i = 0; i < 100 && !ready.degraded; i++) {
        ready = (await (await fetch(`http://127.0.0.1:${ports.m1}/readyz`)).json()) as { status: string; degraded?: string[] };
        if (!ready.degraded) await new Promise((r) => setTimeout(r, 200));
      }
      expect(ready).toMatchObject({ status: 'ready', degraded: ['redis'] });
    } finally {
      await redis.start();
    }
  }, 120_000);

  it('database stopped: both leave the pool, the balancer answers 503 quickly, and they come back by themselves', async () => {
    await pg.stop();
    try {
      await waitForStatus(hb, { m1: 'DOWN', m2: 'DOWN' }, 60_000);
      const started = Date.now();
      const r = await license();
      expect(r.status).toBe(503);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await pg.start();
    }
    await waitForStatus(hb, { m1: 'UP', m2: 'UP' }, 90_000);
    expect((await license()).status).toBe(200);
  }, 240_000);

  it('a member killed under load: the survivor is never marked down, and nothing fails once the check has reacted', async () => {
    const results: { startedAt: number; status: number }[] = [];
    const statuses: Record<string, string>[] = [];
    let downAt = 0;
    let next = 0;
    const TOTAL = 160;
    const watcher = (async () => {
      while (next < TOTAL) {
        statuses.push(await hb.status());
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= TOTAL) return;
        if (i === 40) {
          members.m2!.killGroup('SIGKILL');
          void waitForStatus(hb, { m2: 'DOWN' }, 30_000).then(() => (downAt = Date.now()));
        }
        const startedAt = Date.now();
        results.push({ startedAt, status: (await license()).status });
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    await watcher;
    await waitForStatus(hb, { m2: 'DOWN' }, 30_000);
    expect(downAt).toBeGreaterThan(0);
    expect(results.filter((r) => r.startedAt > downAt && r.status !== 200)).toEqual([]);
    expect(results.filter((r) => r.startedAt > downAt).length).toBeGreaterThan(10);
    expect(statuses.filter((s) => s.m1 !== 'UP')).toEqual([]);
  }, 180_000);
});
