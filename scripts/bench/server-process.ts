/**
 * A cluster member under test: the release build (`node apps/server/dist/main.js`), as its own
 * process group, so the load generator never shares its event loop and every process of the member
 * (a supervisor and its workers, when it has them) can be measured and stopped together.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { groupCpuSeconds, groupMainThreadSeconds, groupProcesses, sampleRss, type RssPeaks } from './process-group';

export const REPO = path.resolve(__dirname, '..', '..');
export const SERVER_ENTRY = path.join(REPO, 'apps/server/dist/main.js');

/** Keeps the end of the server's output for diagnostics without growing without bound. */
const OUTPUT_KEEP = 64 * 1024;

export interface ServerProcess {
  child: ChildProcess;
  name: string;
  /** The URL the server printed (`http://127.0.0.1:PORT`). */
  url: string;
  /** The --workers it was started with; undefined when this build has no such setting. */
  workersFlag: number | undefined;
  /** Worker processes running now (0: the member is one process). */
  workerProcesses(): number;
  /** CPU seconds (user + system) every process of the member has used so far; undefined off Linux. */
  cpuSeconds(): number | undefined;
  /** Main-thread CPU seconds of each of its processes, by PID. */
  mainThreadSeconds(): Map<number, number> | undefined;
  /** Starts sampling the RSS of its processes; call the result to stop and read the peaks. */
  sampleRss(): () => RssPeaks;
  output(): string;
  stop(): Promise<void>;
  /** Last resort (process exit): SIGKILL the whole group at once. */
  kill(): void;
}

export interface StartServerOptions {
  databaseUrl: string;
  listen: string;
  serverName: string;
  /** Extra flags (key protection) and environment (secrets) from the cluster provisioning. */
  args: string[];
  env: Record<string, string>;
  /** Worker processes to ask for (`--workers N`), when the build knows that setting. */
  workers: number | undefined;
  startTimeoutMs?: number;
}

const UNKNOWN_WORKERS = /Unknown option '--workers'/;

/**
 * Starts the member and resolves when it prints `listening on URL` and answers /healthz. When the
 * build does not know `--workers` yet (it exits with "Unknown option"), starts it again without it,
 * so the bench measures whatever the build offers.
 */
export async function startServerProcess(o: StartServerOptions): Promise<ServerProcess> {
  if (o.workers !== undefined) {
    try {
      return await startOnce(o, o.workers);
    } catch (e) {
      if (!UNKNOWN_WORKERS.test((e as Error).message)) throw e;
    }
  }
  return startOnce(o, undefined);
}

async function startOnce(o: StartServerOptions, workers: number | undefined): Promise<ServerProcess> {
  const args = [SERVER_ENTRY, '--database', o.databaseUrl, '--listen', o.listen, '--server-name', o.serverName, ...o.args];
  if (workers !== undefined) args.push('--workers', String(workers));
  const child = spawn(process.execPath, args, {
    cwd: REPO,
    env: { ...process.env, RMS_LOG_LEVEL: 'warn', ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: the supervisor and its workers are measured and stopped as one.
    detached: true,
  });
  const pgid = child.pid!;
  let out = '';
  const onData = (d: Buffer) => {
    out += d.toString();
    if (out.length > OUTPUT_KEEP * 2) out = out.slice(-OUTPUT_KEEP);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const killGroup = () => {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };

  const timeoutMs = o.startTimeoutMs ?? 60_000;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`${o.serverName} did not start within ${timeoutMs / 1000} s:\n${out}`)), timeoutMs);
    const check = () => {
      const m = /listening on (\S+)/.exec(out);
      if (m) finish(undefined, m[1]!);
    };
    const finish = (err: Error | undefined, value?: string) => {
      clearTimeout(timer);
      child.stdout!.off('data', check);
      child.stderr!.off('data', check);
      if (err) reject(err);
      else resolve(value!);
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    void exited.then((code) => finish(new Error(`${o.serverName} exited (code ${code}) before listening:\n${out}`)));
  }).catch(async (e: unknown) => {
    killGroup();
    await exited;
    throw e;
  });
  await waitHealthy(url, timeoutMs).catch((e: unknown) => {
    killGroup();
    throw e;
  });

  return {
    child,
    name: o.serverName,
    url,
    workersFlag: workers,
    workerProcesses: () => (groupProcesses(pgid) ?? []).filter((p) => p.pid !== pgid).length,
    cpuSeconds: () => groupCpuSeconds(pgid),
    mainThreadSeconds: () => groupMainThreadSeconds(pgid),
    sampleRss: () => sampleRss(pgid),
    output: () => out,
    kill: killGroup,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        // SIGTERM drains: the supervisor stops its workers after their requests in flight.
        child.kill('SIGTERM');
        const timer = setTimeout(killGroup, 15_000);
        await exited;
        clearTimeout(timer);
      }
      // Whatever the group left behind goes with it.
      killGroup();
    },
  };
}

/** /healthz answers 200 (with workers: once the port is served). */
async function waitHealthy(url: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url}/healthz did not answer 200 within ${ms / 1000} s (${last})`);
}
