import { Queue } from 'bullmq';
import { DEFAULT_PREFIX, type ExpiryJob, QUEUES, type SlcRenewalJob } from './queue-names';
import type { RedisConnection } from './redis-connection';

/** Retry policy of every job the schedulers create: `attempts` in all, exponential backoff. */
export interface JobRetryPolicy {
  attempts: number;
  /** First retry after this, then doubling (1 s, 2 s, 4 s, …). */
  backoffMs: number;
}

export const DEFAULT_RETRY_POLICY: JobRetryPolicy = { attempts: 8, backoffMs: 1000 };

/** Job names within the queues (the dashboard shows them). */
export const JOB_NAMES = { slcRenewal: 'renew-slc', expiry: 'expiry-sweep' } as const;

/**
 * Deterministic scheduler ids, one per cluster and queue: every worker of a cluster upserts the same
 * ids, so there is one schedule however many workers run, and each tick is one job (BullMQ derives
 * the job id from the scheduler id and the tick time).
 */
export function schedulerIds(clusterId: string): { slcRenewal: string; expiry: string } {
  return { slcRenewal: `${QUEUES.slcRenewal}:${clusterId}`, expiry: `${QUEUES.expiry}:${clusterId}` };
}

export interface EnsureSchedulersOptions {
  connection: RedisConnection;
  prefix?: string | undefined;
  clusterId: string;
  every: { renewalMs: number; expiryMs: number };
  retry?: JobRetryPolicy;
}

/**
 * Creates or updates the two job schedulers of a cluster. Idempotent: called by every worker at
 * start-up; an unchanged schedule keeps its next tick, a changed interval replaces it.
 */
export async function ensureSchedulers(opts: EnsureSchedulersOptions): Promise<{ slcRenewal: string; expiry: string }> {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const retry = opts.retry ?? DEFAULT_RETRY_POLICY;
  const ids = schedulerIds(opts.clusterId);
  const jobOpts = {
    attempts: retry.attempts,
    backoff: { type: 'exponential', delay: retry.backoffMs },
    // Enough history for operators and the dashboard without growing Redis forever.
    removeOnComplete: { count: 200, age: 14 * 86_400 },
    removeOnFail: { count: 1000, age: 90 * 86_400 },
  };
  const renewal = new Queue<SlcRenewalJob>(QUEUES.slcRenewal, { connection: opts.connection, prefix });
  const expiry = new Queue<ExpiryJob>(QUEUES.expiry, { connection: opts.connection, prefix });
  try {
    await renewal.upsertJobScheduler(ids.slcRenewal, { every: opts.every.renewalMs }, { name: JOB_NAMES.slcRenewal, data: { clusterId: opts.clusterId }, opts: jobOpts });
    await expiry.upsertJobScheduler(ids.expiry, { every: opts.every.expiryMs }, { name: JOB_NAMES.expiry, data: { clusterId: opts.clusterId }, opts: jobOpts });
  } finally {
    await Promise.all([renewal.close(), expiry.close()]);
  }
  return ids;
}
