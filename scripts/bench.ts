/**
 * `pnpm bench` (`--json` to print the results as JSON too): use-licence and RAC issuance rates of
 * one OpenRMS server process on loopback, beside the machine's raw RSA-2048 signing rate. It prints
 * figures and ratios, never pass/fail. Environment: BENCH_SECONDS (measured seconds per row,
 * default 8), BENCH_CONNECTIONS (default 1,16,64), BENCH_MAX_REQUESTS (cap per row, default 100000).
 * Everything it creates (SQLite file, client state, the server process) is removed when it ends,
 * also on Ctrl-C or an error.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RmsClient } from '@openrms/client';
import { parseGrantSpec } from '@openrms/domain';
import { addUser, provisionRootCluster } from '@openrms/issuance';
import { cpuWindow } from './bench/cpu';
import { freePort } from './bench/free-port';
import { measureBreakdown, totalMs, type Breakdown } from './bench/breakdown';
import { measureLoad, stopLoad, type LoadRow } from './bench/load';
import { describeMachine } from './bench/machine';
import { measureRawRsa, type RawRsaRate } from './bench/raw-rsa';
import { fixed, grouped, percent, table } from './bench/report';
import { acquireLicenseRequest, certifyRequest, checkOnce, plChainOf, readUserMaterial, type BenchRequest } from './bench/requests';
import { startServerProcess, type ServerProcess } from './bench/server-process';

const RAW_RSA_MS = 3000;
const WARMUP_SECONDS = 1;
/** Above this, a measurement shared the machine with other work worth mentioning. */
const DISTURBED_CORES = 0.25;

