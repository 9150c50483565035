/** The server under test as its own process, so the load generator never shares its event loop. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { processCpuSeconds } from './cpu';

export const REPO = path.resolve(__dirname, '..', '..');

/** Keeps the end of the server's output for diagnostics without growing without bound. */
const OUTPUT_KEEP = 64 * 1024;

export interface ServerProcess {
  child: ChildProcess;
  /** The URL the server printed (`http://127.0.0.1:PORT`). */
  url: string;
  /** CPU seconds (user + system) the server process has used so far; undefined off Linux. */
  cpuSeconds(): number | undefined;
  /** CPU seconds of its main thread (the event loop) alone. */
  mainThreadCpuSeconds(): number | undefined;
  output(): string;
  stop(): Promise<void>;
}

export interface StartServerOptions {
  databaseUrl: string;
  listen: string;
  keyPassword: string;
  serverName: string;
  startTimeoutMs?: number;
}

/**
 * Starts `apps/server/src/main.ts` under `node --import tsx` (one process, not tsx's wrapper and a
 * child), so the PID measured is the server itself. Resolves when it prints `listening on URL`.
 */
export async function startServerProcess(o: StartServerOptions): Promise<ServerProcess> {
  const passwordVar = 'OPENRMS_BENCH_KEY_PASSWORD';
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(REPO, 'apps/server/src/main.ts'),
      '--database',
      o.databaseUrl,
      '--listen',
      o.listen,
      '--key-password-env',
      passwordVar,
      '--server-name',
      o.serverName,
    ],
    {
      cwd: REPO,
      env: { ...process.env, RMS_LOG_LEVEL: 'warn', [passwordVar]: o.keyPassword },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const onData = (d: Buffer) => {
    out += d.toString();
    if (out.length > OUTPUT_KEEP * 2) out = out.slice(-OUTPUT_KEEP);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`the server did not start within ${(o.startTimeoutMs ?? 60_000) / 1000} s:\n${out}`)), o.startTimeoutMs ?? 60_000);
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
    void exited.then((code) => finish(new Error(`the server exited (code ${code}) before listening:\n${out}`)));
  }).catch(async (e: unknown) => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
    throw e;
  });

  return {
    child,
    url,
    cpuSeconds: () => (child.pid === undefined ? undefined : processCpuSeconds(child.pid)),
    mainThreadCpuSeconds: () => (child.pid === undefined ? undefined : processCpuSeconds(child.pid, child.pid)),
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
