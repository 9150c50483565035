/**
 * `pnpm bench` (`--json` to print the results as JSON too): how fast the release build of one
 * OpenRMS cluster member issues use licences and RACs on loopback, beside the machine's raw
 * RSA-2048 signing rate measured in the same run, and how two members behind HAProxy compare with
 * one. It prints figures, ratios and the figures the project aims for, never pass/fail.
 * Environment (docs/performance.md): BENCH_SECONDS, BENCH_CONNECTIONS, BENCH_MAX_REQUESTS,
 * BENCH_MIXES, BENCH_WORKERS, BENCH_COLD_PLS, BENCH_HAPROXY_CONNECTIONS, BENCH_KEY_PROTECTION,
 * BENCH_BUILD. Everything it creates (SQLite file, client state, server and HAProxy processes) is
 * removed when it ends, also on Ctrl-C or an error.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { RmsClient } from '@openrms/client';
import { parseGrantSpec } from '@openrms/domain';
import { clusterStatus } from '@openrms/issuance';
import { measureBreakdown, totalMs, type Breakdown } from './bench/breakdown';
import { ensureBuilt } from './bench/build';
import { keyProtectionFromEnv, provisionBenchCluster, type BenchCluster } from './bench/cluster';
import { ColdPlPool } from './bench/cold-pls';
import { cpuWindow } from './bench/cpu';
import { freePort } from './bench/free-port';
import { haproxyAvailable, startHaproxy, type Haproxy } from './bench/haproxy';
import { measureLoad, stopLoad, waitForIdle, type LoadRow, type LoadTarget } from './bench/load';
import { describeMachine } from './bench/machine';
import { metricsDelta, readMetrics, type MetricsDelta, type MetricsSnapshot } from './bench/metrics';
import type { RssPeaks } from './bench/process-group';
import { measureRawRsa, type RawRsaRate } from './bench/raw-rsa';
import { fixed, grouped, percent, table } from './bench/report';
import { acquireLicenseRequest, certifyRequest, checkOnce, plChainOf, readUserMaterial, type BenchRequest } from './bench/requests';
import { startServerProcess, type ServerProcess } from './bench/server-process';
import { whatToReach, WHAT_TO_REACH } from './bench/targets';

const RAW_RSA_MS = 3000;
const WARMUP_SECONDS = 1;
/** Above this, a measurement shared the machine with other work worth mentioning. */
const DISTURBED_CORES = 0.25;
const MB = 1024 * 1024;

const MIXES = {
  warm: 'AcquireLicense warm',
  cold: 'AcquireLicense cold',
  certify: 'Certify warm',
} as const;
type MixKey = keyof typeof MIXES;

