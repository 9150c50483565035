import { sqliteDatabase, tempDir, type TestDatabase } from './support/databases';
import {
  basicAuth,
  builtMember,
  childrenOf,
  ensureServerBuilt,
  eventually,
  isAlive,
  LICENSOR_PATH,
  licensorCertificate,
  provisionForLicences,
  acquireLicense,
  sample,
  scrape,
  send,
  startedRequest,
  refusesConnections,
} from './support/member-processes';
import type { Background } from './support/processes';
import { freePort } from './support/root-cluster';
import { SERVER_NS } from './support/soap-client';

/*
 * `serve --workers 2` of the built server: one supervisor and two serving processes sharing the
 * port. A worker killed outright is replaced and the member serves on; SIGTERM drains every worker;
 * /metrics is the whole member's, whichever worker answers the scrape.
 */

const ADMIN = basicAuth('root-admin', 'root-admin-password');
const OK_SERIES = `openrms_requests_total{operation="GetLicensorCertificate",endpoint="${LICENSOR_PATH}",result="ok"}`;

/** Request lines each worker logged for GetLicensorCertificate (a worker's log lines carry its slot). */
function servedBy(output: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of output.split('\n')) {
    if (!line.includes('"msg":"request"') || !line.includes('"operation":"GetLicensorCertificate"')) continue;
    const w = /"worker":(\d+)/.exec(line)?.[1] ?? 'none';
    out[w] = (out[w] ?? 0) + 1;
  }
  return out;
}

/** A GetServerInfo the server has provably started on (member-processes' startedRequest). */
function startedServerInfo(port: number) {
  return startedRequest(port, {
    path: LICENSOR_PATH,
    headers: [`Authorization: ${ADMIN}`, 'Content-Type: text/xml; charset=utf-8', `SOAPAction: "${SERVER_NS}/GetServerInfo"`],
    body: `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetServerInfo xmlns="${SERVER_NS}"><requests><ServerInfoRequest><Type>VersionInfo</Type></ServerInfoRequest></requests></GetServerInfo></soap:Body></soap:Envelope>`,
  });
}

