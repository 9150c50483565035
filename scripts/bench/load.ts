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
  /** Server CPU seconds used during the measured part, per 2xx answer, in ms; undefined when unknown. */
  serverCpuMsPerOk: number | undefined;
  /** Server CPU used during the measured part, in cores (1 = one core fully busy). */
  serverCores: number | undefined;
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

function run(o: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    current = autocannon(o, (err, result) => {
      current = undefined;
      if (err) reject(err);
      else resolve(result);
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
  const closeWindow = cpuWindow(o.serverCpu);
  const r = await run({ ...base, duration: o.seconds, maxOverallRequests: Math.max(o.connections, o.maxRequests) });
  const w = closeWindow();
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
    serverCpuMsPerOk: cpu !== undefined && ok > 0 ? (cpu * 1000) / ok : undefined,
    serverCores: w.serverCores,
    loadGenCores: w.selfCores,
    otherCores: w.otherCores,
  };
}
