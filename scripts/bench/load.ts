/** One load row: autocannon against one request mix at one concurrency, after a short warm-up. */
import autocannon from 'autocannon';
import { cpuWindow, type CpuMeter } from './cpu';

/** What a row sends: the same body every time, or a fresh body for every request. */
export interface LoadTarget {
  url: string;
  headers: Record<string, string>;
  /** The body of every request (a warm mix). */
  body?: string;
  /** A body for each request (a cold mix); undefined when none is left, and the last is sent again. */
  nextBody?: () => string | undefined;
}

export interface LoadRow {
  /** The mix, e.g. "AcquireLicense warm". */
  mix: string;
  connections: number;
  /** Seconds the measured part actually ran (shorter when it hit its request cap). */
  seconds: number;
  /** 2xx answers per second: issued licences (or RACs) per second. */
  okPerSecond: number;
  ok: number;
  /** Answers other than 2xx, all of them, and the 503s (admission control) among them. */
  non2xx: number;
  status503: number;
  /** Every status code seen, with its count. */
  statusCodes: Record<string, number>;
  /** Connection errors, timeouts included. */
  errors: number;
  timeouts: number;
  p50Ms: number;
  p99Ms: number;
  /** Connections that got no answer during the measured part (their wait is not in p50/p99). */
  unanswered: number;
  /** The longest any connection waited for an answer, answered or not (ms). */
  longestWaitMs: number;
  /** Requests of a cold mix that had to repeat a body because none was left (0 for warm mixes). */
  repeatedBodies: number;
  /** Server CPU seconds used during the measured part, per 2xx answer, in ms; undefined when unknown. */
  serverCpuMsPerOk: number | undefined;
  /** Server CPU used during the measured part, in cores (1 = one core fully busy), all its processes. */
  serverCores: number | undefined;
  /** The busiest main thread (event loop) among the server's processes, in cores. */
  serverMainCores: number | undefined;
  /** Cores of each extra meter (HAProxy, a second member). */
  extraCores: Record<string, number | undefined>;
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
  mix: string;
  target: LoadTarget;
  connections: number;
  seconds: number;
  warmupSeconds: number;
  /** Upper bound on requests for the measured part (it ends at whichever comes first). */
  maxRequests: number;
  /** Upper bound on requests for the warm-up. */
  warmupMaxRequests: number;
  /** CPU seconds the server (all its processes) has used so far. */
  serverCpu: CpuMeter;
  /** Main-thread CPU seconds of each server process, by PID. */
  serverMainThreads: () => Map<number, number> | undefined;
  /** Other processes measured apart (HAProxy, another member), by name. */
  extraCpu?: Record<string, CpuMeter>;
  /** Called once the server is idle, right before the measured part; and after it, once idle again. */
  beforeMeasure?: () => Promise<void>;
  afterMeasure?: () => Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until the server has finished the requests autocannon abandoned when it stopped (the server
 * still works through them), so they do not count against the next measurement: idle means under
 * 5 % of a core over 200 ms. Gives up after `maxMs`; without /proc it just waits two seconds.
 */
export async function waitForIdle(serverCpu: CpuMeter, maxMs = 15_000): Promise<void> {
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
  let repeated = 0;
  let lastBody: string | undefined;
  const nextBody = o.target.nextBody;
  const base: autocannon.Options = {
    url: o.target.url,
    method: 'POST',
    headers: o.target.headers,
    connections: o.connections,
    pipelining: 1,
    timeout: 30,
    ...(nextBody
      ? {
          // Called for every request autocannon builds, so each carries a body of its own.
          requests: [
            {
              setupRequest: (req: autocannon.Request) => {
                const body = nextBody();
                if (body === undefined) repeated++;
                lastBody = body ?? lastBody;
                return { ...req, body: lastBody };
              },
            },
          ],
        }
      : { body: o.target.body }),
  };
  if (o.warmupSeconds > 0) await run({ ...base, duration: o.warmupSeconds, maxOverallRequests: Math.max(o.connections, o.warmupMaxRequests) });
  await waitForIdle(o.serverCpu);
  await o.beforeMeasure?.();
  const repeatedBefore = repeated;
  const closeWindow = cpuWindow(o.serverCpu, o.serverMainThreads, o.extraCpu ?? {});
  const { result: r, fairness } = await run({ ...base, duration: o.seconds, maxOverallRequests: Math.max(o.connections, o.maxRequests) });
  const w = closeWindow();
  await waitForIdle(o.serverCpu);
  await o.afterMeasure?.();
  const ok = r['2xx'];
  const cpu = w.serverSeconds;
  const statusCodes = Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([code, s]) => [code, (s as { count: number }).count]));
  return {
    mix: o.mix,
    connections: o.connections,
    seconds: r.duration,
    okPerSecond: r.duration > 0 ? ok / r.duration : 0,
    ok,
    non2xx: r.non2xx,
    status503: statusCodes['503'] ?? 0,
    statusCodes,
    errors: r.errors,
    timeouts: r.timeouts,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    unanswered: fairness.unanswered,
    longestWaitMs: fairness.longestWaitMs,
    repeatedBodies: repeated - repeatedBefore,
    serverCpuMsPerOk: cpu !== undefined && ok > 0 ? (cpu * 1000) / ok : undefined,
    serverCores: w.serverCores,
    serverMainCores: w.serverMainCores,
    extraCores: w.extraCores,
    loadGenCores: w.selfCores,
    otherCores: w.otherCores,
  };
}
