/**
 * The processes of one server under test, read from /proc (Linux; elsewhere every figure is
 * undefined). A member started with `--workers N` is a supervisor and N worker processes; the bench
 * starts each member in a process group of its own, so "the member" is every live process of that
 * group, whichever of them forked which, and a worker that was replaced still counts: its CPU moves
 * into its parent's cutime/cstime when it is reaped.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let clockTicks: number | undefined;
let pageBytes: number | undefined;
function getconf(name: string, fallback: number): number {
  try {
    return Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim()) || fallback;
  } catch {
    return fallback;
  }
}
const ticksPerSecond = () => (clockTicks ??= getconf('CLK_TCK', 100));
const pageSize = () => (pageBytes ??= getconf('PAGESIZE', 4096));

export interface GroupProcess {
  pid: number;
  ppid: number;
  /** user + system CPU seconds of the process and of its children it has reaped. */
  cpuSeconds: number;
  /** user + system CPU seconds of its main thread alone (a Node process's event loop). */
  mainThreadSeconds: number | undefined;
  /** Resident set size now. */
  rssBytes: number | undefined;
}

/** Fields of /proc/PID/stat after the parenthesised command name (fields[0] is field 3, state). */
function statFields(file: string): string[] | undefined {
  try {
    const stat = readFileSync(file, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

function rssOf(pid: number): number | undefined {
  try {
    const resident = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
    return Number.isFinite(resident) ? resident * pageSize() : undefined;
  } catch {
    return undefined;
  }
}

/** Every live process whose process group is `pgid`; undefined when /proc cannot be read. */
export function groupProcesses(pgid: number): GroupProcess[] | undefined {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const out: GroupProcess[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(`/proc/${name}/stat`);
    // state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
    if (!f || Number(f[2]) !== pgid) continue;
    const pid = Number(name);
    const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    const main = statFields(`/proc/${pid}/task/${pid}/stat`);
    out.push({
      pid,
      ppid: Number(f[1]),
      cpuSeconds: ticks / ticksPerSecond(),
      mainThreadSeconds: main ? (Number(main[11]) + Number(main[12])) / ticksPerSecond() : undefined,
      rssBytes: rssOf(pid),
    });
  }
  return out;
}

/** CPU seconds of the whole group so far. */
export function groupCpuSeconds(pgid: number): number | undefined {
  const procs = groupProcesses(pgid);
  return procs === undefined || procs.length === 0 ? undefined : procs.reduce((a, p) => a + p.cpuSeconds, 0);
}

/** Main-thread CPU seconds of each process of the group, by PID. */
export function groupMainThreadSeconds(pgid: number): Map<number, number> | undefined {
  const procs = groupProcesses(pgid);
  if (procs === undefined) return undefined;
  return new Map(procs.filter((p) => p.mainThreadSeconds !== undefined).map((p) => [p.pid, p.mainThreadSeconds!]));
}

export interface RssPeaks {
  /** Highest RSS seen of any worker process (the one process when the member has no workers). */
  workerMaxBytes: number | undefined;
  /** Highest RSS seen of the supervisor, when the member has workers. */
  supervisorMaxBytes: number | undefined;
  /** How many worker processes were seen. */
  workers: number;
}

/**
 * Samples the RSS of every process of the group every `everyMs` until stopped, keeping the peak of
 * each. The group's leader (PID = PGID) is the supervisor when it has children, else the worker.
 */
export function sampleRss(pgid: number, everyMs = 250): () => RssPeaks {
  const peaks = new Map<number, number>();
  const sample = () => {
    for (const p of groupProcesses(pgid) ?? []) {
      if (p.rssBytes !== undefined) peaks.set(p.pid, Math.max(peaks.get(p.pid) ?? 0, p.rssBytes));
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    sample();
    const workers = [...peaks].filter(([pid]) => pid !== pgid).map(([, b]) => b);
    const leader = peaks.get(pgid);
    if (workers.length === 0) return { workerMaxBytes: leader, supervisorMaxBytes: undefined, workers: leader === undefined ? 0 : 1 };
    return { workerMaxBytes: Math.max(...workers), supervisorMaxBytes: leader, workers: workers.length };
  };
}