function envInt(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer from ${min} to ${max}, not "${raw}"`);
  return n;
}

function envList<T>(name: string, fallback: T[], parse: (s: string) => T | undefined, what: string): T[] {
  const raw = process.env[name];
  if (!raw) return fallback;
  const list = raw.split(',').map((s) => parse(s.trim()));
  if (list.length === 0 || list.some((x) => x === undefined)) throw new Error(`${name} must be a comma-separated list of ${what}, not "${raw}"`);
  return list as T[];
}

const progress = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

/** Cleanup that runs once, whether the run ends, fails or is interrupted; newest first. */
const servers: ServerProcess[] = [];
const balancers = new Set<Haproxy>();
const closers: (() => Promise<unknown>)[] = [];
let workDir: string | undefined;
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    stopLoad();
    for (const h of balancers) await h.stop().catch(() => undefined);
    for (const close of closers.reverse()) await close().catch(() => undefined);
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  })();
  return cleaning;
}
// `on`, not `once`: Ctrl-C reaches this process twice (from the terminal, and relayed by tsx), and
// a second signal without a listener would kill it before the cleanup is done.
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    progress(`${sig}: stopping the servers and removing temporary files`);
    void cleanup().finally(() => process.exit(130));
  });
}
// Last resort if the process exits without the async cleanup (an uncaught error, say).
process.once('exit', () => {
  for (const s of servers) s.kill();
  for (const h of balancers) h.child.kill('SIGKILL');
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

function checkInterrupted(): void {
  if (interrupted) throw new Error('interrupted');
}

interface Row extends LoadRow {
  /** okPerSecond ÷ raw RSA-2048 signs/s on all cores (filled in once the raw rate is measured). */
  ratioAllCores?: number;
  /** Worker processes of the member during the row (0: one process). */
  workerProcesses: number;
  rssWorkerMaxMB: number | undefined;
  rssSupervisorMaxMB: number | undefined;
  metrics: MetricsDelta;
  /** Successes the member counted minus answers the load generator received: work for clients that had gone. */
  issuedClientGone: number | undefined;
  /** Cold mix: distinct PLs this row could use. */
  coldPls?: number;
}

interface HaproxyRow extends LoadRow {
  members: number;
  /** CPU cores each member used (measured part and its drain), and HAProxy. */
  memberCores: number[];
  haproxyCores: number | undefined;
  /** CPU ms per 2xx of all members together. */
  membersCpuMsPerOk: number | undefined;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const wantJson = args.includes('--json');
  const unknown = args.filter((a) => a !== '--json');
  if (unknown.length) throw new Error(`unknown argument(s): ${unknown.join(' ')} (only --json)`);
  const seconds = envInt('BENCH_SECONDS', 8, 1, 120);
  const maxRequests = envInt('BENCH_MAX_REQUESTS', 100_000, 1, 10_000_000);
  const connections = envList('BENCH_CONNECTIONS', [1, 16, 64, 256], (s) => (/^\d+$/.test(s) && +s >= 1 && +s <= 1024 ? +s : undefined), 'integers from 1 to 1024');
  const mixes = envList<MixKey>('BENCH_MIXES', ['warm', 'cold', 'certify'], (s) => (s in MIXES ? (s as MixKey) : undefined), 'warm, cold, certify');
  const cores = availableParallelism();
  const workers = envInt('BENCH_WORKERS', cores, 1, 256);
  const coldCap = envInt('BENCH_COLD_PLS', 2000, 10, 100_000);
  const haproxyConnections = envInt('BENCH_HAPROXY_CONNECTIONS', 64, 0, 1024);
  const keyProtection = keyProtectionFromEnv(process.env.BENCH_KEY_PROTECTION);
  const build = process.env.BENCH_BUILD !== '0';
  const machine = describeMachine();
  const startedAt = new Date();

  // ---- 0. the release build, rebuilt when missing or older than the sources
  if (build) ensureBuilt(progress);

  // ---- 1. a root cluster on a temporary SQLite file, at a free loopback port
  workDir = mkdtempSync(path.join(tmpdir(), 'openrms-bench-'));
  const port = await freePort();
  progress(`provisioning a root cluster (SQLite, key protection: ${keyProtection}) for http://127.0.0.1:${port}`);
  const cluster: BenchCluster = await provisionBenchCluster({ workDir, clusterUrl: `http://127.0.0.1:${port}/_wmcs`, serverName: 'bench-1', keyProtection });
  const { users, admin } = cluster;

  // ---- 2. the member, as its own process group (a supervisor and its workers, when the build has them)
  const startMember = async (name: string, listenPort: number) => {
    const s = await startServerProcess({
      databaseUrl: cluster.databaseUrl,
      listen: `127.0.0.1:${listenPort}`,
      serverName: name,
      // Its request-log spool in the work folder, so nothing of the run stays behind in the temp directory.
      args: [...cluster.serverArgs, '--state-dir', path.join(workDir!, `state-${name}`)],
      env: cluster.serverEnv,
      workers,
    });
    servers.push(s);
    closers.push(() => s.stop());
    return s;
  };
  progress(`starting member bench-1: node apps/server/dist/main.js --workers ${workers} (without --workers when the build lacks it)`);
  const server = await startMember('bench-1', port);
  const wmcs = `${server.url}/_wmcs`;

  // ---- 3. setup through the real client, then the raw requests, each checked once
  const stateDir = path.join(workDir, 'client-state');
  const content = Buffer.from('OpenRMS benchmark content\n', 'utf8');
  const alice = new RmsClient({ serverUrl: server.url, user: users.alice.name, password: users.alice.password, stateDir });
  const file = await alice.protect(content, { grants: parseGrantSpec(`${users.bob.email}:VIEW`), name: 'bench.txt' });
  const bob = new RmsClient({ serverUrl: server.url, user: users.bob.name, password: users.bob.password, stateDir });
  const opened = await bob.open(file);
  if (!opened.content.equals(content)) throw new Error('setup: bob did not get the content alice protected');
  const material = readUserMaterial(bob.stateFolder);
  const bobRac = material.racChain[0]!;
  const plChain = plChainOf(file);
  const warmAcquire = acquireLicenseRequest(wmcs, users.bob, bobRac, plChain);
  const certify = certifyRequest(wmcs, users.bob, material.spc);
  const checked = new Map<string, Awaited<ReturnType<typeof checkOnce>>>();
  for (const r of [warmAcquire, certify]) {
    const answer = await checkOnce(r, material.rootKey, users.bob.email);
    checked.set(r.name, answer);
    progress(`${r.name}: request ${grouped(Buffer.byteLength(r.body))} bytes, answer ${grouped(answer.responseBytes)} bytes, chain of ${answer.chain.length} verified`);
  }
  const workerProcesses = server.workerProcesses();
  progress(
    server.workersFlag === undefined
      ? 'this build has no --workers setting: the member is one process'
      : `the member runs ${workerProcesses} worker process(es) under a supervisor (--workers ${server.workersFlag})`,
  );

  // Cold mix: PLs the member has never seen, signed by a client's CLC (alice publishes for bob).
  let pool: ColdPlPool | undefined;
  let coldCarry: string[] = [];
  const coldRequest = (chain: string[]) => acquireLicenseRequest(wmcs, users.bob, bobRac, chain);
  if (mixes.includes('cold')) {
    progress(`starting ${cores} PL signer thread(s) (each a client certified for alice, with its own CLC)`);
    pool = await ColdPlPool.start({ serverUrl: server.url, user: users.alice.name, password: users.alice.password, ownerEmail: users.alice.email, grants: `${users.bob.email}:VIEW` });
    const p = pool;
    closers.push(() => p.close());
    await pool.fill(1);
    const answer = await checkOnce(coldRequest(pool.take()!), material.rootKey, users.bob.email);
    progress(`AcquireLicense with a new PL: answer ${grouped(answer.responseBytes)} bytes, chain of ${answer.chain.length} verified`);
  }

  // ---- 4. load: each mix at each concurrency
  const rows: Row[] = [];
  const adminCreds = { name: admin.name, password: admin.password };
  for (const mix of mixes) {
    for (const c of connections) {
      checkInterrupted();
      const label = MIXES[mix];
      const req: BenchRequest = mix === 'certify' ? certify : warmAcquire;
      let target: LoadTarget = { url: req.url, headers: req.headers, body: req.body };
      let rowMax = maxRequests;
      let warmupMax = Math.max(c, Math.ceil(maxRequests / 8));
      let coldPls: number | undefined;
      let afterRow: (() => void) | undefined;
      if (mix === 'cold') {
        // Enough new PLs for the warm rate at this concurrency (the cold rate is at most that), bounded.
        const warmRow = rows.find((r) => r.mix === MIXES.warm && r.connections === c);
        const lastCold = [...rows].reverse().find((r) => r.mix === MIXES.cold);
        const warmRate = warmRow?.okPerSecond ?? 200;
        const estimate = lastCold ? Math.min(warmRate, Math.max(lastCold.okPerSecond * 2.5, 50)) : warmRate;
        const need = Math.min(coldCap, Math.max(4 * c + 100, Math.ceil(estimate * (WARMUP_SECONDS + seconds) * 1.2) + 2 * c));
        const fromPool = Math.max(0, need - coldCarry.length);
        const t0 = performance.now();
        await pool!.fill(fromPool);
        if (fromPool > 0) progress(`signed ${grouped(fromPool)} new PLs in ${fixed((performance.now() - t0) / 1000, 1)} s`);
        const bodies = [...coldCarry];
        for (let i = 0; i < fromPool; i++) bodies.push(coldRequest(pool!.take()!).body);
        coldCarry = [];
        coldPls = bodies.length;
        let next = 0;
        target = { url: req.url, headers: req.headers, nextBody: () => (next < bodies.length ? bodies[next++] : undefined) };
        // The warm-up takes its share; the measured part ends when the rest is used (autocannon builds one ahead per connection).
        warmupMax = Math.max(c, Math.floor((bodies.length * WARMUP_SECONDS) / (WARMUP_SECONDS + seconds)));
        rowMax = Math.min(maxRequests, Math.max(c, bodies.length - warmupMax - 2 * c));
        // Whatever this row leaves unsent is still unseen: the next cold row starts with it.
        afterRow = () => {
          coldCarry = bodies.slice(next);
        };
      }
      progress(`${label}, ${c} connection(s): ${WARMUP_SECONDS} s warm-up, ${seconds} s measured${coldPls !== undefined ? ` (${grouped(coldPls)} unseen PLs for the row)` : ''}`);
      let before: MetricsSnapshot | undefined;
      let after: MetricsSnapshot | undefined;
      let stopRss: (() => RssPeaks) | undefined;
      let rss: RssPeaks | undefined;
      let workersDuring = 0;
      const load = await measureLoad({
        mix: label,
        target,
        connections: c,
        seconds,
        warmupSeconds: WARMUP_SECONDS,
        maxRequests: rowMax,
        warmupMaxRequests: warmupMax,
        serverCpu: () => server.cpuSeconds(),
        serverMainThreads: () => server.mainThreadSeconds(),
        beforeMeasure: async () => {
          before = await readMetrics(server.url, adminCreds);
          stopRss = server.sampleRss();
        },
        afterMeasure: async () => {
          workersDuring = server.workerProcesses();
          rss = stopRss?.();
          after = await readMetrics(server.url, adminCreds);
        },
      });
      afterRow?.();
      const metrics = metricsDelta(before, after, req.name);
      const row: Row = {
        ...load,
        workerProcesses: workersDuring,
        rssWorkerMaxMB: rss?.workerMaxBytes === undefined ? undefined : rss.workerMaxBytes / MB,
        rssSupervisorMaxMB: rss?.supervisorMaxBytes === undefined ? undefined : rss.supervisorMaxBytes / MB,
        metrics,
        issuedClientGone: metrics.serverOk === undefined ? undefined : Math.max(0, metrics.serverOk - load.ok),
        ...(coldPls !== undefined ? { coldPls } : {}),
      };
      rows.push(row);
      checkInterrupted();
      progress(
        `  ${fixed(row.okPerSecond, 1)}/s over ${fixed(row.seconds, 1)} s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, longest wait ${grouped(row.longestWaitMs)} ms, ` +
          `503 ${row.status503}, other non-2xx ${row.non2xx - row.status503}, errors ${row.errors}` +
          (row.serverCpuMsPerOk !== undefined ? `, server CPU ${fixed(row.serverCpuMsPerOk, 2)} ms/request` : '') +
          (row.rssWorkerMaxMB !== undefined ? `, RSS ≤ ${fixed(row.rssWorkerMaxMB, 0)} MB/worker` : '') +
          (row.metrics.cacheHitRatio !== undefined ? `, cache hits ${percent(row.metrics.cacheHitRatio, 0)}` : '') +
          (row.repeatedBodies ? `, ${row.repeatedBodies} request(s) repeated a PL (pool ran out)` : ''),
      );
    }
  }

  // ---- 5. one member vs two behind HAProxy (AcquireLicense warm)
  let haproxyRows: HaproxyRow[] = [];
  let haproxySkipped: string | undefined;
  if (haproxyConnections === 0) haproxySkipped = 'BENCH_HAPROXY_CONNECTIONS=0';
  else if (!haproxyAvailable()) haproxySkipped = 'haproxy is not installed';
  if (!haproxySkipped) {
    checkInterrupted();
    haproxyRows = await compareMembers({ cluster, first: server, firstPort: port, startMember, connections: haproxyConnections, seconds, maxRequests, req: warmAcquire });
  }

  // ---- 6. raw RSA on all cores, with the servers idle; then the per-step costs
  checkInterrupted();
  await waitForIdle(() => server.cpuSeconds());
  progress(`raw RSA-2048 signing on every core for ${RAW_RSA_MS / 1000} s (servers idle)`);
  const rawWindow = cpuWindow(() => server.cpuSeconds());
  const raw: RawRsaRate = await measureRawRsa(RAW_RSA_MS);
  const rawOther = rawWindow().otherCores;
  checkInterrupted();
  progress('per-step costs of one request (this process, one core)');
  const breakdownWindow = cpuWindow(() => server.cpuSeconds());
  const breakdown: Breakdown = measureBreakdown({
    rootKey: material.rootKey,
    racChain: material.racChain,
    plChain,
    useLicense: checked.get('AcquireLicense')!.chain[0]!,
    spc: material.spc,
    certifiedRac: checked.get('Certify')!.chain[0]!,
    acquireLicenseRequest: warmAcquire,
    certifyRequest: certify,
  });
  const breakdownOther = breakdownWindow().otherCores;
  const serverLog = servers.map((s) => s.output()).join('\n');
  const coldStats = pool?.stats;
  await cleanup();

  // ---- 7. report
  for (const r of rows) r.ratioAllCores = r.okPerSecond / raw.signsPerSecond;
  const one = haproxyRows.find((r) => r.members === 1);
  const two = haproxyRows.find((r) => r.members === 2);
  const twoMembersRatio = one && two && one.okPerSecond > 0 ? two.okPerSecond / one.okPerSecond : undefined;
  const sharedCores = `${cores} core(s) shared by both members, HAProxy and the load generator`;
  const out: string[] = [];
  out.push(`OpenRMS benchmark, ${startedAt.toISOString()}`);
  out.push(
    `Machine: ${machine.cpuModel}, ${machine.cores} core(s), ${machine.memoryGiB} GiB; ${machine.os}; Node ${machine.node}, OpenSSL ${machine.openssl}`,
  );
  out.push(
    `Member: the release build (node apps/server/dist/main.js), ` +
      (server.workersFlag === undefined ? 'one process (this build has no --workers)' : `--workers ${server.workersFlag}: a supervisor and ${workerProcesses} worker process(es)`) +
      `; SQLite; cluster key: ${cluster.keyDescription}.`,
  );
  out.push(
    `Load: autocannon in this process, the member in its own processes, both on this machine, 127.0.0.1 only; ` +
      `${WARMUP_SECONDS} s warm-up then ${seconds} s per row (at most ${grouped(maxRequests)} requests), keep-alive, no pipelining.`,
  );
  out.push('');
  out.push(
    table(
      [
        'mix',
        'conns',
        's',
        'ok/s',
        'p50 ms',
        'p99 ms',
        'longest wait ms',
        'conns unanswered',
        '503',
        'other non-2xx',
        'errors',
        'server CPU ms/req',
        'server cores',
        'busiest loop cores',
        'RSS max/worker MB',
        'cache hits',
        '503 (member count)',
        'dropped, client gone',
        'issued, client gone',
        '÷ raw signs/s',
        'other cores',
      ],
      rows.map((r) => [
        r.mix,
        String(r.connections),
        fixed(r.seconds, 1),
        fixed(r.okPerSecond, 1),
        fixed(r.p50Ms, 0),
        fixed(r.p99Ms, 0),
        grouped(r.longestWaitMs),
        String(r.unanswered),
        String(r.status503),
        String(r.non2xx - r.status503),
        String(r.errors),
        fixed(r.serverCpuMsPerOk, 2),
        fixed(r.serverCores, 2),
        fixed(r.serverMainCores, 2),
        fixed(r.rssWorkerMaxMB, 0),
        percent(r.metrics.cacheHitRatio, 0),
        r.metrics.rejected503 === undefined ? 'n/a' : String(r.metrics.rejected503),
        r.metrics.droppedClientGone === undefined ? 'n/a' : String(r.metrics.droppedClientGone),
        r.issuedClientGone === undefined ? 'n/a' : String(r.issuedClientGone),
        percent(r.ratioAllCores, 2),
        fixed(r.otherCores, 2),
      ]),
      ['l', ...Array<'r'>(20).fill('r')],
    ),
  );
  out.push('');
  out.push(
    `Raw RSA-2048 signing (node:crypto, KeyObject, one worker thread per core, ${RAW_RSA_MS / 1000} s): ${grouped(raw.signsPerSecond)} signs/s on ${raw.cores} core(s), ` +
      `${grouped(raw.perCore)} per core` +
      (rawOther !== undefined ? `; other work on the machine meanwhile: ${fixed(rawOther, 2)} cores.` : '.'),
  );
  out.push(
    'Each AcquireLicense and each Certify costs exactly one RSA signature (the UL or the RAC); "÷ raw signs/s" divides the rate by the ' +
      'all-core raw signing rate of this run. "server CPU ms/req" and "server cores" count every process of the member (supervisor, ' +
      'workers, and workers it replaced); "busiest loop cores" is the busiest main thread (near 1.00: that event loop never waited).',
  );
  out.push(
    '"p50"/"p99" are autocannon\'s, over answered requests (503s included); "longest wait" is the longest any connection went without an ' +
      'answer (answered or still waiting at the end), "conns unanswered" counts connections that got none during the row. "503" is what ' +
      'the load generator received; "503 (member count)" and "dropped, client gone" are the member\'s own counts ' +
      '(openrms_requests_rejected_total: queue_full + wait_timeout, and client_gone: requests dropped unanswered, before any work, ' +
      'because their connection had closed while they waited).',
  );
  out.push(
    '"cache hits" is hits ÷ lookups of the verified-document cache during the row (openrms_verified_cache_lookups_total); "issued, ' +
      'client gone" is the successes the member counted (openrms_requests_total, result ok) minus the answers the load generator ' +
      'received: work finished for connections that had already closed (up to one per connection is the requests in flight when ' +
      'the row stops). n/a: this build has no such metric.',
  );
  if (rows.some((r) => r.mix === MIXES.cold)) {
    out.push(
      `Cold rows: every request carries a PL signed for it by alice's CLC, never sent before; only bob's RAC repeats. At most ${grouped(coldCap)} ` +
        `PLs per row (BENCH_COLD_PLS): a row whose "s" is below ${seconds} used them all before its time was up.` +
        (coldStats?.wallMsPerPl !== undefined ? ` Signing them took ${fixed(coldStats.wallMsPerPl, 2)} ms of wall time per PL on ${cores} thread(s), before each row.` : ''),
    );
  }
  const disturbed = [...rows.map((r) => r.otherCores ?? 0), ...haproxyRows.map((r) => r.otherCores ?? 0), rawOther ?? 0, breakdownOther ?? 0].some((x) => x > DISTURBED_CORES);
  if (disturbed) {
    out.push(`NOTE: other work used more than ${DISTURBED_CORES} core during this run; its figures are lower (and the ratios less exact) than on a quiet machine.`);
  }
  out.push('');

  out.push(`One member vs two behind HAProxy (shipped deploy/haproxy/openrms.cfg on loopback, no request log), ${MIXES.warm}:`);
  if (haproxySkipped) out.push(`not measured: ${haproxySkipped}.`);
  else {
    out.push(
      table(
        ['members', 'conns', 's', 'ok/s', 'p50 ms', 'p99 ms', 'longest wait ms', '503', 'errors', 'CPU ms/req (all members)', 'member cores', 'HAProxy cores', 'load-gen cores', 'other cores'],
        haproxyRows.map((r) => [
          String(r.members),
          String(r.connections),
          fixed(r.seconds, 1),
          fixed(r.okPerSecond, 1),
          fixed(r.p50Ms, 0),
          fixed(r.p99Ms, 0),
          grouped(r.longestWaitMs),
          String(r.status503),
          String(r.errors),
          fixed(r.membersCpuMsPerOk, 2),
          r.memberCores.map((x) => fixed(x, 2)).join(' + '),
          fixed(r.haproxyCores, 2),
          fixed(r.loadGenCores, 2),
          fixed(r.otherCores, 2),
        ]),
        ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'r', 'r', 'r'],
      ),
    );
    out.push(
      `Two members ÷ one: ${fixed(twoMembersRatio, 2)}×. Both members are processes on this machine: ${sharedCores}, ` +
        `so the second member adds no CPU here${cores <= 2 ? ' (on this 2-core machine the ratio shows the cost of sharing, not what a second machine adds)' : ''}. ` +
        'Two members on machines of their own would each have the cores one has here.',
    );
  }
  out.push('');

  out.push('What to reach (issue 12) next to this run: information, not pass/fail.');
  out.push(
    table(
      ['figure', 'what to reach', 'measured'],
      whatToReach({ rows, rawSignsPerSecond: raw.signsPerSecond, twoMembersRatio, twoMembersNote: cores <= 2 ? `members share ${cores} cores` : undefined }),
      ['l', 'l', 'l'],
    ),
  );
  out.push('');

  for (const [name, steps] of [
    ['AcquireLicense', breakdown.acquireLicense],
    ['Certify', breakdown.certify],
  ] as const) {
    const perOk = rows.filter((r) => r.mix.startsWith(name) && r.mix.endsWith('warm') && r.serverCpuMsPerOk !== undefined).map((r) => r.serverCpuMsPerOk!);
    out.push(`Per-request crypto and XML work, ${name} (library calls timed one by one in this process, CPU ms per call${breakdownOther !== undefined ? `; other work meanwhile: ${fixed(breakdownOther, 2)} cores` : ''}):`);
    out.push(
      table(
        ['step', 'ms'],
        [
          ...steps.map((s) => [s.step, fixed(s.ms, 3)]),
          ['sum of the steps', fixed(totalMs(steps), 3)],
          ...(perOk.length ? [['member CPU per request under load, warm (all processes; lowest–highest row)', `${fixed(Math.min(...perOk), 2)}–${fixed(Math.max(...perOk), 2)}`]] : []),
        ],
        ['l', 'r'],
      ),
    );
    out.push('');
  }
  const warnings = serverLog.split('\n').filter((l) => l.trim() && !/listening on/.test(l));
  if (warnings.length) out.push(`The members logged ${warnings.length} line(s) at warn or above; the last: ${warnings[warnings.length - 1]!.slice(0, 300)}`);
  process.stdout.write(`${out.join('\n')}\n`);

  if (wantJson) {
    const json = {
      date: startedAt.toISOString(),
      machine,
      member: { entry: 'apps/server/dist/main.js', workersFlag: server.workersFlag ?? null, workerProcesses, keyProtection: cluster.keyProtection },
      settings: {
        secondsPerRow: seconds,
        warmupSeconds: WARMUP_SECONDS,
        connections,
        mixes: mixes.map((m) => MIXES[m]),
        maxRequestsPerRow: maxRequests,
        coldPlsPerRow: coldCap,
        haproxyConnections,
        rawRsaMs: RAW_RSA_MS,
      },
      requestBytes: { AcquireLicense: Buffer.byteLength(warmAcquire.body), Certify: Buffer.byteLength(certify.body) },
      responseBytes: Object.fromEntries([...checked].map(([k, v]) => [k, v.responseBytes])),
      rawRsa: { ...raw, otherCores: rawOther },
      rows,
      coldPlSigning: coldStats,
      haproxy: haproxySkipped ? { skipped: haproxySkipped } : { rows: haproxyRows, twoMembersRatio, cores },
      whatToReach: WHAT_TO_REACH,
      breakdown: {
        acquireLicense: { steps: breakdown.acquireLicense, totalMs: totalMs(breakdown.acquireLicense) },
        certify: { steps: breakdown.certify, totalMs: totalMs(breakdown.certify) },
        otherCores: breakdownOther,
      },
      disturbed,
      serverLogLines: warnings.length,
    };
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  }
}

