import { type ChildProcess, spawn } from 'node:child_process';
import { openStore, type Store } from '@openrms/store';
import { postgresDatabase, tempDir, type TestDatabase } from './support/databases';
import {
  acquireLicense,
  basicAuth,
  builtMember,
  ensureServerBuilt,
  eventually,
  type LicenceFixture,
  licensorCertificate,
  provisionForLicences,
  sample,
  scrape,
  send,
  type SentRequest,
} from './support/member-processes';
import type { Background } from './support/processes';
import { freePort } from './support/root-cluster';
import { faultString } from './support/soap-client';

/*
 * Admission control of the built server. A licence request is held "in work" without a timer: the
 * test locks the `issued` table of the member's PostgreSQL database (EXCLUSIVE: reads go on,
 * inserts wait), so the request signs its licence and then waits for the lock, on I/O, as long as
 * the test wants. Everything else is observed through /metrics, which never queues.
 */

const BUSY = /^Microsoft\.DigitalRightsManagement\.Utilities\.UnspecifiedErrorException: The server is too busy/;

/** `BEGIN; LOCK TABLE issued IN EXCLUSIVE MODE` in a psql session of its own, until `release()`. */
async function lockIssued(dbUrl: string): Promise<{ release(): Promise<void> }> {
  const psql: ChildProcess = spawn('psql', [dbUrl, '-v', 'ON_ERROR_STOP=1', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  psql.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  psql.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => psql.once('exit', () => resolve()));
  psql.stdin!.write("BEGIN; LOCK TABLE issued IN EXCLUSIVE MODE; SELECT 'locked-now';\n");
  await eventually('the lock on issued', () => out, (o) => o.includes('locked-now'), 60_000);
  return {
    async release() {
      if (psql.exitCode !== null) return;
      psql.stdin!.end('COMMIT;\n');
      await exited;
    },
  };
}

describe('admission control (built server, PostgreSQL)', () => {
  let db: TestDatabase;
  let port: number;
  let base: string;
  let people: LicenceFixture;
  let store: Store;
  let member: Background | undefined;
  let lock: { release(): Promise<void> } | undefined;

  const start = async (args: string[]) => {
    member = builtMember(['--database', db.url, '--listen', `127.0.0.1:${port}`, '--state-dir', tempDir('admission-state'), ...args]);
    await member.waitFor(/listening on http:\/\/127\.0\.0\.1:\d+/);
  };
  const gauge = async (name: string) => sample(await scrape(base), name) ?? 0;
  const rejected = async (reason: string) => sample(await scrape(base), `openrms_requests_rejected_total{reason="${reason}"}`) ?? 0;
  const admin = basicAuth('root-admin', 'root-admin-password');

  beforeAll(async () => {
    ensureServerBuilt();
    db = postgresDatabase();
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const fixture = await provisionForLicences(db, port);
    people = fixture.people;
    await start(['--workers', '1']);
    await fixture.protect(base);
    expect((await acquireLicense(base, people).answer).status).toBe(200);
    await member!.stop();
    member = undefined;
    store = await openStore(db.url);
  }, 300_000);

  afterEach(async () => {
    await lock?.release();
    lock = undefined;
    await member?.stop();
    member = undefined;
  });

  afterAll(async () => {
    await store?.close();
    db?.dispose();
  });

  it('a full queue answers 503 with Retry-After and a SOAP fault in the request’s version; a queued request whose client hung up issues nothing; health never queues', async () => {
    await start(['--workers', '1', '--admission-concurrency', '1', '--admission-queue', '1', '--admission-wait', '60s']);
    const before = await store.issued.count({ kind: 'UL' });
    lock = await lockIssued(db.url);
    // The first licence request is in work (its licence signed, its insert waiting for the lock) …
    const first = acquireLicense(base, people);
    await eventually('one request in work', () => gauge('openrms_requests_in_flight'), (n) => n === 1);
    // … the second waits in the queue.
    const second: SentRequest = acquireLicense(base, people);
    await eventually('one request queued', () => gauge('openrms_requests_queued'), (n) => n === 1);

    // Health, readiness and metrics answer while the member is saturated.
    expect((await send(base, { path: '/healthz' }).answer).status).toBe(200);
    const ready = await send(base, { path: '/readyz' }).answer;
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text)).toMatchObject({ status: 'ready' });

    // Anything more is turned away at once, in its own SOAP version.
    const soap12 = await licensorCertificate(base, admin, '1.2').answer;
    expect(soap12.status).toBe(503);
    expect(soap12.headers['retry-after']).toBe('60');
    expect(soap12.headers['content-type']).toMatch(/^application\/soap\+xml/);
    expect(soap12.text).toMatch(/<soap:Value>soap:Receiver<\/soap:Value>/);
    expect(faultString(soap12.text)).toMatch(BUSY);
    const soap11 = await licensorCertificate(base, admin, '1.1').answer;
    expect(soap11.status).toBe(503);
    expect(soap11.headers['retry-after']).toBe('60');
    expect(soap11.headers['content-type']).toMatch(/^text\/xml/);
    expect(soap11.text).toMatch(/<faultcode>soap:Server<\/faultcode>/);
    expect(faultString(soap11.text)).toMatch(BUSY);
    expect(await rejected('queue_full')).toBe(2);

    // The queued client hangs up: it leaves the queue and is never worked on.
    second.destroy();
    await eventually('the hung-up request dropped', () => rejected('client_gone'), (n) => n === 1);
    expect(await gauge('openrms_requests_queued')).toBe(0);

    await lock.release();
    const answered = await first.answer;
    expect(answered.status).toBe(200);
    expect(answered.text).toMatch(/AcquireLicenseResponse/);
    await expect(second.answer).rejects.toThrow();
    // Exactly one licence: the first request's.
    expect((await store.issued.count({ kind: 'UL' })) - before).toBe(1);
    // The request log says the hung-up request was never worked on; requests shed at the door are only counted.
    await eventually('the request log row of the hung-up request', async () => (await store.requestLog.tail(50)).filter((r) => r.operation === 'AcquireLicense' && r.result === 'client gone').length, (n) => n === 1);
    const metrics = await scrape(base);
    expect(sample(metrics, 'openrms_requests_total{operation="GetLicensorCertificate",endpoint="/_wmcs/licensing/server.asmx",result="http_503"}')).toBe(2);
    expect(sample(metrics, 'openrms_requests_in_flight')).toBe(0);
  }, 300_000);

  it('a request that waits longer than admission-wait is answered 503 with Retry-After', async () => {
    await start(['--workers', '1', '--admission-concurrency', '1', '--admission-queue', '4', '--admission-wait', '300ms']);
    lock = await lockIssued(db.url);
    const first = acquireLicense(base, people);
    await eventually('one request in work', () => gauge('openrms_requests_in_flight'), (n) => n === 1);
    const waited = await licensorCertificate(base, admin).answer;
    expect(waited.status).toBe(503);
    expect(waited.headers['retry-after']).toBe('1');
    expect(faultString(waited.text)).toMatch(BUSY);
    expect(await rejected('wait_timeout')).toBe(1);
    expect(await rejected('queue_full')).toBe(0);
    await lock.release();
    expect((await first.answer).status).toBe(200);
    // The member is free again: the same request is served.
    expect((await licensorCertificate(base, admin).answer).status).toBe(200);
  }, 300_000);

  it('with both workers saturated, /healthz and /readyz still answer and SOAP requests get 503', async () => {
    await start(['--workers', '2', '--admission-concurrency', '1', '--admission-queue', '0']);
    lock = await lockIssued(db.url);
    // Licence requests on connections of their own until each worker holds one in work (the others get 503).
    const held: SentRequest[] = [];
    await eventually(
      'both workers busy',
      async () => {
        held.push(acquireLicense(base, people));
        return gauge('openrms_requests_in_flight');
      },
      (n) => n === 2,
    );
    for (let i = 0; i < 5; i++) {
      expect((await send(base, { path: '/healthz' }).answer).status).toBe(200);
      const ready = await send(base, { path: '/readyz' }).answer;
      expect(ready.status).toBe(200);
      expect(JSON.parse(ready.text)).toMatchObject({ status: 'ready' });
      const busy = await licensorCertificate(base, admin).answer;
      expect(busy.status).toBe(503);
      expect(faultString(busy.text)).toMatch(BUSY);
    }
    await lock.release();
    const answers = await Promise.all(held.map((h) => h.answer));
    // Two were worked on; any other was turned away at once.
    expect(answers.filter((a) => a.status === 200)).toHaveLength(2);
    expect(answers.filter((a) => a.status !== 200).map((a) => a.status)).toEqual(answers.filter((a) => a.status !== 200).map(() => 503));
  }, 300_000);
});
