import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Writable } from 'node:stream';
import { loadServerConfig } from '@openrms/config';
import { addUser, provisionRootCluster, SETTINGS } from '@openrms/issuance';
import { closeRedisClient, connectRedis, createRedisClient, QUEUES, type RedisClient } from '@openrms/jobs';
import { createLogger, startServer, type RunningServer } from '@openrms/server';
import { openStore } from '@openrms/store';
import { addFailedJobs, addJobScheduler, obliterateQueues } from '../packages/jobs/src/testing/queue-fixtures';
import { sqliteDatabase, type TestDatabase } from './support/databases';
import { freePort } from './support/root-cluster';
import { envelope, postSoap, SERVER_NS, versionData } from './support/soap-client';

const REDIS_URL = 'redis://127.0.0.1:6379';
/** Unique per run of this file, so parallel files and earlier runs never share queues. */
const PREFIX = `openrms-test-obs-${randomBytes(4).toString('hex')}`;
const TOKEN = `scrape-${randomBytes(16).toString('hex')}`;
const ADMIN = { name: 'alice', password: 'alice-password-1' };
const BOB = { name: 'bob', password: 'bob-password-1' };
const KEY_PASSWORD = 'cluster-key-password-1';
const SLC_ENDPOINT = '/_wmcs/certification/server.asmx';
const GET_SLC = `<GetLicensorCertificate xmlns="${SERVER_NS}"/>`;

type Credentials = { name: string; password: string };
const basic = (c: Credentials) => `Basic ${Buffer.from(`${c.name}:${c.password}`).toString('base64')}`;

interface Member {
  db: TestDatabase;
  server: RunningServer;
  logs: string[];
}

/** Provisions a root cluster on SQLite and starts a member whose log lines land in `logs`. */
async function startMember(extras: Parameters<typeof startServer>[2]): Promise<Member> {
  const db = sqliteDatabase();
  const port = await freePort();
  await provisionRootCluster({
    databaseUrl: db.url,
    clusterUrl: `http://127.0.0.1:${port}/_wmcs`,
    serviceAccount: 'rms-service',
    admin: ADMIN,
    keyPassword: KEY_PASSWORD,
    revocation: { kind: 'standard' },
    serverName: 'obs-member',
  });
  await addUser(db.url, { name: BOB.name, email: 'bob@example.test', password: BOB.password, groups: [] });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  const config = loadServerConfig({ database: db.url, listen: `127.0.0.1:${port}`, keyPasswordEnv: 'KP', serverName: 'obs-member' }, { KP: KEY_PASSWORD });
  const server = await startServer(config, createLogger('debug', sink), extras);
  return { db, server, logs };
}

async function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(url, { method, headers });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** The value of one sample in Prometheus text format, e.g. sample(t, 'openrms_queue_jobs', { queue: 'x', state: 'failed' }). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

const getSlc = (base: string, o: { auth?: Credentials | null; withVersion?: boolean; action?: string } = {}) =>
  postSoap({
    url: `${base}${SLC_ENDPOINT}`,
    action: o.action ?? `${SERVER_NS}/GetLicensorCertificate`,
    auth: o.auth === undefined ? ADMIN : o.auth,
    body: envelope({ ...(o.withVersion === false ? {} : { header: versionData(SERVER_NS) }), body: GET_SLC }),
  });