describe('serve --workers 2 (built server: a supervisor and two serving processes)', () => {
  let db: TestDatabase;
  let port: number;
  let base: string;
  let member: Background | undefined;
  let licences: Awaited<ReturnType<typeof provisionForLicences>>;

  beforeAll(async () => {
    ensureServerBuilt();
    db = sqliteDatabase();
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    licences = await provisionForLicences(db, port);
  }, 300_000);

  afterEach(async () => {
    await member?.stop();
    member = undefined;
  });

  afterAll(() => db?.dispose());

  const start = async (extra: string[] = []) => {
    member = builtMember(['--database', db.url, '--listen', `127.0.0.1:${port}`, '--state-dir', tempDir('workers-state'), '--server-name', 'w1', ...extra]);
    await member.waitFor(/listening on http:\/\/127\.0\.0\.1:\d+/);
    const workers = childrenOf(member.child.pid!);
    expect(workers).toHaveLength(2);
    return { supervisor: member, workers };
  };

  it('sums /metrics over both workers, whichever answers the scrape', async () => {
    const { supervisor } = await start(['--workers', '2']);
    const metrics = await scrape(base);
    expect(sample(metrics, 'openrms_workers')).toBe(2);
    expect(sample(metrics, 'openrms_worker_restarts_total')).toBe(0);
    // Each request on a connection of its own, until both workers have answered some.
    let sent = 0;
    await eventually(
      'both workers to have served requests',
      async () => {
        const r = await licensorCertificate(base, ADMIN).answer;
        expect(r.status).toBe(200);
        sent += 1;
        return servedBy(supervisor.output());
      },
      (by) => (by['0'] ?? 0) > 0 && (by['1'] ?? 0) > 0,
    );
    const by = await eventually('every request logged', () => servedBy(supervisor.output()), (b) => (b['0'] ?? 0) + (b['1'] ?? 0) === sent);
    expect(by.none).toBeUndefined();
    // Every scrape, on whichever worker it lands, counts the requests of both.
    for (let i = 0; i < 4; i++) expect(sample(await scrape(base), OK_SERIES)).toBe(sent);
    process.stdout.write(`workers test: ${sent} requests, served by worker 0: ${by['0']}, worker 1: ${by['1']}\n`);
  }, 300_000);

  it('replaces a worker killed with SIGKILL, and every request after the replacement succeeds', async () => {
    const { supervisor, workers } = await start(['--workers', '2']);
    const victim = workers[0]!;
    process.kill(victim, 'SIGKILL');
    await supervisor.waitFor(/"signal":"SIGKILL".*worker process exited; starting another/);
    await supervisor.waitFor(/worker process started again and serving/);
    expect(isAlive(victim)).toBe(false);
    const now = childrenOf(supervisor.child.pid!);
    expect(now).toHaveLength(2);
    expect(now).not.toContain(victim);
    const metrics = await scrape(base);
    expect(sample(metrics, 'openrms_worker_restarts_total')).toBe(1);
    expect(sample(metrics, 'openrms_workers')).toBe(2);
    const answers = await Promise.all(Array.from({ length: 24 }, () => licensorCertificate(base, ADMIN).answer));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    for (const a of answers) expect(a.text).toMatch(/GetLicensorCertificateResponse/);
    expect((await send(base, { path: '/readyz' }).answer).status).toBe(200);
  }, 300_000);

  it('SIGTERM: every worker stops accepting, answers the requests in flight, and the member exits 0', async () => {
    const { supervisor, workers } = await start(['--workers', '2']);
    // In flight when the signal comes: headers parsed (100 Continue), bodies only after it.
    const inFlight = await Promise.all(Array.from({ length: 8 }, () => startedServerInfo(port)));
    supervisor.child.kill('SIGTERM');
    await supervisor.waitFor(/"msg":"shutting down"/);
    expect(await refusesConnections(port)).toBe(true);
    for (const r of inFlight) r.send();
    const settled = await Promise.allSettled(inFlight.map((r) => r.answer));
    const statuses = settled.map((r) => (r.status === 'fulfilled' ? r.value.split('\r\n')[0] : String(r.reason)));
    expect(statuses).toEqual(settled.map(() => 'HTTP/1.1 200 OK'));
    for (const r of settled) expect(r.status === 'fulfilled' && r.value).toMatch(/GetServerInfoResponse/);
    expect(await supervisor.exited()).toBe(0);
    expect(supervisor.output()).toMatch(/"msg":"stopped"/);
    for (const w of workers) expect(isAlive(w)).toBe(false);
  }, 300_000);

  it('counts verified-document cache hits in /metrics; a one-byte tampered copy misses and is refused', async () => {
    member = builtMember(['--database', db.url, '--listen', `127.0.0.1:${port}`, '--state-dir', tempDir('workers-state')], { RMS_WORKERS: '1' });
    await member.waitFor(/listening on http:\/\/127\.0\.0\.1:\d+/);
    await licences.protect(base);
    const hits = (t: string) => sample(t, 'openrms_verified_cache_lookups_total{result="hit"}') ?? 0;
    const misses = (t: string) => sample(t, 'openrms_verified_cache_lookups_total{result="miss"}') ?? 0;
    const first = await acquireLicense(base, licences.people).answer;
    expect(first.status).toBe(200);
    const afterFirst = await scrape(base);
    expect(sample(afterFirst, 'openrms_verified_cache_entries')).toBeGreaterThan(0);
    // The same RAC and PL chain again: every document comes from the cache.
    expect((await acquireLicense(base, licences.people).answer).status).toBe(200);
    const afterSecond = await scrape(base);
    expect(hits(afterSecond)).toBeGreaterThan(hits(afterFirst));
    expect(misses(afterSecond)).toBe(misses(afterFirst));
    // One byte of the RAC's signed body changed: not the cached document, and its signature fails.
    const body = licences.people.licenseBody;
    const at = body.indexOf('<ISSUEDTIME>') + '<ISSUEDTIME>'.length + 3;
    const tampered = { ...licences.people, licenseBody: body.slice(0, at) + (body[at] === '1' ? '2' : '1') + body.slice(at + 1) };
    const refused = await acquireLicense(base, tampered).answer;
    expect(refused.text).toContain('InvalidPersonaCertSignatureException');
    expect(misses(await scrape(base))).toBeGreaterThan(misses(afterSecond));
  }, 300_000);

  it('RMS_WORKERS=1 is one process, as before', async () => {
    member = builtMember(['--database', db.url, '--listen', `127.0.0.1:${port}`, '--state-dir', tempDir('workers-state')], { RMS_WORKERS: '1' });
    await member.waitFor(/listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(childrenOf(member.child.pid!)).toEqual([]);
    expect((await licensorCertificate(base, ADMIN).answer).status).toBe(200);
    expect(sample(await scrape(base), 'openrms_workers')).toBeUndefined();
  }, 300_000);
});