/**
 * The same warm AcquireLicense through HAProxy, first with the first member alone behind it, then
 * with a second member of the same cluster (same SQLite file, its own port and name) beside it.
 */
async function compareMembers(o: {
  cluster: BenchCluster;
  first: ServerProcess;
  firstPort: number;
  startMember: (name: string, port: number) => Promise<ServerProcess>;
  connections: number;
  seconds: number;
  maxRequests: number;
  req: BenchRequest;
}): Promise<HaproxyRow[]> {
  const clusterId = (await clusterStatus(o.cluster.databaseUrl)).cluster.id;
  const secondPort = await freePort();
  progress('starting member bench-2 (same cluster, same SQLite file) for the HAProxy comparison');
  const second = await o.startMember('bench-2', secondPort);
  const rows: HaproxyRow[] = [];
  try {
    for (const members of [[o.first], [o.first, second]]) {
      checkInterrupted();
      const ports = members.map((m) => (m === o.first ? o.firstPort : secondPort));
      const h: Haproxy = await startHaproxy({
        dir: workDir!,
        port: await freePort(),
        statsPort: await freePort(),
        clusterId,
        servers: members.map((m, i) => ({ name: m.name, port: ports[i]! })),
      });
      balancers.add(h);
      try {
        const url = new URL(o.req.url);
        const through = `${h.url}${url.pathname}`;
        progress(`HAProxy → ${members.length} member(s), ${o.connections} connections: ${WARMUP_SECONDS} s warm-up, ${o.seconds} s measured`);
        const memberCpu = () => {
          const each = members.map((m) => m.cpuSeconds());
          return each.some((x) => x === undefined) ? undefined : each.reduce<number>((a, b) => a + b!, 0);
        };
        let before: (number | undefined)[] = [];
        let after: (number | undefined)[] = [];
        const load = await measureLoad({
          mix: MIXES.warm,
          target: { url: through, headers: o.req.headers, body: o.req.body },
          connections: o.connections,
          seconds: o.seconds,
          warmupSeconds: WARMUP_SECONDS,
          maxRequests: o.maxRequests,
          warmupMaxRequests: Math.max(o.connections, Math.ceil(o.maxRequests / 8)),
          serverCpu: memberCpu,
          serverMainThreads: () => undefined,
          extraCpu: { haproxy: () => h.cpuSeconds() },
          beforeMeasure: async () => {
            before = members.map((m) => m.cpuSeconds());
          },
          afterMeasure: async () => {
            after = members.map((m) => m.cpuSeconds());
          },
        });
        const used = members.map((_, i) => (before[i] === undefined || after[i] === undefined ? undefined : after[i]! - before[i]!));
        const total = used.every((x) => x !== undefined) ? used.reduce<number>((a, b) => a + b!, 0) : undefined;
        const row: HaproxyRow = {
          ...load,
          members: members.length,
          memberCores: used.map((x) => (x === undefined ? Number.NaN : x / load.seconds)),
          haproxyCores: load.extraCores.haproxy,
          membersCpuMsPerOk: total !== undefined && load.ok > 0 ? (total * 1000) / load.ok : undefined,
        };
        rows.push(row);
        progress(`  ${fixed(row.okPerSecond, 1)}/s, p99 ${row.p99Ms} ms, member cores ${row.memberCores.map((x) => fixed(x, 2)).join(' + ')}, HAProxy ${fixed(row.haproxyCores, 2)}`);
      } finally {
        await h.stop();
        balancers.delete(h);
      }
    }
  } finally {
    await second.stop();
  }
  return rows;
}

main().then(
  async () => {
    await cleanup();
    process.exit(interrupted ? 130 : 0);
  },
  async (e: unknown) => {
    if (!interrupted) {
      process.stderr.write(`bench: failed: ${(e as Error)?.stack ?? String(e)}\n`);
      for (const s of servers) process.stderr.write(`bench: last output of ${s.name}:\n${s.output().slice(-4000)}\n`);
    }
    await cleanup();
    process.exit(interrupted ? 130 : 1);
  },
);
