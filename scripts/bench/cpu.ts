/**
 * CPU accounting from /proc (Linux; elsewhere every figure is undefined): how much CPU the server,
 * this process (the load generator) and everything else on the machine used during a measurement.
 * The "everything else" share says how far a run was disturbed by other work on the machine.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/**
 * utime + stime of a process from /proc/PID/stat (fields 14 and 15, counted after the parenthesised
 * name), or of one of its threads from /proc/PID/task/TID/stat. A Node process's main thread (the
 * event loop) has TID = PID.
 */
export function processCpuSeconds(pid: number, tid?: number): number | undefined {
  try {
    const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state), so utime (14) and stime (15) are at 11 and 12.
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
    return (utime + stime) / ticksPerSecond();
  } catch {
    return undefined;
  }
}

/** Busy CPU seconds of the whole machine so far (all columns of /proc/stat's `cpu` line except idle and iowait). */
export function machineBusySeconds(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
    const busy = (v[0] ?? 0) + (v[1] ?? 0) + (v[2] ?? 0) + (v[5] ?? 0) + (v[6] ?? 0) + (v[7] ?? 0);
    return Number.isFinite(busy) ? busy / ticksPerSecond() : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds of this process, all its threads (worker threads included). */
export function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

export interface CpuWindow {
  /** Average cores busy over the window: the server under test (all its processes and threads). */
  serverCores: number | undefined;
  /**
   * The busiest main thread (event loop) among the server's processes: 1.0 means that loop never
   * waited. With worker processes, each has its own loop; this is the highest of them.
   */
  serverMainCores: number | undefined;
  selfCores: number;
  /** Cores used by each extra meter (another member, HAProxy …), by name. */
  extraCores: Record<string, number | undefined>;
  /** Everything else on the machine (other processes, the kernel): the disturbance. */
  otherCores: number | undefined;
  serverSeconds: number | undefined;
  /** Wall seconds of the window. */
  wallSeconds: number;
}

export type CpuMeter = () => number | undefined;

/**
 * Starts a window; call the result to close it. `mainThreads` gives the main-thread CPU seconds of
 * each server process by PID; `extra` meters are reported apart and left out of "other".
 */
export function cpuWindow(
  serverCpu: CpuMeter,
  mainThreads: () => Map<number, number> | undefined = () => undefined,
  extra: Record<string, CpuMeter> = {},
): () => CpuWindow {
  const t0 = process.hrtime.bigint();
  const m0 = machineBusySeconds();
  const s0 = serverCpu();
  const e0 = mainThreads();
  const x0 = Object.fromEntries(Object.entries(extra).map(([k, f]) => [k, f()]));
  const p0 = selfCpuSeconds();
  return () => {
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const m1 = machineBusySeconds();
    const s1 = serverCpu();
    const e1 = mainThreads();
    const p1 = selfCpuSeconds();
    const server = s0 !== undefined && s1 !== undefined ? s1 - s0 : undefined;
    let main: number | undefined;
    if (e0 && e1) {
      for (const [pid, after] of e1) {
        const before = e0.get(pid);
        if (before !== undefined) main = Math.max(main ?? 0, after - before);
      }
    }
    const extraSeconds: Record<string, number | undefined> = {};
    for (const [k, f] of Object.entries(extra)) {
      const a = x0[k];
      const b = f();
      extraSeconds[k] = a !== undefined && b !== undefined ? b - a : undefined;
    }
    const self = p1 - p0;
    const machine = m0 !== undefined && m1 !== undefined ? m1 - m0 : undefined;
    const extraTotal = Object.values(extraSeconds).reduce<number>((a, b) => a + (b ?? 0), 0);
    return {
      serverCores: server === undefined ? undefined : server / wall,
      serverMainCores: main === undefined ? undefined : main / wall,
      selfCores: self / wall,
      extraCores: Object.fromEntries(Object.entries(extraSeconds).map(([k, v]) => [k, v === undefined ? undefined : v / wall])),
      otherCores: machine === undefined ? undefined : Math.max(0, machine - self - (server ?? 0) - extraTotal) / wall,
      serverSeconds: server,
      wallSeconds: wall,
    };
  };
}
