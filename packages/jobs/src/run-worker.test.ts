import { randomBytes } from 'node:crypto';
import { RmsError } from '@openrms/domain';
import { readJobOutcomes, obliterateQueues, type JobOutcome } from './job-outcomes';
import { QUEUES, type QueueName } from './queue-names';
import { closeRedis, connectWorkerRedis, type RedisConnection } from './redis-connection';
import { startWorkers, type JobContext, type RunningWorkers, type WorkerEvent } from './run-worker';
import { ensureSchedulers, schedulerIds } from './schedulers';

const REDIS = 'redis://127.0.0.1:6379';
const prefix = `openrms-test-jobs-${randomBytes(4).toString('hex')}`;
let connection: RedisConnection;
const running: RunningWorkers[] = [];

beforeAll(async () => {
  connection = await connectWorkerRedis(REDIS);
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.close()));
  await obliterateQueues({ connection, prefix });
});
afterAll(async () => {
  await closeRedis(connection);
});

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const finished = (queue: QueueName, clusterId: string) =>
  until(`a finished ${queue} job`, async () => {
    const jobs = await readJobOutcomes({ connection, prefix, queue, states: ['completed', 'failed'] });
    return jobs.find((j) => (j.data as { clusterId: string }).clusterId === clusterId);
  });

const noop = async () => ({ ok: true });

describe('job schedulers and workers on a real Redis', () => {
  it('refuses an unreachable Redis at connect time', async () => {
    await expect(connectWorkerRedis('redis://127.0.0.1:1', { connectTimeoutMs: 500 })).rejects.toMatchObject({ code: 'Unavailable' });
  });

  it('creates one scheduler per queue and cluster, idempotently, with deterministic ids', async () => {
    const every = { renewalMs: 60_000, expiryMs: 60_000 };
    const a = await ensureSchedulers({ connection, prefix, clusterId: 'c1', every });
    const b = await ensureSchedulers({ connection, prefix, clusterId: 'c1', every });
    expect(a).toEqual(b);
    expect(a).toEqual(schedulerIds('c1'));
    expect(a.slcRenewal).toBe('slc-renewal:c1');
    // Each scheduler queued exactly one job for its first tick, however often it was ensured.
    const waiting = await readJobOutcomes({ connection, prefix, queue: QUEUES.slcRenewal, states: ['waiting', 'delayed'] });
    expect(waiting).toHaveLength(1);
    expect(waiting[0]!.id).toMatch(/^repeat:slc-renewal:c1:\d+$/);
    expect(waiting[0]!.maxAttempts).toBe(8);
    // The shared connection stays open for the caller.
    expect(await connection.ping()).toBe('PONG');
  });

  it('retries a failing job with exponential backoff and completes it; the handler sees its attempt', async () => {
    const attempts: number[] = [];
    const times: number[] = [];
    running.push(
      startWorkers({
        connection,
        prefix,
        handlers: {
          slcRenewal: async (job: JobContext<{ clusterId: string }>) => {
            attempts.push(job.attempt);
            times.push(Date.now());
            if (job.attempt < 3) throw new RmsError('Unavailable', 'root unreachable');
            return { renewed: true };
          },
          expiry: noop,
        },
      }),
    );
    await ensureSchedulers({ connection, prefix, clusterId: 'c2', every: { renewalMs: 60_000, expiryMs: 60_000 }, retry: { attempts: 5, backoffMs: 100 } });
    const job = await finished(QUEUES.slcRenewal, 'c2');
    expect(job).toMatchObject({ state: 'completed', attemptsMade: 3, returnValue: { renewed: true } });
    expect(attempts).toEqual([1, 2, 3]);
    // 100 ms, then 200 ms.
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(90);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(190);
  });

  it('fails after the last attempt and keeps the reason', async () => {
    const events: WorkerEvent[] = [];
    running.push(
      startWorkers({
        connection,
        prefix,
        onEvent: (e) => events.push(e),
        handlers: {
          slcRenewal: async () => {
            throw new RmsError('Unavailable', 'cannot reach http://root.test/_wmcs: ECONNREFUSED');
          },
          expiry: noop,
        },
      }),
    );
    await ensureSchedulers({ connection, prefix, clusterId: 'c3', every: { renewalMs: 60_000, expiryMs: 60_000 }, retry: { attempts: 3, backoffMs: 50 } });
    const job: JobOutcome = await finished(QUEUES.slcRenewal, 'c3');
    expect(job).toMatchObject({ state: 'failed', attemptsMade: 3, failedReason: 'Unavailable: cannot reach http://root.test/_wmcs: ECONNREFUSED' });
    const failures = events.filter((e): e is Extract<WorkerEvent, { type: 'failed' }> => e.type === 'failed' && e.queue === QUEUES.slcRenewal);
    expect(failures.map((f) => [f.attempt, f.final, f.unrecoverable])).toEqual([
      [1, false, false],
      [2, false, false],
      [3, true, false],
    ]);
  });

  it('fails an unrecoverable error at once, reason kept, and refuses jobs of another cluster', async () => {
    let calls = 0;
    running.push(
      startWorkers({
        connection,
        prefix,
        clusterId: 'c4',
        isUnrecoverable: (e) => e instanceof RmsError && e.code === 'AccessDenied',
        handlers: {
          slcRenewal: async () => {
            calls++;
            throw new RmsError('AccessDenied', 'SubEnrollService.asmx refused: UnauthorizedAccessException');
          },
          expiry: async () => {
            calls++;
            return null;
          },
        },
      }),
    );
    await ensureSchedulers({ connection, prefix, clusterId: 'c4', every: { renewalMs: 60_000, expiryMs: 60_000 }, retry: { attempts: 5, backoffMs: 50 } });
    const job = await finished(QUEUES.slcRenewal, 'c4');
    expect(job).toMatchObject({ state: 'failed', attemptsMade: 1, failedReason: 'AccessDenied: SubEnrollService.asmx refused: UnauthorizedAccessException' });
    await finished(QUEUES.expiry, 'c4');
    expect(calls).toBe(2);
    await ensureSchedulers({ connection, prefix, clusterId: 'other', every: { renewalMs: 60_000, expiryMs: 60_000 }, retry: { attempts: 5, backoffMs: 50 } });
    const foreign = await finished(QUEUES.expiry, 'other');
    expect(foreign).toMatchObject({ state: 'failed', attemptsMade: 1 });
    expect(foreign.failedReason).toMatch(/reached a worker of cluster c4/);
    expect(calls).toBe(2);
  });

  it('closes gracefully: the running job finishes first', async () => {
    let started!: () => void;
    const isStarted = new Promise<void>((r) => (started = r));
    let done = false;
    const w = startWorkers({
      connection,
      prefix,
      handlers: {
        slcRenewal: async () => {
          started();
          await new Promise((r) => setTimeout(r, 600));
          done = true;
          return 'finished';
        },
        expiry: noop,
      },
    });
    await ensureSchedulers({ connection, prefix, clusterId: 'c5', every: { renewalMs: 60_000, expiryMs: 60_000 } });
    await isStarted;
    await w.close();
    expect(done).toBe(true);
    const job = await finished(QUEUES.slcRenewal, 'c5');
    expect(job).toMatchObject({ state: 'completed', returnValue: 'finished' });
  });
});
