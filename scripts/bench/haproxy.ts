/**
 * HAProxy on loopback in front of the bench's members, running the shipped configuration
 * (deploy/haproxy/openrms.cfg) with only what a loopback run needs changed: the frontend on a free
 * loopback port instead of :443 with a certificate, the stats listener on another, this cluster's
 * id, these members, and no request log (at thousands of requests a second, writing it would take
 * CPU from the members on a small machine). Checks, queueing and per-member connection bounds
 * (maxconn, timeout queue) are the file as shipped.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { processCpuSeconds } from './cpu';
import { REPO } from './server-process';

export const SHIPPED_HAPROXY_CFG = path.join(REPO, 'deploy', 'haproxy', 'openrms.cfg');

export interface HaproxyOptions {
  port: number;
  statsPort: number;
  clusterId: string;
  servers: { name: string; port: number }[];
}

export function renderHaproxyConfig(o: HaproxyOptions): string {
  const lines: string[] = [];
  let serversWritten = false;
  for (const line of readFileSync(SHIPPED_HAPROXY_CFG, 'utf8').split('\n')) {
    const t = line.trim();
    if (t.startsWith('bind :443')) {
      lines.push(`    bind 127.0.0.1:${o.port}`);
      continue;
    }
    if (t.startsWith('bind 127.0.0.1:8404')) {
      lines.push(`    bind 127.0.0.1:${o.statsPort}`);
      continue;
    }
    if (t.startsWith('server ')) {
      if (!serversWritten) lines.push(...o.servers.map((s) => `    server ${s.name} 127.0.0.1:${s.port}`));
      serversWritten = true;
      continue;
    }
    // No log target: HAProxy then writes no request log.
    if (/^log\s+stdout\b/.test(t)) continue;
    lines.push(line.replace(/CLUSTER_ID/g, o.clusterId));
  }
  if (!serversWritten || !lines.some((l) => l.includes(`cluster=${o.clusterId}`))) {
    throw new Error(`${SHIPPED_HAPROXY_CFG} no longer has the parts the bench substitutes (server lines, CLUSTER_ID)`);
  }
  return lines.join('\n');
}

export interface Haproxy {
  url: string;
  child: ChildProcess;
  cpuSeconds(): number | undefined;
  /** Each server's status as HAProxy's checks see it ('UP', 'DOWN', …). */
  status(): Promise<Record<string, string>>;
  output(): string;
  stop(): Promise<void>;
}

export function haproxyAvailable(): boolean {
  return spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).status === 0;
}

/** Starts HAProxy and resolves once every member is UP in its checks. */
export async function startHaproxy(o: HaproxyOptions & { dir: string; upWithinMs?: number }): Promise<Haproxy> {
  const cfg = path.join(o.dir, `haproxy-${o.port}.cfg`);
  writeFileSync(cfg, renderHaproxyConfig(o));
  const child = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const onData = (d: Buffer) => {
    out = (out + d.toString()).slice(-16_384);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const statsUrl = `http://127.0.0.1:${o.statsPort}/stats;csv`;
  const status = async () => {
    const csv = await (await fetch(statsUrl, { signal: AbortSignal.timeout(2000) })).text();
    const res: Record<string, string> = {};
    for (const line of csv.split('\n')) {
      const cols = line.split(',');
      if (cols[0] === 'openrms_members' && cols[1] && cols[1] !== 'BACKEND' && cols[1] !== 'FRONTEND') res[cols[1]] = cols[17] ?? '';
    }
    return res;
  };
  const h: Haproxy = {
    url: `http://127.0.0.1:${o.port}`,
    child,
    cpuSeconds: () => (child.pid === undefined ? undefined : processCpuSeconds(child.pid)),
    status,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
    },
  };
  const deadline = Date.now() + (o.upWithinMs ?? 30_000);
  let last: Record<string, string> = {};
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`haproxy exited (code ${child.exitCode}):\n${out}`);
    try {
      last = await status();
      if (o.servers.every((s) => (last[s.name] ?? '').startsWith('UP'))) return h;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await h.stop();
  throw new Error(`HAProxy never saw every member UP (last: ${JSON.stringify(last)}):\n${out}`);
}