describe('a member with Redis: /metrics, the queue dashboard, readiness and logs', () => {
  let m: Member;
  let base: string;
  let redis: RedisClient;
  const admin = { authorization: basic(ADMIN) };

  beforeAll(async () => {
    redis = createRedisClient(REDIS_URL, { mode: 'fail-fast' });
    await connectRedis(redis);
    await addJobScheduler({ connection: redis, prefix: PREFIX }, QUEUES.slcRenewal, 'slc-renewal-check', { every: 6 * 3600_000 });
    await addFailedJobs({ connection: redis, prefix: PREFIX }, QUEUES.expiry, 2);
    m = await startMember({ metrics: { token: TOKEN }, queues: { redisUrl: REDIS_URL, prefix: PREFIX } });
    base = m.server.url;
    // The server connects in the background; wait until it reports Redis ready.
    for (let i = 0; i < 50 && (await get(`${base}/readyz`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
  });
  afterAll(async () => {
    await m?.server.close();
    m?.db.dispose();
    await obliterateQueues({ connection: redis, prefix: PREFIX });
    await closeRedisClient(redis);
  });

  describe('/metrics', () => {
    it('answers members of RMS Administrators and the bearer token, and refuses everyone else', async () => {
      const none = await get(`${base}/metrics`);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/Basic realm=/);
      expect(none.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(none.text).not.toContain('openrms_');

      const plainUser = await get(`${base}/metrics`, { authorization: basic(BOB) });
      expect(plainUser.status).toBe(403);
      expect(plainUser.text).not.toContain('openrms_');

      expect((await get(`${base}/metrics`, { authorization: basic({ ...ADMIN, password: 'wrong' }) })).status).toBe(401);
      expect((await get(`${base}/metrics`, { authorization: `Bearer ${TOKEN}x` })).status).toBe(401);
      expect((await get(`${base}/metrics`, { authorization: 'Bearer ' })).status).toBe(401);

      const byAdmin = await get(`${base}/metrics`, admin);
      expect(byAdmin.status).toBe(200);
      expect(byAdmin.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const byToken = await get(`${base}/metrics`, { authorization: `Bearer ${TOKEN}` });
      expect(byToken.status).toBe(200);
      expect(byToken.text).toContain('# TYPE openrms_requests_total counter');

      expect((await get(`${base}/metrics`, admin, 'POST')).status).toBe(405);
    });

    it('exposes the request, fault, SLC, request-log, queue and process families', async () => {
      await getSlc(base);
      await getSlc(base, { withVersion: false });
      const t = (await get(`${base}/metrics`, admin)).text;
      for (const family of [
        'openrms_requests_total counter',
        'openrms_request_duration_seconds histogram',
        'openrms_faults_total counter',
        'openrms_slc_expiry_seconds gauge',
        'openrms_slc_last_renewal_timestamp_seconds gauge',
        'openrms_request_log_queued gauge',
        'openrms_request_log_dropped_total counter',
        'openrms_queue_jobs gauge',
        'openrms_queue_failed_jobs gauge',
        'openrms_redis_up gauge',
        'openrms_slc_not_after_timestamp_seconds gauge',
        // Node.js process metrics under their standard, unprefixed names.
        'process_cpu_seconds_total counter',
        'process_resident_memory_bytes gauge',
        'process_start_time_seconds gauge',
        'nodejs_eventloop_lag_seconds gauge',
        'nodejs_heap_size_used_bytes gauge',
      ]) {
        expect(t).toContain(`# TYPE ${family}`);
      }
      expect(t).not.toMatch(/^# TYPE openrms_(process|nodejs)_/m);
      expect(sample(t, 'process_resident_memory_bytes')).toBeGreaterThan(0);
      // Seconds until the SLC's UNTIL, computed at scrape time.
      const until = m.server.runtime.slc.validUntil!.getTime();
      expect(Math.abs(sample(t, 'openrms_slc_expiry_seconds')! - (until - Date.now()) / 1000)).toBeLessThan(60);
      // The UNTIL itself, as a Unix timestamp: exactly the SLC's.
      expect(sample(t, 'openrms_slc_not_after_timestamp_seconds')).toBe(until / 1000);
      expect(sample(t, 'openrms_request_log_queued')).toEqual(expect.any(Number));
      expect(sample(t, 'openrms_request_log_dropped_total')).toBe(0);
      // What the fixtures wrote into Redis, read through packages/jobs at scrape time.
      expect(sample(t, 'openrms_redis_up')).toBe(1);
      expect(sample(t, 'openrms_queue_jobs', { queue: QUEUES.expiry, state: 'failed' })).toBe(2);
      expect(sample(t, 'openrms_queue_failed_jobs', { queue: QUEUES.expiry })).toBe(2);
      expect(sample(t, 'openrms_queue_jobs', { queue: QUEUES.slcRenewal, state: 'failed' })).toBe(0);
      for (const state of ['waiting', 'active', 'delayed', 'completed']) {
        expect(sample(t, 'openrms_queue_jobs', { queue: QUEUES.slcRenewal, state })).toEqual(expect.any(Number));
      }
      const next = sample(t, 'openrms_queue_scheduler_next_run_timestamp_seconds', { queue: QUEUES.slcRenewal, scheduler: 'slc-renewal-check' })!;
      // The run the scheduler has queued (due now: no worker takes it in this test) or the one after it.
      expect(next * 1000).toBeGreaterThan(Date.now() - 60_000);
      expect(next * 1000).toBeLessThanOrEqual(Date.now() + 6 * 3600_000 + 60_000);
    });

    it('moves with SOAP requests: answers, faults and refusals', async () => {
      const ok = { operation: 'GetLicensorCertificate', endpoint: SLC_ENDPOINT, result: 'ok' };
      const before = (await get(`${base}/metrics`, admin)).text;
      expect((await getSlc(base)).status).toBe(200);
      expect((await getSlc(base)).status).toBe(200);
      const fault = await getSlc(base, { withVersion: false });
      expect(fault.status).toBe(500);
      expect((await getSlc(base, { auth: null })).status).toBe(401);
      // A made-up SOAPAction from a caller without credentials must not become a label.
      expect((await getSlc(base, { auth: null, action: `${SERVER_NS}/Invented${randomBytes(4).toString('hex')}` })).status).toBe(401);
      const after = (await get(`${base}/metrics`, admin)).text;

      const MALFORMED = 'Microsoft.DigitalRightsManagement.Core.MalformedDataVersionException';
      const delta = (name: string, labels: Record<string, string> = {}) => (sample(after, name, labels) ?? 0) - (sample(before, name, labels) ?? 0);
      expect(delta('openrms_requests_total', ok)).toBe(2);
      expect(delta('openrms_faults_total', { operation: 'GetLicensorCertificate', fault: MALFORMED })).toBe(1);
      expect(delta('openrms_requests_total', { operation: 'GetLicensorCertificate', endpoint: SLC_ENDPOINT, result: MALFORMED })).toBe(1);
      expect(delta('openrms_requests_total', { operation: 'GetLicensorCertificate', endpoint: SLC_ENDPOINT, result: 'http_401' })).toBe(1);
      expect(delta('openrms_requests_total', { operation: 'unknown', endpoint: SLC_ENDPOINT, result: 'http_401' })).toBe(1);
      expect(after).not.toMatch(/Invented[0-9a-f]{8}/);
      expect(delta('openrms_request_duration_seconds_count', { operation: 'GetLicensorCertificate' })).toBe(4);
      expect(delta('openrms_request_duration_seconds_bucket', { operation: 'GetLicensorCertificate', le: '5' })).toBe(4);
      // Refusals are counted as requests, not as faults.
      expect(after.split('\n').filter((l) => l.startsWith('openrms_faults_total{') && l.includes('http_'))).toEqual([]);
    });

    it('reports the last SLC renewal the renewal job recorded', async () => {
      const store = await openStore(m.db.url, { migrate: false });
      try {
        const at = new Date(Date.now() - 3600_000);
        await store.settings.set(SETTINGS.slcLastRenewal, { at: at.toISOString(), validUntil: new Date(Date.now() + 365 * 86400_000).toISOString() });
        const t = (await get(`${base}/metrics`, { authorization: `Bearer ${TOKEN}` })).text;
        expect(sample(t, 'openrms_slc_last_renewal_timestamp_seconds')).toBe(at.getTime() / 1000);
      } finally {
        await store.close();
      }
    });
  });

  describe('queue dashboard', () => {
    const DASH = '/_wmcs/admin/queues';

    it('serves bull-board and its API to administrators only', async () => {
      const page = await get(`${base}${DASH}`, admin);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.text).toContain(`<base href="${DASH}/"`);
      expect(page.text).toContain('OpenRMS queues');
      expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
      expect(page.headers.get('x-powered-by')).toBeNull();
      // The board's own assets, from the installed package: no network needed.
      const script = /src="(static\/js\/main\.[^"]+\.js)"/.exec(page.text)![1]!;
      const asset = await get(`${base}${DASH}/${script}`, admin);
      expect(asset.status).toBe(200);
      expect(asset.headers.get('content-type')).toMatch(/javascript/);

      const apiRes = await get(`${base}${DASH}/api/queues`, admin);
      expect(apiRes.status).toBe(200);
      const body = JSON.parse(apiRes.text) as { queues: { name: string; counts: Record<string, number> }[] };
      expect(body.queues.map((q) => q.name).sort()).toEqual(Object.values(QUEUES).sort());
      expect(body.queues.find((q) => q.name === QUEUES.expiry)!.counts.failed).toBe(2);

      for (const path of [DASH, `${DASH}/api/queues`, `${DASH}/${script}`]) {
        const anon = await get(`${base}${path}`);
        expect(anon.status).toBe(401);
        expect(anon.headers.get('www-authenticate')).toMatch(/^Basic /);
        const bob = await get(`${base}${path}`, { authorization: basic(BOB) });
        expect(bob.status).toBe(403);
        expect(bob.text).not.toContain(QUEUES.expiry);
        expect((await get(`${base}${path}`, { authorization: `Bearer ${TOKEN}` })).status).toBe(401);
      }
    });

    it('refuses a change an administrator\'s browser was made to send from another site', async () => {
      const res = await fetch(`${base}${DASH}/api/queues/${QUEUES.expiry}/retry/failed`, {
        method: 'PUT',
        headers: { ...admin, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      });
      expect(res.status).toBe(403);
      const t = (await get(`${base}/metrics`, admin)).text;
      expect(sample(t, 'openrms_queue_failed_jobs', { queue: QUEUES.expiry })).toBe(2);
    });

    const chromium = '/usr/bin/chromium';
    (existsSync(chromium) ? it : it.skip)('renders in a real browser with no way out to the network', async () => {
      const { chromium: pw } = await import('playwright-core');
      const browser = await pw.launch({ executablePath: chromium, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
      try {
        const context = await browser.newContext({ httpCredentials: { username: ADMIN.name, password: ADMIN.password } });
        const page = await context.newPage();
        const outside: string[] = [];
        await page.route('**/*', (route) => {
          const u = new URL(route.request().url());
          if (u.origin !== base) {
            outside.push(u.href);
            return route.abort();
          }
          return route.continue();
        });
        const cspErrors: string[] = [];
        page.on('console', (msg) => {
          if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text()) && !/fonts\.googleapis/.test(msg.text())) cspErrors.push(msg.text());
        });
        await page.goto(`${base}${DASH}`, { timeout: 20_000 });
        await page.getByText(QUEUES.expiry).first().waitFor({ timeout: 20_000 });
        expect(await page.content()).toContain(QUEUES.slcRenewal);
        expect(cspErrors).toEqual([]);
        // The stylesheet bull-board links from Google Fonts is stopped by the CSP before any request.
        expect(outside).toEqual([]);
        // The board's own pages may change the queues (same origin), unlike the cross-site request above.
        const status = await page.evaluate(async (q) => (await fetch(`api/queues/${q}/retry/failed`, { method: 'PUT' })).status, QUEUES.expiry);
        expect(status).toBeLessThan(300);
        const t = (await get(`${base}/metrics`, admin)).text;
        expect(sample(t, 'openrms_queue_failed_jobs', { queue: QUEUES.expiry })).toBe(0);
      } finally {
        await browser.close();
      }
    }, 60_000);
  });

  it('/readyz checks Redis; /healthz stays a plain liveness check', async () => {
    // Probes answer the last settled check: wait for one that saw Redis (a loaded machine may time one out).
    let ready = await get(`${base}/readyz`);
    for (let i = 0; i < 100 && JSON.parse(ready.text).checks.redis !== 'ok'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      ready = await get(`${base}/readyz`);
    }
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text).checks).toMatchObject({ database: 'ok', redis: 'ok' });
    const health = await get(`${base}/healthz`);
    expect(JSON.parse(health.text)).toEqual({ status: 'ok' });
  });

  it('logs each request with its request id, never credentials', async () => {
    const r = await getSlc(base);
    const id = r.headers.get('x-request-id')!;
    await get(`${base}/metrics`, { authorization: `Bearer ${TOKEN}` });
    await get(`${base}/metrics`, { authorization: basic({ ...ADMIN, password: 'not-the-password-42' }) });
    await getSlc(base, { auth: { ...BOB, password: 'another-wrong-password-7' } });
    await new Promise((res) => setTimeout(res, 100));
    const lines = m.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    const line = lines.find((l) => l.msg === 'request' && l.requestId === id);
    expect(line).toMatchObject({ method: 'POST', path: SLC_ENDPOINT, status: 200, user: ADMIN.name, operation: 'GetLicensorCertificate', result: 'ok' });
    // Every per-request line carries a request id.
    const requestLines = lines.filter((l) => l.msg === 'request');
    expect(requestLines.length).toBeGreaterThan(10);
    for (const l of requestLines) expect(l.requestId).toMatch(/^[0-9a-f-]{36}$/);
    // The same id is in the request log table.
    await m.server.runtime.requestLog.flush();
    const store = await openStore(m.db.url, { migrate: false });
    try {
      const rows = await store.requestLog.tail(50);
      expect(rows.find((row) => row.requestId === id)).toMatchObject({ operation: 'GetLicensorCertificate', result: 'ok' });
    } finally {
      await store.close();
    }
    const all = m.logs.join('\n');
    for (const secret of [ADMIN.password, BOB.password, 'not-the-password-42', 'another-wrong-password-7', TOKEN, basic(ADMIN).slice(6), 'Basic ', 'Bearer ']) {
      expect(all).not.toContain(secret);
    }
    expect(all).not.toMatch(/authorization/i);
  });
});

describe('a member whose Redis is unreachable', () => {
  let m: Member;
  let deadUrl: string;

  beforeAll(async () => {
    // A port nothing listens on: connections are refused at once.
    deadUrl = `redis://127.0.0.1:${await freePort()}`;
    m = await startMember({ queues: { redisUrl: deadUrl, prefix: PREFIX } });
  });
  afterAll(async () => {
    await m?.server.close();
    m?.db.dispose();
  });

  it('stays ready (licensing needs no Redis) and reports Redis as degraded', async () => {
    const ready = await get(`${m.server.url}/readyz`);
    expect(ready.status).toBe(200);
    const body = JSON.parse(ready.text);
    expect(body.status).toBe('ready');
    expect(body.degraded).toEqual(['redis']);
    expect(body.checks).toMatchObject({ database: 'ok', redis: 'unreachable' });
    expect((await get(`${m.server.url}/healthz`)).status).toBe(200);
  });

  it('still serves /metrics at once, with Redis reported down and no stale queue figures', async () => {
    const started = Date.now();
    const r = await get(`${m.server.url}/metrics`, { authorization: basic(ADMIN) });
    // Not held up by Redis reconnect attempts (those would take minutes); generous for a loaded machine.
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(r.status).toBe(200);
    expect(sample(r.text, 'openrms_redis_up')).toBe(0);
    expect(sample(r.text, 'openrms_queue_jobs', { queue: QUEUES.expiry, state: 'failed' })).toBeUndefined();
    expect(sample(r.text, 'openrms_slc_expiry_seconds')).toBeGreaterThan(0);
  });

  it('answers the dashboard with 503 instead of hanging', async () => {
    const r = await get(`${m.server.url}/_wmcs/admin/queues`, { authorization: basic(ADMIN) });
    expect(r.status).toBe(503);
    expect(r.text).toContain('unreachable');
    expect((await get(`${m.server.url}/_wmcs/admin/queues/api/queues`, { authorization: basic(ADMIN) })).status).toBe(503);
    expect((await get(`${m.server.url}/_wmcs/admin/queues`)).status).toBe(401);
  });
});

describe('a member without Redis', () => {
  let m: Member;
  beforeAll(async () => {
    m = await startMember({});
  });
  afterAll(async () => {
    await m?.server.close();
    m?.db.dispose();
  });

  it('says that jobs run in-process, to administrators only, and has no Redis readiness check', async () => {
    const page = await get(`${m.server.url}/_wmcs/admin/queues`, { authorization: basic(ADMIN) });
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/run in-process/);
    expect((await get(`${m.server.url}/_wmcs/admin/queues`, { authorization: basic(BOB) })).status).toBe(403);
    expect((await get(`${m.server.url}/_wmcs/admin/queues`)).status).toBe(401);
    expect((await get(`${m.server.url}/_wmcs/admin/queues/api/queues`, { authorization: basic(ADMIN) })).status).toBe(404);
    const ready = await get(`${m.server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text).checks.redis).toBeUndefined();
    // Without a configured token, a bearer gets nothing.
    expect((await get(`${m.server.url}/metrics`, { authorization: `Bearer ${TOKEN}` })).status).toBe(401);
    const t = (await get(`${m.server.url}/metrics`, { authorization: basic(ADMIN) })).text;
    expect(t).not.toContain('openrms_queue_jobs');
  });
});