function envInt(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer from ${min} to ${max}, not "${raw}"`);
  return n;
}

function envConnections(): number[] {
  const raw = process.env.BENCH_CONNECTIONS;
  if (!raw) return [1, 16, 64];
  const list = raw.split(',').map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1 || n > 256)) {
    throw new Error(`BENCH_CONNECTIONS must be a comma-separated list of integers from 1 to 256, not "${raw}"`);
  }
  return list;
}

const progress = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

/** Cleanup that runs once, whether the run ends, fails or is interrupted. */
let server: ServerProcess | undefined;
let workDir: string | undefined;
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    stopLoad();
    await server?.stop().catch(() => undefined);
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
    progress(`${sig}: stopping the server and removing temporary files`);
    void cleanup().finally(() => process.exit(130));
  });
}
// Last resort if the process exits without the async cleanup (an uncaught error, say).
process.once('exit', () => {
  if (server && server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

interface RowWithRatios extends LoadRow {
  /** okPerSecond ÷ raw RSA-2048 signs/s on all cores. */
  ratioAllCores: number;
  /** okPerSecond ÷ raw RSA-2048 signs/s on one core: the server is one Node process. */
  ratioPerCore: number;
}

async function main(): Promise<void> {
  const wantJson = process.argv.slice(2).includes('--json');
  const unknown = process.argv.slice(2).filter((a) => a !== '--json');
  if (unknown.length) throw new Error(`unknown argument(s): ${unknown.join(' ')} (only --json)`);
  const seconds = envInt('BENCH_SECONDS', 8, 1, 60);
  const maxRequests = envInt('BENCH_MAX_REQUESTS', 100_000, 1, 10_000_000);
  const connections = envConnections();
  const machine = describeMachine();
  const startedAt = new Date();

  // ---- 1. a root cluster on a temporary SQLite file, at a free loopback port
  workDir = mkdtempSync(path.join(tmpdir(), 'openrms-bench-'));
  const databaseUrl = `sqlite:${path.join(workDir, 'rms.db')}`;
  const port = await freePort();
  const keyPassword = 'bench-cluster-key-password';
  const users = {
    alice: { name: 'alice', email: 'alice@example.test', password: 'alice-bench-password' },
    bob: { name: 'bob', email: 'bob@example.test', password: 'bob-bench-password' },
  };
  progress(`provisioning a root cluster (SQLite) for http://127.0.0.1:${port}`);
  await provisionRootCluster({
    databaseUrl,
    clusterUrl: `http://127.0.0.1:${port}/_wmcs`,
    serviceAccount: 'rms-service',
    admin: { name: 'admin', password: 'admin-bench-password', email: 'admin@example.test' },
    keyPassword,
    revocation: { kind: 'standard' },
    serverName: 'bench-1',
  });
  for (const u of Object.values(users)) await addUser(databaseUrl, { ...u, groups: [] });

  // ---- 2. the server, as its own process
  progress('starting the server process');
  server = await startServerProcess({ databaseUrl, listen: `127.0.0.1:${port}`, keyPassword, serverName: 'bench-1' });
  const wmcs = `${server.url}/_wmcs`;

  // ---- 3. setup through the real client, then the two raw requests, each checked once
  const stateDir = path.join(workDir, 'client-state');
  const content = Buffer.from('OpenRMS benchmark content\n', 'utf8');
  const alice = new RmsClient({ serverUrl: server.url, user: users.alice.name, password: users.alice.password, stateDir });
  const file = await alice.protect(content, { grants: parseGrantSpec(`${users.bob.email}:VIEW`), name: 'bench.txt' });
  const bob = new RmsClient({ serverUrl: server.url, user: users.bob.name, password: users.bob.password, stateDir });
  const opened = await bob.open(file);
  if (!opened.content.equals(content)) throw new Error('setup: bob did not get the content alice protected');
  const material = readUserMaterial(bob.stateFolder);
  const plChain = plChainOf(file);
  const requests: BenchRequest[] = [
    acquireLicenseRequest(wmcs, users.bob, material.racChain[0]!, plChain),
    certifyRequest(wmcs, users.bob, material.spc),
  ];
  const checked = new Map<string, Awaited<ReturnType<typeof checkOnce>>>();
  for (const r of requests) {
    const answer = await checkOnce(r, material.rootKey, users.bob.email);
    checked.set(r.name, answer);
    progress(`${r.name}: request ${grouped(Buffer.byteLength(r.body))} bytes, answer ${grouped(answer.responseBytes)} bytes, chain of ${answer.chain.length} verified`);
  }

  // ---- 4. load
  const rows: LoadRow[] = [];
  const serverCpu = () => server?.cpuSeconds();
  const serverMainCpu = () => server?.mainThreadCpuSeconds();
  for (const req of requests) {
    for (const c of connections) {
      progress(`${req.name}, ${c} connection(s): ${WARMUP_SECONDS} s warm-up, ${seconds} s measured`);
      const row = await measureLoad({ req, connections: c, seconds, warmupSeconds: WARMUP_SECONDS, maxRequests, serverCpu, serverMainCpu });
      if (interrupted) throw new Error('interrupted');
      rows.push(row);
      progress(
        `  ${fixed(row.okPerSecond, 1)}/s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, longest wait ${row.longestWaitMs} ms, ` +
          `${row.unanswered} connection(s) unanswered, non-2xx ${row.non2xx}, errors ${row.errors}` +
          (row.serverCpuMsPerOk !== undefined ? `, server CPU ${fixed(row.serverCpuMsPerOk, 2)} ms/request` : ''),
      );
    }
  }

  // ---- 5. raw RSA on all cores, with the server idle; then the per-step costs
  progress(`raw RSA-2048 signing on every core for ${RAW_RSA_MS / 1000} s (server idle)`);
  if (interrupted) throw new Error('interrupted');
  const rawWindow = cpuWindow(serverCpu);
  const raw: RawRsaRate = await measureRawRsa(RAW_RSA_MS);
  const rawOther = rawWindow().otherCores;
  progress('per-step costs of one request (this process, one core)');
  const breakdownWindow = cpuWindow(serverCpu);
  const breakdown: Breakdown = measureBreakdown({
    rootKey: material.rootKey,
    racChain: material.racChain,
    plChain,
    useLicense: checked.get('AcquireLicense')!.chain[0]!,
    spc: material.spc,
    certifiedRac: checked.get('Certify')!.chain[0]!,
    acquireLicenseRequest: requests[0]!,
    certifyRequest: requests[1]!,
  });
  const breakdownOther = breakdownWindow().otherCores;
  const serverLog = server.output();
  await cleanup();

  // ---- 6. report
  const withRatios: RowWithRatios[] = rows.map((r) => ({ ...r, ratioAllCores: r.okPerSecond / raw.signsPerSecond, ratioPerCore: r.okPerSecond / raw.perCore }));
  const out: string[] = [];
  out.push(`OpenRMS benchmark, ${startedAt.toISOString()}`);
  out.push(
    `Machine: ${machine.cpuModel}, ${machine.cores} core(s), ${machine.memoryGiB} GiB; ${machine.os}; Node ${machine.node}, OpenSSL ${machine.openssl}`,
  );
  out.push(
    `Load: autocannon in this process, the server in its own process (one Node process, one event loop), both on this machine, 127.0.0.1 only; ` +
      `${WARMUP_SECONDS} s warm-up then ${seconds} s per row (at most ${grouped(maxRequests)} requests), keep-alive, no pipelining.`,
  );
  out.push('');
  out.push(
    table(
      [
        'operation',
        'conns',
        'ok/s',
        'p50 ms',
        'p99 ms',
        'longest wait ms',
        'conns unanswered',
        'non-2xx',
        'errors',
        'server CPU ms/req',
        'server cores',
        'event-loop cores',
        'load-gen cores',
        'other cores',
        '÷ raw signs/s (all cores)',
        '÷ raw signs/s (one core)',
      ],
      withRatios.map((r) => [
        r.operation,
        String(r.connections),
        fixed(r.okPerSecond, 1),
        fixed(r.p50Ms, 0),
        fixed(r.p99Ms, 0),
        String(r.longestWaitMs),
        String(r.unanswered),
        String(r.non2xx),
        String(r.errors),
        fixed(r.serverCpuMsPerOk, 2),
        fixed(r.serverCores, 2),
        fixed(r.serverMainCores, 2),
        fixed(r.loadGenCores, 2),
        fixed(r.otherCores, 2),
        percent(r.ratioAllCores, 2),
        percent(r.ratioPerCore, 2),
      ]),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  out.push('');
  out.push(
    `Raw RSA-2048 signing (node:crypto, KeyObject, one worker per core, ${RAW_RSA_MS / 1000} s): ${grouped(raw.signsPerSecond)} signs/s on ${raw.cores} core(s), ` +
      `${grouped(raw.perCore)} signs/s per core` +
      (rawOther !== undefined ? `; other work on the machine meanwhile: ${fixed(rawOther, 2)} cores.` : '.'),
  );
  out.push(
    'Each AcquireLicense and each Certify costs exactly one RSA signature (the UL or the RAC). The server is one Node process, so ' +
      '"÷ one core" is its efficiency against the signing ceiling of the core it runs on; "÷ all cores" is against the whole machine, ' +
      'which one process cannot reach (run more cluster members behind a load balancer for that).',
  );
  out.push(
    '"p50"/"p99" are autocannon\'s, over answered requests only; "longest wait" is the longest any connection went without an answer ' +
      '(answered or still waiting at the end), and "conns unanswered" counts connections that got no answer at all in the measured part.',
  );
  out.push(
    '"server cores", "load-gen cores" and "other cores" are average CPU use during each measured part: the server process (all its ' +
      'threads), this process (autocannon), and everything else on the machine; "event-loop cores" is the server\'s main thread alone ' +
      '(near 1.00: the event loop never waited, the member is saturated). "other cores" well above 0 means the run was disturbed.',
  );
  const disturbed = [...rows.map((r) => r.otherCores ?? 0), rawOther ?? 0, breakdownOther ?? 0].some((x) => x > DISTURBED_CORES);
  if (disturbed) {
    out.push(`NOTE: other work used more than ${DISTURBED_CORES} core during this run; its figures are lower (and the ratios less exact) than on a quiet machine.`);
  }
  out.push('');
  for (const [name, steps] of [
    ['AcquireLicense', breakdown.acquireLicense],
    ['Certify', breakdown.certify],
  ] as const) {
    const perOk = withRatios.filter((r) => r.operation === name && r.serverCpuMsPerOk !== undefined).map((r) => r.serverCpuMsPerOk!);
    out.push(`Per-request crypto and XML work, ${name} (measured step by step in this process, one core${breakdownOther !== undefined ? `; other work meanwhile: ${fixed(breakdownOther, 2)} cores` : ''}):`);
    out.push(
      table(
        ['step', 'ms'],
        [
          ...steps.map((s) => [s.step, fixed(s.ms, 3)]),
          ['sum of the steps', fixed(totalMs(steps), 3)],
          ...(perOk.length
            ? [['server CPU per request under load (all threads; lowest–highest row)', `${fixed(Math.min(...perOk), 2)}–${fixed(Math.max(...perOk), 2)}`]]
            : []),
        ],
        ['l', 'r'],
      ),
    );
    out.push('');
  }
  const warnings = serverLog.split('\n').filter((l) => l.trim() && !/listening on/.test(l));
  if (warnings.length) out.push(`The server logged ${warnings.length} line(s) at warn or above; the last: ${warnings[warnings.length - 1]!.slice(0, 300)}`);
  process.stdout.write(`${out.join('\n')}\n`);

  if (wantJson) {
    const json = {
      date: startedAt.toISOString(),
      machine,
      settings: { secondsPerRow: seconds, warmupSeconds: WARMUP_SECONDS, connections, maxRequestsPerRow: maxRequests, rawRsaMs: RAW_RSA_MS },
      requestBytes: Object.fromEntries(requests.map((r) => [r.name, Buffer.byteLength(r.body)])),
      responseBytes: Object.fromEntries([...checked].map(([k, v]) => [k, v.responseBytes])),
      rawRsa: { ...raw, otherCores: rawOther },
      rows: withRatios,
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

main().then(
  async () => {
    await cleanup();
    process.exit(interrupted ? 130 : 0);
  },
  async (e: unknown) => {
    if (!interrupted) {
      process.stderr.write(`bench: failed: ${(e as Error)?.stack ?? String(e)}\n`);
      if (server) process.stderr.write(`bench: last server output:\n${server.output().slice(-4000)}\n`);
    }
    await cleanup();
    process.exit(interrupted ? 130 : 1);
  },
);
