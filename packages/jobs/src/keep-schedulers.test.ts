import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { readJobOutcomes } from './job-outcomes';
import { QUEUES } from './queue-names';
import { closeRedis, connectWorkerRedis, type RedisConnection } from './redis-connection';
import { startWorkers, type RunningWorkers } from './run-worker';
import { keepSchedulers, type SchedulerKeeper } from './schedulers';

/*
 * A Redis of its own (a real redis-server on a free loopback port), so the test can restart it
 * empty, as a Redis without persistence does, without touching the Redis other tests share.
 */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (${String(lastError ?? 'no error')})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('job schedulers survive a Redis that restarts empty', () => {
  let port: number;
  let redis: ChildProcess | undefined;
  let connection: RedisConnection;
  let keeper: SchedulerKeeper | undefined;
  let workers: RunningWorkers | undefined;
  const prefix = `openrms-test-keep-${randomBytes(4).toString('hex')}`;

  const startRedis = async () => {
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await until('redis-server to accept connections', () =>
      new Promise<true | undefined>((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port }, () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(undefined));
      }),
    );
  };
  const stopRedis = async () => {
    const r = redis;
    redis = undefined;
    if (!r || r.exitCode !== null) return;
    const exited = new Promise((resolve) => r.once('exit', resolve));
    r.kill('SIGKILL');
    await exited;
  };

  beforeAll(async () => {
    port = await freePort();
    await startRedis();
    connection = await connectWorkerRedis(`redis://127.0.0.1:${port}`);
  });
  afterAll(async () => {
    await keeper?.close();
    await workers?.close();
    await closeRedis(connection).catch(() => undefined);
    await stopRedis();
  });

  it('re-creates the missing schedulers and a due job runs again', async () => {
    const runs: string[] = [];
    workers = startWorkers({
      connection,
      prefix,
      clusterId: 'c1',
      handlers: {
        slcRenewal: async (j) => {
          runs.push(j.id);
          return { ok: true };
        },
        expiry: async () => ({ ok: true }),
      },
    });
    const restored: string[] = [];
    keeper = keepSchedulers({
      connection,
      prefix,
      clusterId: 'c1',
      every: { renewalMs: 500, expiryMs: 60_000 },
      checkEveryMs: 250,
      onRestored: (ids) => restored.push(ids.slcRenewal),
    });
    // The first look creates them (nothing was there), and the renewal schedule starts running.
    await until('a first renewal run', async () => (runs.length > 0 ? true : undefined));
    const before = restored.length;

    // Redis goes away and comes back with nothing in it.
    await stopRedis();
    await startRedis();
    await until('the schedulers to be re-created', async () => (restored.length > before ? true : undefined));
    const scheduled = await readJobOutcomes({ connection, prefix, queue: QUEUES.slcRenewal, states: ['waiting', 'delayed', 'active', 'completed'] });
    expect(scheduled.length).toBeGreaterThan(0);
    const seen = runs.length;
    await until('a renewal run after the restart', async () => (runs.length > seen ? true : undefined));
    // Looking again when all is in place changes nothing.
    expect(await keeper.check()).toBe(false);
  }, 120_000);
});
