import { Queue } from 'bullmq';
import { DEFAULT_PREFIX, QUEUES, type QueueName } from './queue-names';
import type { RedisConnection } from './redis-connection';

export type JobOutcomeState = 'completed' | 'failed' | 'active' | 'waiting' | 'delayed' | 'prioritized' | 'waiting-children' | 'unknown';

/** One job as operators (and tests) look at it: what happened, how often it was tried, why it failed. */
export interface JobOutcome {
  id: string;
  name: string;
  state: JobOutcomeState;
  data: unknown;
  attemptsMade: number;
  maxAttempts: number;
  failedReason: string | null;
  returnValue: unknown;
  processedBy: string | null;
  finishedAt: Date | null;
}

export interface JobOutcomeQuery {
  connection: RedisConnection;
  prefix?: string | undefined;
  queue: QueueName;
  /** Default: completed, failed and active. */
  states?: JobOutcomeState[];
  limit?: number;
}

/** The most recent jobs of a queue, newest first. */
export async function readJobOutcomes(q: JobOutcomeQuery): Promise<JobOutcome[]> {
  const queue = new Queue(q.queue, { connection: q.connection, prefix: q.prefix ?? DEFAULT_PREFIX });
  try {
    const states = q.states ?? ['completed', 'failed', 'active'];
    const jobs = await queue.getJobs(states as Parameters<Queue['getJobs']>[0], 0, (q.limit ?? 100) - 1);
    const out: JobOutcome[] = [];
    for (const j of jobs) {
      if (!j) continue;
      out.push({
        id: j.id ?? '',
        name: j.name,
        state: (await j.getState()) as JobOutcomeState,
        data: j.data,
        attemptsMade: j.attemptsMade,
        maxAttempts: j.opts.attempts ?? 1,
        failedReason: j.failedReason || null,
        returnValue: j.returnvalue ?? null,
        processedBy: j.processedBy ?? null,
        finishedAt: j.finishedOn ? new Date(j.finishedOn) : null,
      });
    }
    return out.sort((a, b) => (b.finishedAt?.getTime() ?? Infinity) - (a.finishedAt?.getTime() ?? Infinity));
  } finally {
    await queue.close();
  }
}

/** Deletes both queues of a prefix with everything in them (tests; decommissioning a cluster). */
export async function obliterateQueues(opts: { connection: RedisConnection; prefix: string }): Promise<void> {
  for (const name of Object.values(QUEUES)) {
    const queue = new Queue(name, { connection: opts.connection, prefix: opts.prefix });
    try {
      await queue.obliterate({ force: true });
    } finally {
      await queue.close();
    }
  }
}
