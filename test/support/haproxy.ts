import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { background, REPO, type Background } from './processes';
import { tempDir } from './databases';

export interface Balancer {
  url: string;
  statsUrl: string;
  process: Background;
  /** Each server's status as HAProxy's health checks see it ('UP', 'DOWN', …). */
  status(): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

/** The shipped configuration, deploy/haproxy/openrms.cfg. */
export const SHIPPED_HAPROXY_CFG = path.join(REPO, 'deploy', 'haproxy', 'openrms.cfg');

/**
 * The shipped configuration made to run here: its frontend bound to a loopback port instead of
 * :443 with a certificate, this cluster's id, these members, its stats on another loopback port,
 * and (when `checkEvery` is given) a shorter check interval so tests do not wait on the clock.
 * Everything else (checks, retries, connection bounds) is the file as shipped.
 */
export function renderShippedConfig(opts: { port: number; statsPort: number; clusterId: string; servers: { name: string; port: number }[]; checkEvery?: string }): string {
  const shipped = readFileSync(SHIPPED_HAPROXY_CFG, 'utf8');
  const lines: string[] = [];
  let serversWritten = false;
  for (const line of shipped.split('\n')) {
    const t = line.trim();
    if (t.startsWith('bind :443')) {
      lines.push(`    bind 127.0.0.1:${opts.port}`);
      continue;
    }
    if (t.startsWith('bind 127.0.0.1:8404')) {
      lines.push(`    bind 127.0.0.1:${opts.statsPort}`);
      continue;
    }
    if (t.startsWith('server ')) {
      if (!serversWritten) lines.push(...opts.servers.map((sv) => `    server ${sv.name} 127.0.0.1:${sv.port}`));
      serversWritten = true;
      continue;
    }
    let out = line.replace(/CLUSTER_ID/g, opts.clusterId);
    if (opts.checkEvery && t.startsWith('default-server')) out = out.replace(/\binter \S+/, `inter ${opts.checkEvery}`);
    lines.push(out);
  }
  if (!serversWritten || !lines.some((l) => l.includes(`cluster=${opts.clusterId}`))) throw new Error(`${SHIPPED_HAPROXY_CFG} no longer has the parts the tests substitute`);
  return lines.join('\n');
}

/** A real HAProxy (Debian's) in front of one cluster, running the shipped configuration. */
export async function startHaproxy(opts: { port: number; statsPort: number; clusterId: string; servers: { name: string; port: number }[]; checkEvery?: string }): Promise<Balancer> {
  const dir = tempDir('haproxy');
  const cfg = path.join(dir, 'haproxy.cfg');
  writeFileSync(cfg, renderShippedConfig({ checkEvery: '300ms', ...opts }));
  const process = background('haproxy', ['-db', '-f', cfg]);
  const statsUrl = `http://127.0.0.1:${opts.statsPort}/stats`;
  const status = async () => {
    const csv = await (await fetch(`${statsUrl};csv`)).text();
    const out: Record<string, string> = {};
    for (const line of csv.split('\n')) {
      const cols = line.split(',');
      if (cols[0] === 'openrms_members' && cols[1] !== 'BACKEND' && cols[1] !== 'FRONTEND' && cols[1]) out[cols[1]] = cols[17] ?? '';
    }
    return out;
  };
  for (let i = 0; i < 100; i++) {
    try {
      await status();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url: `http://127.0.0.1:${opts.port}`,
    statsUrl,
    process,
    status,
    async stop() {
      await process.stop();
    },
  };
}

/** Waits until every named server has the wanted status. */
export async function waitForStatus(b: Balancer, wanted: Record<string, string>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  let last: Record<string, string> = {};
  while (Date.now() < end) {
    last = await b.status();
    if (Object.entries(wanted).every(([k, v]) => (last[k] ?? '').startsWith(v))) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`HAProxy status ${JSON.stringify(last)} never reached ${JSON.stringify(wanted)}`);
}
