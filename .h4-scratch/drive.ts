/* H4 scratch: provision, start a member (optionally with NODE_OPTIONS), run one mix, print figures. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RmsClient } from '@openrms/client';
import { parseGrantSpec } from '@openrms/domain';
import { provisionBenchCluster } from '../scripts/bench/cluster';
import { freePort } from '../scripts/bench/free-port';
import { measureLoad } from '../scripts/bench/load';
import { acquireLicenseRequest, certifyRequest, checkOnce, plChainOf, readUserMaterial } from '../scripts/bench/requests';
import { startServerProcess } from '../scripts/bench/server-process';
import { ColdPlPool } from '../scripts/bench/cold-pls';

async function main() {
  const workers = Number(process.env.W ?? 2);
  const mix = process.env.MIX ?? 'certify';
  const conns = (process.env.C ?? '16,64').split(',').map(Number);
  const seconds = Number(process.env.S ?? 4);
  const workDir = mkdtempSync(path.join(tmpdir(), 'h4-'));
  const port = await freePort();
  const cluster = await provisionBenchCluster({ workDir, clusterUrl: `http://127.0.0.1:${port}/_wmcs`, serverName: 'b1', keyProtection: 'software' });
  const env: Record<string, string> = { ...cluster.serverEnv };
  if (process.env.PROF) { env.NODE_OPTIONS = `--require ${path.resolve(__dirname, 'prof.js')}`; env.H4_PROF_DIR = process.env.PROF; }
  const server = await startServerProcess({ databaseUrl: cluster.databaseUrl, listen: `127.0.0.1:${port}`, serverName: 'b1', args: [...cluster.serverArgs, '--state-dir', path.join(workDir, 'state')], env, workers });
  try {
    const wmcs = `${server.url}/_wmcs`;
    const { users } = cluster;
    const stateDir = path.join(workDir, 'client-state');
    const alice = new RmsClient({ serverUrl: server.url, user: users.alice.name, password: users.alice.password, stateDir });
    const file = await alice.protect(Buffer.from('x'), { grants: parseGrantSpec(`${users.bob.email}:VIEW`), name: 'b.txt' });
    const bob = new RmsClient({ serverUrl: server.url, user: users.bob.name, password: users.bob.password, stateDir });
    await bob.open(file);
    const m = readUserMaterial(bob.stateFolder);
    const req = mix === 'certify' ? certifyRequest(wmcs, users.bob, m.spc) : acquireLicenseRequest(wmcs, users.bob, m.racChain[0]!, plChainOf(file));
    await checkOnce(req, m.rootKey, users.bob.email);
    let pool: ColdPlPool | undefined;
    for (const c of conns) {
      let target: any = { url: req.url, headers: req.headers, body: req.body };
      if (mix === 'cold') {
        pool ??= await ColdPlPool.start({ serverUrl: server.url, user: users.alice.name, password: users.alice.password, ownerEmail: users.alice.email, grants: `${users.bob.email}:VIEW` });
        const n = Number(process.env.NPL ?? 1500);
        await pool.fill(n);
        const bodies: string[] = [];
        for (let i = 0; i < n; i++) bodies.push(acquireLicenseRequest(wmcs, users.bob, m.racChain[0]!, pool.take()!).body);
        let next = 0;
        target = { url: req.url, headers: req.headers, nextBody: () => (next < bodies.length ? bodies[next++] : undefined) };
      }
      const row = await measureLoad({ mix, target, connections: c, seconds, warmupSeconds: 1, maxRequests: 100000, warmupMaxRequests: mix === 'cold' ? 200 : 100000, serverCpu: () => server.cpuSeconds(), serverMainThreads: () => server.mainThreadSeconds(), beforeMeasure: async () => { if (process.env.PROF) process.kill(-server.child.pid!, 'SIGUSR2'); }, afterMeasure: async () => { if (process.env.PROF) { process.kill(-server.child.pid!, 'SIGUSR2'); await new Promise((r) => setTimeout(r, 1500)); } } });
      console.log(JSON.stringify({ mix, c, ok: +row.okPerSecond.toFixed(1), p50: row.p50Ms, p99: row.p99Ms, longest: row.longestWaitMs, cpuMs: row.serverCpuMsPerOk?.toFixed(2), cores: row.serverCores?.toFixed(2), mainCores: row.serverMainCores?.toFixed(2), other: row.otherCores?.toFixed(2), non2xx: row.non2xx, repeated: row.repeatedBodies }));
    }
    await pool?.close();
  } finally {
    await server.stop();
  }
}
main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
