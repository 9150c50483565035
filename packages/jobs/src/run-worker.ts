import { type Job, UnrecoverableError, Worker } from 'bullmq';
import { isRmsError } from '@openrms/domain';
import { DEFAULT_PREFIX, type ExpiryJob, QUEUES, type QueueName, type RevocationListJob, type SlcRenewalJob } from './queue-names';
import type { RedisConnection } from './redis-connection';

/** What a handler sees of its job: no BullMQ types leak into the apps. */
export interface JobContext<T> {
  id: string;
  name: string;
  data: T;
  /** 1 for the first try, 2 for the first retry, … */
  attempt: number;
  maxAttempts: number;
}

export interface WorkerHandlers {
  slcRenewal(job: JobContext<SlcRenewalJob>): Promise<unknown>;
  expiry(job: JobContext<ExpiryJob>): Promise<unknown>;
  /** Signs the revocation list when due; without it this worker takes no revocation-list jobs. */
  revocationList?(job: JobContext<RevocationListJob>): Promise<unknown>;
}

export type WorkerEvent =
  | { type: 'active'; queue: QueueName; jobId: string; attempt: number; maxAttempts: number }
  | { type: 'completed'; queue: QueueName; jobId: string; attempt: number; result: unknown }
  | { type: 'failed'; queue: QueueName; jobId: string; attempt: number; maxAttempts: number; reason: string; unrecoverable: boolean; final: boolean }
  | { type: 'stalled'; queue: QueueName; jobId: string }
  | { type: 'error'; queue: QueueName; message: string };

export interface StartWorkersOptions {
  connection: RedisConnection;
  prefix?: string | undefined;
  handlers: WorkerHandlers;
  /** Jobs of another cluster (a prefix shared by mistake) fail at once instead of running on the wrong database. */
  clusterId?: string;
  /** Shown as the job's processedBy. */
  name?: string;
  concurrency?: number;
  /**
   * A job whose worker stops renewing its lock (killed, frozen) is taken back after about
   * lockDurationMs + stalledIntervalMs and run by another worker.
   */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** How often one job may be taken back from dead workers before it fails. */
  maxStalledCount?: number;
  /** Failures retrying cannot fix: the job fails at once with its reason (BullMQ UnrecoverableError). */
  isUnrecoverable?: (err: unknown) => boolean;
  onEvent?: (e: WorkerEvent) => void;
}

export interface RunningWorkers {
  /** Stops taking jobs, lets the ones running finish, then resolves. */
  close(): Promise<void>;
}

/** The failure as stored in the job's failedReason: the error code first, never a stack. */
export function jobFailureReason(e: unknown): string {
  if (isRmsError(e)) return `${e.code}: ${e.message}`;
  if (e instanceof Error) return e.message || e.name;
  return String(e);
}

function contextOf<T>(job: Job<T>): JobContext<T> {
  return { id: job.id ?? '', name: job.name, data: job.data, attempt: job.attemptsMade + 1, maxAttempts: job.opts.attempts ?? 1 };
}

/**
 * One BullMQ worker per queue, both running the handlers the composition root passes in. Retries
 * follow the policy set on the jobs (ensureSchedulers); an error the classifier calls unrecoverable
 * fails the job at once, its reason kept as failedReason. Handlers must be idempotent (they re-check
 * whether anything is due), since a job taken back from a dead worker runs again.
 */
export function startWorkers(opts: StartWorkersOptions): RunningWorkers {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const emit = (e: WorkerEvent) => {
    try {
      opts.onEvent?.(e);
    } catch {
      // A broken logger must not break job processing.
    }
  };
  const isUnrecoverable = opts.isUnrecoverable ?? (() => false);

  const make = <T extends { clusterId: string }>(queue: QueueName, handler: (job: JobContext<T>) => Promise<unknown>) => {
    const worker = new Worker<T>(
      queue,
      async (job) => {
        if (opts.clusterId !== undefined && job.data?.clusterId !== opts.clusterId) {
          throw new UnrecoverableError(`job for cluster ${String(job.data?.clusterId)} reached a worker of cluster ${opts.clusterId}: give each cluster its own queue prefix`);
        }
        try {
          // null, not undefined: BullMQ stores the JSON of the return value.
          return (await handler(contextOf(job))) ?? null;
        } catch (e) {
          const reason = jobFailureReason(e);
          if (isUnrecoverable(e)) throw new UnrecoverableError(reason);
          throw new Error(reason);
        }
      },
      {
        connection: opts.connection,
        prefix,
        autorun: true,
        ...(opts.name ? { name: opts.name } : {}),
        concurrency: opts.concurrency ?? 1,
        lockDuration: opts.lockDurationMs ?? 30_000,
        stalledInterval: opts.stalledIntervalMs ?? 30_000,
        maxStalledCount: opts.maxStalledCount ?? 2,
      },
    );
    worker.on('active', (job) => {
      const c = contextOf(job);
      emit({ type: 'active', queue, jobId: c.id, attempt: c.attempt, maxAttempts: c.maxAttempts });
    });
    worker.on('completed', (job, result) => emit({ type: 'completed', queue, jobId: job.id ?? '', attempt: job.attemptsMade, result }));
    worker.on('failed', (job, err) => {
      const unrecoverable = err?.name === 'UnrecoverableError';
      const attempt = job?.attemptsMade ?? 0;
      const maxAttempts = job?.opts.attempts ?? 1;
      emit({ type: 'failed', queue, jobId: job?.id ?? '', attempt, maxAttempts, reason: err?.message ?? 'failed', unrecoverable, final: unrecoverable || attempt >= maxAttempts });
    });
    worker.on('stalled', (jobId) => emit({ type: 'stalled', queue, jobId }));
    worker.on('error', (err) => emit({ type: 'error', queue, message: err?.message ?? String(err) }));
    return worker;
  };

  const workers = [make<SlcRenewalJob>(QUEUES.slcRenewal, (j) => opts.handlers.slcRenewal(j)), make<ExpiryJob>(QUEUES.expiry, (j) => opts.handlers.expiry(j))];
  const revocationList = opts.handlers.revocationList;
  if (revocationList) workers.push(make<RevocationListJob>(QUEUES.revocationList, (j) => revocationList.call(opts.handlers, j)));
  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= Promise.all(workers.map((w) => w.close())).then(() => undefined);
      return closing;
    },
  };
}
