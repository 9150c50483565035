import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { background, type Background } from './processes';
import { tempDir } from './databases';

export interface Balancer {
  url: string;
  statsUrl: string;
  process: Background;
  /** Each server's status as HAProxy's health checks see it ('UP', 'DOWN', …). */
  status(): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

/**
 * A real HAProxy (Debian's) in front of one cluster, configured as deploy/haproxy/openrms.cfg
 * is: /readyz checks that require the cluster id, retries only for undelivered requests.
 */
export async function startHaproxy(opts: { port: number; statsPort: number; clusterId: string; servers: { name: string; port: number }[] }): Promise<Balancer> {
  const dir = tempDir('haproxy');
  const cfg = path.join(dir, 'haproxy.cfg');
  writeFileSync(
    cfg,
    `global
    maxconn 1024
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch 1
    retry-on conn-failure
frontend openrms
    bind 127.0.0.1:${opts.port}
    default_backend members
backend members
    balance roundrobin
    option httpchk GET /readyz
    http-check expect string "\\"id\\":\\"${opts.clusterId}\\""
    default-server inter 300ms fall 2 rise 1 check
${opts.servers.map((s) => `    server ${s.name} 127.0.0.1:${s.port}`).join('\n')}
listen stats
    bind 127.0.0.1:${opts.statsPort}
    stats enable
    stats uri /stats
`,
  );
  const process = background('haproxy', ['-db', '-f', cfg]);
  const statsUrl = `http://127.0.0.1:${opts.statsPort}/stats`;
  const status = async () => {
    const csv = await (await fetch(`${statsUrl};csv`)).text();
    const out: Record<string, string> = {};
    for (const line of csv.split('\n')) {
      const cols = line.split(',');
      if (cols[0] === 'members' && cols[1] !== 'BACKEND' && cols[1] !== 'FRONTEND' && cols[1]) out[cols[1]] = cols[17] ?? '';
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
export async function waitForStatus(b: Balancer, wanted: Record<string, string>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  let last: Record<string, string> = {};
  while (Date.now() < end) {
    last = await b.status();
    if (Object.entries(wanted).every(([k, v]) => (last[k] ?? '').startsWith(v))) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`HAProxy status ${JSON.stringify(last)} never reached ${JSON.stringify(wanted)}`);
}
