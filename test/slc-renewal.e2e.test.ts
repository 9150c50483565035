import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseProtectedFile, RmsClient } from '@openrms/client';
import { DAY_MS, endpointPath, fixedClock, newId, parseGrantSpec } from '@openrms/domain';
import { provisionRootCluster, renewSlcIfDue } from '@openrms/issuance';
import { closeRedis, connectWorkerRedis, obliterateQueues, QUEUES, readJobOutcomes, type JobOutcome, type RedisConnection } from '@openrms/jobs';
import type { RunningServer } from '@openrms/server';
import { ClusterClient } from '@openrms/soap';
import { openStore, type Store } from '@openrms/store';
import { parseXrml, readCertificate, verifyChain, verifyXrmlSignature } from '@openrms/xrml';
import { addPeople, freePort, KEY_PASSWORD, person, provisionLicensing, startMember } from './support/clusters';
import { postgresDatabase, sqliteDatabase, tempDir, type TestDatabase } from './support/databases';
import { background, REPO, TSX_BIN, type Background } from './support/processes';
import { envelope, postSoap, versionData } from './support/soap-client';

const REDIS = 'redis://127.0.0.1:6379';
const PREFIX = `openrms-e2e-renewal-${randomBytes(4).toString('hex')}`;
const LIC_NS = 'http://microsoft.com/DRM/LicensingService';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a value (bounded). */
async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 30_000, every = 100): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}

