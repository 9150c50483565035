import { Queue, Worker } from 'bullmq';
import { DEFAULT_PREFIX, QUEUES, type QueueName } from '../queue-names';
import { closeRedisClient, type RedisClient } from '../queue-status';

/**
 * Test fixtures: put real jobs into real queues (a scheduler, failed jobs) so status, retry, clean,
 * metrics and the dashboard can be checked against what BullMQ itself wrote. Not exported from the
 * package index.
 */
export interface FixtureTarget {
  connection: RedisClient;
  prefix?: string;
}

function queue(t: FixtureTarget, name: QueueName): Queue {
  return new Queue(name, { connection: t.connection, prefix: t.prefix ?? DEFAULT_PREFIX });
}

/** Registers (or updates) a job scheduler; `every` in ms, or a cron `pattern`. */
export async function addJobScheduler(t: FixtureTarget, name: QueueName, id: string, repeat: { every: number } | { pattern: string }): Promise<void> {
  const q = queue(t, name);
  try {
    await q.upsertJobScheduler(id, repeat, { name: id, data: { clusterId: 'fixture' } });
  } finally {
    await q.close();
  }
}

/**
 * Adds `count` jobs and lets a worker fail each of them once (no retries), so they end in the
 * failed set. Other jobs waiting in the queue (a scheduler's) are completed on the way.
 */
export async function addFailedJobs(t: FixtureTarget, name: QueueName, count: number, message = 'fixture failure'): Promise<string[]> {
  const q = queue(t, name);
  // A Worker needs a blocking connection of its own.
  const blocking = t.connection.duplicate({ maxRetriesPerRequest: null, enableOfflineQueue: true });
  const worker = new Worker(
    name,
    async (job) => {
      // Jobs a scheduler put in the queue meanwhile complete; only the fixture's own fail.
      if (job.name.startsWith('fixture-')) throw new Error(message);
    },
    { connection: blocking, prefix: t.prefix ?? DEFAULT_PREFIX, autorun: false },
  );
  try {
    const jobs = await q.addBulk(Array.from({ length: count }, (_, i) => ({ name: `fixture-${i}`, data: { clusterId: 'fixture' }, opts: { attempts: 1 } })));
    const ids = new Set(jobs.map((j) => j.id!));
    const failed = new Promise<void>((resolve) => {
      worker.on('failed', (job) => {
        if (job?.id) ids.delete(job.id);
        if (ids.size === 0) resolve();
      });
    });
    void worker.run();
    await failed;
    return jobs.map((j) => j.id!);
  } finally {
    await worker.close();
    await q.close();
    await closeRedisClient(blocking);
  }
}

/** Removes every key of every queue under the prefix. */
export async function obliterateQueues(t: FixtureTarget): Promise<void> {
  for (const name of Object.values(QUEUES)) {
    const q = queue(t, name);
    try {
      await q.obliterate({ force: true });
    } finally {
      await q.close();
    }
  }
}
