import { Queue } from 'bullmq';
import { DEFAULT_PREFIX, type ExpiryJob, QUEUES, type RevocationListJob, type SlcRenewalJob } from './queue-names';
import type { RedisConnection } from './redis-connection';

/** Retry policy of every job the schedulers create: `attempts` in all, exponential backoff. */
export interface JobRetryPolicy {
  attempts: number;
  /** First retry after this, then doubling (1 s, 2 s, 4 s, …). */
  backoffMs: number;
}

export const DEFAULT_RETRY_POLICY: JobRetryPolicy = { attempts: 8, backoffMs: 1000 };

/** Job names within the queues (the dashboard shows them). */
export const JOB_NAMES = { slcRenewal: 'renew-slc', expiry: 'expiry-sweep', revocationList: 'publish-revocation-list' } as const;

export interface SchedulerIds {
  slcRenewal: string;
  expiry: string;
  revocationList: string;
}

/**
 * Deterministic scheduler ids, one per cluster and queue: every worker of a cluster upserts the same
 * ids, so there is one schedule however many workers run, and each tick is one job (BullMQ derives
 * the job id from the scheduler id and the tick time).
 */
export function schedulerIds(clusterId: string): SchedulerIds {
  return { slcRenewal: `${QUEUES.slcRenewal}:${clusterId}`, expiry: `${QUEUES.expiry}:${clusterId}`, revocationList: `${QUEUES.revocationList}:${clusterId}` };
}

export interface EnsureSchedulersOptions {
  connection: RedisConnection;
  prefix?: string | undefined;
  clusterId: string;
  /** revocationListMs defaults to expiryMs (the job only signs when the list changed or is a day old). */
  every: { renewalMs: number; expiryMs: number; revocationListMs?: number };
  retry?: JobRetryPolicy;
}

/**
 * Creates or updates the two job schedulers of a cluster. Idempotent: called by every worker at
 * start-up; an unchanged schedule keeps its next tick, a changed interval replaces it.
 */
export async function ensureSchedulers(opts: EnsureSchedulersOptions): Promise<SchedulerIds> {
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
  const revocation = new Queue<RevocationListJob>(QUEUES.revocationList, { connection: opts.connection, prefix });
  try {
    await renewal.upsertJobScheduler(ids.slcRenewal, { every: opts.every.renewalMs }, { name: JOB_NAMES.slcRenewal, data: { clusterId: opts.clusterId }, opts: jobOpts });
    await expiry.upsertJobScheduler(ids.expiry, { every: opts.every.expiryMs }, { name: JOB_NAMES.expiry, data: { clusterId: opts.clusterId }, opts: jobOpts });
    await revocation.upsertJobScheduler(ids.revocationList, { every: opts.every.revocationListMs ?? opts.every.expiryMs }, { name: JOB_NAMES.revocationList, data: { clusterId: opts.clusterId }, opts: jobOpts });
  } finally {
    await Promise.all([renewal.close(), expiry.close(), revocation.close()]);
  }
  return ids;
}

export interface KeepSchedulersOptions extends EnsureSchedulersOptions {
  /** How often to look (default 15 s). */
  checkEveryMs?: number;
  /** The schedulers were missing (Redis restarted empty, someone removed them) and are back. */
  onRestored?: (ids: SchedulerIds) => void;
  onError?: (message: string) => void;
}

export interface SchedulerKeeper {
  /** Looks now; resolves true when it had to re-create a scheduler. */
  check(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Keeps the two schedulers of a cluster in Redis for as long as a worker runs: a Redis that
 * restarted without its data (or a `queues clean` gone too far) loses them, and without them no
 * renewal ever runs again. Every worker checks; re-creating is idempotent, so several workers
 * restoring at once still leave one schedule each.
 */
export function keepSchedulers(opts: KeepSchedulersOptions): SchedulerKeeper {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const ids = schedulerIds(opts.clusterId);
  const renewal = new Queue<SlcRenewalJob>(QUEUES.slcRenewal, { connection: opts.connection, prefix });
  const expiry = new Queue<ExpiryJob>(QUEUES.expiry, { connection: opts.connection, prefix });
  const revocation = new Queue<RevocationListJob>(QUEUES.revocationList, { connection: opts.connection, prefix });
  let running: Promise<boolean> | undefined;
  const check = (): Promise<boolean> => {
    running ??= (async () => {
      try {
        const [r, e, l] = await Promise.all([renewal.getJobScheduler(ids.slcRenewal), expiry.getJobScheduler(ids.expiry), revocation.getJobScheduler(ids.revocationList)]);
        if (r && e && l) return false;
        await ensureSchedulers(opts);
        opts.onRestored?.(ids);
        return true;
      } catch (err) {
        // Redis is down: the next look tries again; the worker's own connection reports the outage.
        opts.onError?.(err instanceof Error ? err.message : String(err));
        return false;
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  const timer = setInterval(() => void check(), opts.checkEveryMs ?? 15_000);
  timer.unref();
  return {
    check,
    async close() {
      clearInterval(timer);
      await running;
      await Promise.all([renewal.close(), expiry.close(), revocation.close()]);
    },
  };
}