describe('SLC renewal of a licensing-only cluster by worker processes', () => {
  let rootDb: TestDatabase;
  let licDb: TestDatabase;
  let root: RunningServer;
  let lic: RunningServer;
  let rootPort: number;
  let rootStore: Store;
  let licStore: Store;
  let redis: RedisConnection;
  let clusterId: string;
  /** The short-lived chain the licensing cluster got at provisioning (the root's SLC then ended in 15 days). */
  let shortChainId: string;
  let acquireBody: string;
  let protectedFile: Buffer;
  let earlierUl: string;
  const workers: Background[] = [];
  const enroller = person('enroller');
  const alice = person('alice');
  const bob = person('bob');
  const clientState = tempDir('renewal-client');
  const client = (p: typeof alice) => new RmsClient({ serverUrl: lic.url, user: p.name, password: p.password, stateDir: clientState });
  const rootEnv = () => ({ RMS_REDIS_URL: REDIS, RMS_QUEUE_PREFIX: `${PREFIX}-root` });

  function worker(name: string, prefix: string, env: Record<string, string> = {}): Background {
    const w = background(
      TSX_BIN,
      [path.join(REPO, 'apps/cli/src/main.ts'), 'worker', '--database', licDb.url, '--redis', REDIS, '--key-password-env', 'KP', '--prefix', prefix, '--name', name],
      { env: { KP: KEY_PASSWORD, RMS_LOG_LEVEL: 'info', RMS_SLC_RENEWAL_EVERY: '1h', RMS_EXPIRY_SWEEP_EVERY: '1h', ...env } },
    );
    workers.push(w);
    return w;
  }

  /**
   * SIGTERM to the worker itself (the whole group: tsx and rmsctl only relay), then its own last
   * log line. The wrappers' exit codes are not asserted: tsx reports 143 when its child is slow to
   * acknowledge a relayed signal under load.
   */
  const terminate = async (w: Background) => {
    w.killGroup('SIGTERM');
    await until('the worker to stop', async () => /"msg":"worker stopped"/.test(w.output()), 15_000);
    await w.stop();
  };

  const activeChain = () => licStore.slcChains.getActive(clusterId);
  const renewAudits = async () => (await licStore.audit.list({ limit: 500 })).filter((a) => a.action === 'slc.renew').length;
  const servedLeaf = async () => (await new ClusterClient({ baseUrl: `${lic.url}/_wmcs`, credentials: bob, timeoutMs: 5000 }).getLicensorCertificate())[0];
  const renewalJobs = (prefix: string, states: JobOutcome['state'][] = ['completed', 'failed']) => readJobOutcomes({ connection: redis, prefix, queue: QUEUES.slcRenewal, states });
  /** Makes the SLC due again: the short-lived chain of provisioning becomes the active one (atomically). */
  const makeDue = async () => {
    await licStore.slcChains.activate(shortChainId);
    await lic.runtime.refresh();
  };
  const grantSubEnroll = async () => {
    const s = await openStore(rootDb.url);
    await s.dacl.add({ id: newId(), endpoint: endpointPath('/certification/SubEnrollService.asmx'), principalId: (await s.principals.getByName('enroller')).id, right: 'Execute', effect: 'allow', createdAt: new Date(), createdBy: 'test' });
    await s.close();
    await root.runtime.refresh();
  };

  beforeAll(async () => {
    rootDb = sqliteDatabase();
    licDb = postgresDatabase();
    rootPort = await freePort();
    const licPort = await freePort();
    // The root was provisioned 350 days ago: its SLC, and so any SLC it signs now, ends in 15 days.
    const rootUrl = `http://127.0.0.1:${rootPort}`;
    await provisionRootCluster({
      databaseUrl: rootDb.url,
      clusterUrl: rootUrl,
      serviceAccount: 'root-svc',
      admin: { name: 'root-admin', password: 'root-admin-password' },
      keyPassword: KEY_PASSWORD,
      revocation: { kind: 'standard' },
      serverName: 'root-1',
      clock: fixedClock(new Date(Date.now() - 350 * DAY_MS)),
    });
    await addPeople(rootDb, [enroller, alice, bob]);
    // Jobs of the root run "elsewhere" (its Redis mode): the test renews the root's SLC itself.
    root = await startMember(rootDb, rootPort, 'root-1', rootEnv());
    await grantSubEnroll();
    const r = await provisionLicensing(licDb, licPort, `${rootUrl}/_wmcs`, enroller);
    expect(r.slc.validUntil.getTime() - Date.now()).toBeLessThan(16 * DAY_MS);
    await addPeople(licDb, [alice, bob]);
    // The member never runs jobs itself: Redis is configured.
    lic = await startMember(licDb, licPort, 'lic-1', { RMS_REDIS_URL: REDIS, RMS_QUEUE_PREFIX: PREFIX });
    licStore = await openStore(licDb.url);
    rootStore = await openStore(rootDb.url);
    clusterId = (await licStore.clusters.get()).id;
    shortChainId = (await activeChain()).id;
    redis = await connectWorkerRedis(REDIS);

    protectedFile = await client(alice).protect(Buffer.from('content protected before the renewal'), { grants: parseGrantSpec('bob@example.test:VIEW') });
    earlierUl = (await client(bob).open(protectedFile)).useLicense;
    const bobRac = (JSON.parse(readFileSync(path.join(clientState, `bob@127.0.0.1_${licPort}`, 'rac-chain.json'), 'utf8')) as string[])[0]!;
    const plChain = parseProtectedFile(protectedFile).header.plChain;
    const cert = (x: string) => `<Certificate>${x.replace('<XrML', '<XrML xmlns=""')}</Certificate>`;
    acquireBody = envelope({
      header: versionData(LIC_NS),
      body: `<AcquireLicense xmlns="${LIC_NS}"><RequestParams><AcquireLicenseParams><LicenseeCerts>${cert(bobRac)}</LicenseeCerts><IssuanceLicense>${plChain.map(cert).join('')}</IssuanceLicense></AcquireLicenseParams></RequestParams></AcquireLicense>`,
    });
  }, 60_000);

  afterAll(async () => {
    for (const w of workers) await w.stop();
    await lic?.close();
    await root?.close();
    await licStore?.close();
    await rootStore?.close();
    if (redis) {
      for (const p of [PREFIX, `${PREFIX}-root`, `${PREFIX}-down`, `${PREFIX}-refused`, `${PREFIX}-kill`, `${PREFIX}-term`]) await obliterateQueues({ connection: redis, prefix: p });
      await closeRedis(redis);
    }
    rootDb?.dispose();
    licDb?.dispose();
  });

  it('renews the SLC while a member keeps licensing: no request fails, the new chain is served within 5 s, earlier licences still verify', async () => {
    // The root renews its own SLC first; a licensing cluster cannot outlive its root.
    expect((await renewSlcIfDue(rootStore, { keyPassword: KEY_PASSWORD })).renewed).toBe(true);
    await root.runtime.refresh();

    const old = await activeChain();
    const oldLeaf = readCertificate(parseXrml(old.chain[0]!));
    const auditsBefore = await renewAudits();
    const chainsBefore = (await licStore.slcChains.list(clusterId)).length;

    // Bounded AcquireLicense traffic during the renewal, two at a time.
    const results: { at: number; status: number }[] = [];
    let stopAt = Number.POSITIVE_INFINITY;
    const traffic = async () => {
      for (let i = 0; i < 1500 && Date.now() < stopAt; i++) {
        const r = await postSoap({ url: `${lic.url}/_wmcs/licensing/license.asmx`, action: `${LIC_NS}/AcquireLicense`, auth: bob, body: acquireBody }).catch(() => ({ status: 0 }));
        results.push({ at: Date.now(), status: r.status });
        await sleep(15);
      }
    };
    const load = Promise.all([traffic(), traffic()]);

    const w = worker('w-renew', PREFIX);
    const renewed = await until('the new active chain', async () => {
      const c = await activeChain();
      return c.id !== old.id ? { chain: c, at: Date.now() } : undefined;
    }, 40_000, 50);
    const served = await until('the member serving the new chain', async () => ((await servedLeaf()) === renewed.chain.chain[0] ? Date.now() : undefined), 10_000, 100);
    stopAt = Date.now() + 1000;
    await load;

    process.stdout.write(`renewal: new chain served ${served - renewed.at} ms after commit; ${results.length} AcquireLicense requests during the swap\n`);
    // Members re-read the active chain every 5 s; allow one poll and a loaded machine on top.
    expect(served - renewed.at).toBeLessThanOrEqual(6_000);
    // Requests kept flowing through the swap (how many depends on the machine's load, not on us).
    expect(results.length).toBeGreaterThan(3);
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    expect(results.some((r) => r.at > served)).toBe(true);

    // Same key and GUID, a year more, chained to the root's renewed SLC.
    const newLeaf = readCertificate(parseXrml(renewed.chain.chain[0]!));
    expect(newLeaf.principal.id).toBe(oldLeaf.principal.id);
    expect(newLeaf.principal.publicKey.export({ format: 'pem', type: 'spki' })).toEqual(oldLeaf.principal.publicKey.export({ format: 'pem', type: 'spki' }));
    expect(newLeaf.validUntil!.getTime() - Date.now()).toBeGreaterThan(360 * DAY_MS);
    expect(renewed.chain.chain[1]).toBe(root.runtime.getLicensorCertificate()[0]);
    expect(await renewAudits()).toBe(auditsBefore + 1);
    expect((await licStore.slcChains.list(clusterId)).length).toBe(chainsBefore + 1);

    // A use licence issued under the old SLC still verifies (its chain is its own), and content opens.
    const rootKey = root.runtime.slc.principal.publicKey;
    verifyXrmlSignature(earlierUl, oldLeaf.principal.publicKey);
    verifyChain(old.chain, { trustedRootKeys: [rootKey], now: new Date() });
    expect((await client(bob).open(protectedFile)).content.toString()).toBe('content protected before the renewal');
    // A client licensor certificate got now chains to the new SLC (Alice's cached one stays valid).
    const newcomer = new RmsClient({ serverUrl: lic.url, user: alice.name, password: alice.password, stateDir: tempDir('renewal-client-2') });
    const fresh = await newcomer.protect(Buffer.from('after'), { grants: parseGrantSpec('bob@example.test:VIEW') });
    expect(parseProtectedFile(fresh).header.plChain[2]).toBe(renewed.chain.chain[0]);
    expect((await client(bob).open(fresh)).content.toString()).toBe('after');

    const jobs = await until('the completed renewal job', async () => (await renewalJobs(PREFIX)).find((j) => j.state === 'completed'));
    expect(jobs.returnValue).toMatchObject({ renewed: true, reason: 'renewed' });
    expect(jobs.processedBy).toBe('w-renew');

    await terminate(w);
  }, 60_000);

  it('retries while the root is unreachable, fails with the reason kept after the last attempt, and succeeds on a later run once the root is back', async () => {
    await makeDue();
    const prefix = `${PREFIX}-down`;
    const before = (await activeChain()).id;
    await root.close();
    const w = worker('w-down', prefix, { RMS_JOB_ATTEMPTS: '3', RMS_JOB_BACKOFF: '200ms', RMS_SLC_RENEWAL_EVERY: '2s' });
    const failed = await until('a failed renewal job', async () => (await renewalJobs(prefix, ['failed']))[0], 30_000);
    expect(failed.attemptsMade).toBe(3);
    expect(failed.failedReason).toMatch(/^Unavailable: cannot reach http:\/\/127\.0\.0\.1:\d+\/_wmcs\/certification\/server\.asmx/);
    // This job's own log lines (later ticks fail too while the root is down).
    const lines = w.output().split('\n').filter((l) => l.includes(`"jobId":"${failed.id}"`));
    expect(lines.filter((l) => l.includes('job failed; retrying with backoff'))).toHaveLength(2);
    expect(lines.filter((l) => l.includes('job failed after its last attempt'))).toHaveLength(1);
    expect((await activeChain()).id).toBe(before);

    root = await startMember(rootDb, rootPort, 'root-1', rootEnv());
    const ok = await until('a later renewal run to succeed', async () => (await renewalJobs(prefix, ['completed'])).find((j) => (j.returnValue as { renewed?: boolean })?.renewed), 20_000, 200);
    expect(ok.id).not.toBe(failed.id);
    expect((await activeChain()).id).not.toBe(before);
    await terminate(w);
  }, 60_000);

  it('fails at once, unrecoverably, when the root refuses (SubEnroll DACL revoked), keeping the reason', async () => {
    await makeDue();
    const prefix = `${PREFIX}-refused`;
    const before = (await activeChain()).id;
    const s = await openStore(rootDb.url);
    for (const e of await s.dacl.list(endpointPath('/certification/SubEnrollService.asmx'))) {
      if (e.createdBy === 'test') await s.dacl.remove(e.id);
    }
    await s.close();
    await root.runtime.refresh();
    const w = worker('w-refused', prefix, { RMS_JOB_ATTEMPTS: '5', RMS_JOB_BACKOFF: '200ms' });
    const failed = await until('the refused renewal job', async () => (await renewalJobs(prefix, ['failed']))[0], 30_000);
    expect(failed.attemptsMade).toBe(1);
    expect(failed.failedReason).toMatch(/^AccessDenied: .*UnauthorizedAccessException/);
    await w.waitFor(/retrying cannot help/, 5000);
    expect((await activeChain()).id).toBe(before);
    await terminate(w);
    await grantSubEnroll();
  }, 60_000);

  it('finishes the job of a worker killed with SIGKILL mid-job on another worker, exactly once', async () => {
    await makeDue();
    const prefix = `${PREFIX}-kill`;
    const chainsBefore = (await licStore.slcChains.list(clusterId)).length;
    const auditsBefore = await renewAudits();
    const env = { RMS_TEST_JOB_DELAY: '2s', RMS_JOB_LOCK_DURATION: '1500ms', RMS_JOB_STALLED_INTERVAL: '500ms' };
    const a = worker('w-a', prefix, env);
    const b = worker('w-b', prefix, env);
    // Whichever takes the job first is killed while it waits in the test hook.
    const first = await Promise.race([a.waitFor(/delaying the renewal job/).then(() => a), b.waitFor(/delaying the renewal job/).then(() => b)]);
    const other = first === a ? b : a;
    const otherName = first === a ? 'w-b' : 'w-a';
    first.killGroup('SIGKILL');
    await first.exited();
    const done = await until('the job to complete on the other worker', async () => (await renewalJobs(prefix, ['completed']))[0], 30_000, 200);
    expect(done.processedBy).toBe(otherName);
    expect(done.returnValue).toMatchObject({ renewed: true });
    // The survivor's stalled check took the job back from the dead worker.
    expect(other.output()).toMatch(/job taken back from a worker that stopped/);
    // Exactly once: one new chain, one audit entry, one completed job and no failed one.
    expect((await licStore.slcChains.list(clusterId)).length).toBe(chainsBefore + 1);
    expect(await renewAudits()).toBe(auditsBefore + 1);
    expect(await renewalJobs(prefix, ['failed'])).toEqual([]);
    expect(await renewalJobs(prefix, ['completed'])).toHaveLength(1);
    await terminate(other);
  }, 60_000);

  it('on SIGTERM mid-job, finishes the running job before it exits', async () => {
    await makeDue();
    const prefix = `${PREFIX}-term`;
    const before = (await activeChain()).id;
    const w = worker('w-term', prefix, { RMS_TEST_JOB_DELAY: '1500ms' });
    await w.waitFor(/delaying the renewal job/);
    await terminate(w);
    const out = w.output();
    expect(out.indexOf('"msg":"shutting down: finishing the running job first"')).toBeGreaterThan(-1);
    expect(out.indexOf('"msg":"SLC renewed"')).toBeGreaterThan(out.indexOf('shutting down'));
    expect(out.indexOf('"msg":"worker stopped"')).toBeGreaterThan(out.indexOf('"msg":"SLC renewed"'));
    expect((await activeChain()).id).not.toBe(before);
    expect((await renewalJobs(prefix, ['completed']))[0]).toMatchObject({ processedBy: 'w-term', returnValue: { renewed: true } });
  }, 60_000);
});
