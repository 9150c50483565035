/**
 * `pnpm bench:startup`: start-up cost of the release build against running from source. For each
 * row, RUNS times (BENCH_STARTUP_RUNS, default 7; rows interleaved so drift hits all alike): the
 * time from spawning the process to the first 200 from /healthz (servers), or to exit (`--help`),
 * and the CPU time the processes used by then (user + system, every process of the run: tsx, its
 * esbuild service, rmsctl and the server), which a busy machine disturbs less than wall time.
 * Needs `pnpm build` first. Prints figures, never pass/fail; everything it creates is removed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { provisionRootCluster } from '@openrms/issuance';
import { freePort } from './bench/free-port';
import { describeMachine } from './bench/machine';

const REPO = path.resolve(__dirname, '..');
const TSX = path.join(REPO, 'node_modules/.bin/tsx');
const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 7);
const KEY_PW = 'bench-startup-key-password';

interface Row {
  name: string;
  /** The command, given the port to listen on (servers). */
  argv(port: number): string[];
  server: boolean;
}

function serveArgs(database: string, port: number): string[] {
  return ['--database', database, '--listen', `127.0.0.1:${port}`, '--key-password-env', 'BENCH_KEY_PW'];
}

async function healthy(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200;
  } catch {
    return false;
  }
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(child.exitCode) : child.once('exit', (c) => resolve(c))));
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** user + system CPU ms of every live process in the group (Linux /proc). */
function groupCpuMs(pgid: number): number {
  let ticks = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
      if (Number(f[2]) === pgid) ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch {
      // Gone while we looked.
    }
  }
  return ticks * TICK_MS;
}

/** Wall ms and CPU ms of one run. */
async function timeOnce(row: Row): Promise<{ wall: number; cpu: number }> {
  const port = await freePort();
  let [cmd, ...args] = row.argv(port);
  if (!row.server) {
    // bash's `times` prints the CPU its children used: the only way to see it once they have exited.
    args = ['-c', '"$0" "$@"; times', cmd!, ...args];
    cmd = '/bin/bash';
  }
  const started = process.hrtime.bigint();
  const child = spawn(cmd!, args, {
    cwd: REPO,
    stdio: ['ignore', row.server ? 'ignore' : 'pipe', 'ignore'],
    detached: true,
    env: { ...process.env, BENCH_KEY_PW: KEY_PW, RMS_LOG_LEVEL: 'warn' },
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const done = exited(child);
  try {
    if (!row.server) {
      const code = await done;
      const wall = Number(process.hrtime.bigint() - started) / 1e6;
      if (code !== 0) throw new Error(`${row.name} exited ${code}`);
      const lines = out.trim().split('\n');
      const seconds = (lines[lines.length - 1] ?? '').split(/\s+/).map((t) => {
        const m = /^(\d+)m([\d.]+)s$/.exec(t);
        return m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
      });
      return { wall, cpu: ((seconds[0] ?? NaN) + (seconds[1] ?? NaN)) * 1000 };
    }
    for (;;) {
      if (await healthy(port)) break;
      if (child.exitCode !== null) throw new Error(`${row.name} exited ${child.exitCode} before answering`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const wall = Number(process.hrtime.bigint() - started) / 1e6;
    return { wall, cpu: groupCpuMs(child.pid!) };
  } finally {
    if (row.server) {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // Gone.
      }
      await done;
    }
  }
}

function stats(ms: number[]): { median: number; min: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s[s.length - 1]! };
}

async function main(): Promise<void> {
  for (const f of ['apps/cli/dist/main.js', 'apps/server/dist/main.js']) {
    if (!existsSync(path.join(REPO, f))) throw new Error(`${f} is missing: run pnpm build first`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'openrms-bench-startup-'));
  try {
    const database = `sqlite:${path.join(dir, 'rms.db')}`;
    await provisionRootCluster({
      databaseUrl: database,
      clusterUrl: 'http://127.0.0.1:1',
      serviceAccount: 'rms-svc',
      admin: { name: 'admin', password: 'bench-startup-admin-password' },
      keyPassword: KEY_PW,
      revocation: { kind: 'standard' },
      serverName: 'bench',
    });
    const node = process.execPath;
    const rows: Row[] = [
      { name: 'rmsctl serve, from source (tsx)', server: true, argv: (p) => [TSX, 'apps/cli/src/main.ts', 'serve', ...serveArgs(database, p)] },
      { name: 'rmsctl serve, built (node)', server: true, argv: (p) => [node, 'apps/cli/dist/main.js', 'serve', ...serveArgs(database, p)] },
      { name: 'server entry, from source (tsx)', server: true, argv: (p) => [TSX, 'apps/server/src/main.ts', ...serveArgs(database, p)] },
      { name: 'server entry, built (node)', server: true, argv: (p) => [node, 'apps/server/dist/main.js', ...serveArgs(database, p)] },
      { name: 'rmsctl --help, from source (tsx)', server: false, argv: () => [TSX, 'apps/cli/src/main.ts', '--help'] },
      { name: 'rmsctl --help, built (node)', server: false, argv: () => [node, 'apps/cli/dist/main.js', '--help'] },
    ];
    const times = new Map<string, { wall: number[]; cpu: number[] }>(rows.map((r) => [r.name, { wall: [], cpu: [] }]));
    const loadBefore = loadavg()[0]!;
    // One unmeasured round warms the disk cache for both kinds.
    for (const r of rows) await timeOnce(r);
    for (let i = 0; i < RUNS; i++) {
      for (const r of rows) {
        const t = await timeOnce(r);
        times.get(r.name)!.wall.push(t.wall);
        times.get(r.name)!.cpu.push(t.cpu);
      }
      process.stderr.write(`bench:startup: round ${i + 1}/${RUNS}\n`);
    }
    const loadAfter = loadavg()[0]!;
    const m = describeMachine();
    process.stdout.write(`machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}\n`);
    process.stdout.write(`load average (1 min) before/after: ${loadBefore.toFixed(2)} / ${loadAfter.toFixed(2)}; ${RUNS} runs per row\n\n`);
    process.stdout.write(`${'row'.padEnd(36)} wall ms: median    min    max   CPU ms: median    min    max\n`);
    const n = (v: number) => v.toFixed(0).padStart(6);
    for (const r of rows) {
      const w = stats(times.get(r.name)!.wall);
      const c = stats(times.get(r.name)!.cpu);
      process.stdout.write(`${r.name.padEnd(36)}         ${n(w.median)} ${n(w.min)} ${n(w.max)}           ${n(c.median)} ${n(c.min)} ${n(c.max)}\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:startup: ${(e as Error)?.message ?? String(e)}\n`);
  process.exit(1);
});
