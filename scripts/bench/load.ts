/** One load row: autocannon against one request at one concurrency, after a short warm-up. */
import autocannon from 'autocannon';
import { cpuWindow } from './cpu';
import type { BenchRequest } from './requests';

export interface LoadRow {
  operation: BenchRequest['name'];
  connections: number;
  /** Seconds the measured part actually ran. */
  seconds: number;
  /** 2xx answers per second: issued licences (or RACs) per second. */
  okPerSecond: number;
  ok: number;
  non2xx: number;
  /** Connection errors, timeouts included. */
  errors: number;
  timeouts: number;
  p50Ms: number;
  p99Ms: number;
  /** Connections that got no answer during the measured part (their wait is not in p50/p99). */
  unanswered: number;
  /** The longest any connection waited for an answer, answered or not (ms). */
  longestWaitMs: number;
  /** Server CPU seconds used during the measured part, per 2xx answer, in ms; undefined when unknown. */
  serverCpuMsPerOk: number | undefined;
  /** Server CPU used during the measured part, in cores (1 = one core fully busy). */
  serverCores: number | undefined;
  /** The server's main thread (event loop) alone, in cores. */
  serverMainCores: number | undefined;
  /** CPU of the load generator (this process), in cores. */
  loadGenCores: number;
  /** CPU of everything else on the machine during the measured part, in cores: the disturbance. */
  otherCores: number | undefined;
}

/** The run in progress, so Ctrl-C can stop it. */
let current: autocannon.Instance | undefined;

export function stopLoad(): void {
  current?.stop();
}

interface Fairness {
  /** Connections that got no answer at all while the row was measured. */
  unanswered: number;
  /** The longest a connection went without an answer (from the start, or from its previous answer, to the next or to the end), ms. */
  longestWaitMs: number;
}

/**
 * Runs autocannon and watches each connection: autocannon's latency counts only requests that were
 * answered, so a connection the server leaves waiting until the end is invisible in p99.
 */
function run(o: autocannon.Options): Promise<{ result: autocannon.Result; fairness: Fairness }> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const last = new Map<unknown, number>();
    let longest = 0;
    current = autocannon(o, (err, result) => {
      current = undefined;
      if (err) return reject(err);
      const end = Date.now();
      for (const t of last.values()) longest = Math.max(longest, end - t);
      const unanswered = Math.max(0, (o.connections ?? 10) - last.size);
      if (unanswered > 0) longest = Math.max(longest, end - start);
      resolve({ result, fairness: { unanswered, longestWaitMs: longest } });
    });
    current.on('response', (client) => {
      const now = Date.now();
      longest = Math.max(longest, now - (last.get(client) ?? start));
      last.set(client, now);
    });
  });
}

export interface LoadOptions {
  req: BenchRequest;
  connections: number;
  seconds: number;
  warmupSeconds: number;
  /** Upper bound on requests for the measured part (it ends at whichever comes first). */
  maxRequests: number;
  /** CPU seconds the server has used so far. */
  serverCpu: () => number | undefined;
  /** CPU seconds the server's main thread has used so far. */
  serverMainCpu: () => number | undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until the server has finished the requests autocannon abandoned when it stopped (the server
 * still works through them), so they do not count against the next measurement: idle means under
 * 5 % of a core over 200 ms. Gives up after `maxMs`; without /proc it just waits two seconds.
 */
export async function waitForIdle(serverCpu: () => number | undefined, maxMs = 10_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  let before = serverCpu();
  if (before === undefined) return sleep(2000).then(() => undefined);
  while (Date.now() < deadline) {
    await sleep(200);
    const now = serverCpu();
    if (now === undefined) return;
    if (now - before < 0.01) return;
    before = now;
  }
}

export async function measureLoad(o: LoadOptions): Promise<LoadRow> {
  const base: autocannon.Options = {
    url: o.req.url,
    method: 'POST',
    headers: o.req.headers,
    body: o.req.body,
    connections: o.connections,
    pipelining: 1,
    timeout: 30,
  };
  if (o.warmupSeconds > 0) await run({ ...base, duration: o.warmupSeconds, maxOverallRequests: Math.max(o.connections, Math.ceil(o.maxRequests / 8)) });
  await waitForIdle(o.serverCpu);
  const closeWindow = cpuWindow(o.serverCpu, o.serverMainCpu);
  const { result: r, fairness } = await run({ ...base, duration: o.seconds, maxOverallRequests: Math.max(o.connections, o.maxRequests) });
  const w = closeWindow();
  await waitForIdle(o.serverCpu);
  const ok = r['2xx'];
  const cpu = w.serverSeconds;
  return {
    operation: o.req.name,
    connections: o.connections,
    seconds: r.duration,
    okPerSecond: r.duration > 0 ? ok / r.duration : 0,
    ok,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    unanswered: fairness.unanswered,
    longestWaitMs: fairness.longestWaitMs,
    serverCpuMsPerOk: cpu !== undefined && ok > 0 ? (cpu * 1000) / ok : undefined,
    serverCores: w.serverCores,
    serverMainCores: w.serverMainCores,
    loadGenCores: w.selfCores,
    otherCores: w.otherCores,
  };
}
