import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { RmsError } from '@openrms/domain';
import { DEFAULT_PREFIX, QUEUES, type QueueName } from './queue-names';

/** The Redis client the read-side helpers (status, metrics, dashboard, readiness) share. */
export type RedisClient = Redis;

export interface RedisClientOptions {
  /**
   * `fail-fast` (the CLI): one connection attempt, no reconnects, no offline queue, so an
   * unreachable Redis is an error within `connectTimeoutMs` instead of a hang.
   * `long-lived` (the server): reconnects forever with a capped back-off; each request gives up
   * after one retry so a scrape or a readiness probe is never held by a Redis outage.
   */
  mode: 'fail-fast' | 'long-lived';
  connectTimeoutMs?: number;
}

/** Default bound on connecting (and on one command in fail-fast mode). */
export const REDIS_CONNECT_TIMEOUT_MS = 3000;

/** The URL without its password, for messages and logs. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable Redis URL)';
  }
}

/**
 * Creates a client for `url` without connecting yet (connect with `connectRedis` or let the first
 * command do it). The last connection error is kept so messages can say why Redis is unreachable.
 */
export function createRedisClient(url: string, opts: RedisClientOptions): RedisClient {
  if (!/^rediss?:\/\//i.test(url)) {
    throw new RmsError('InvalidInput', `the Redis URL must start with redis:// or rediss://, got "${redactRedisUrl(url)}"`);
  }
  const connectTimeout = opts.connectTimeoutMs ?? REDIS_CONNECT_TIMEOUT_MS;
  const failFast = opts.mode === 'fail-fast';
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout,
    // Not a blocking connection (no Worker uses it), so BullMQ allows a finite retry count.
    maxRetriesPerRequest: failFast ? 0 : 1,
    enableOfflineQueue: !failFast,
    retryStrategy: failFast ? () => null : (times: number) => Math.min(times * 200, 2000),
    // ioredis waits this long for a socket that is already gone to close; 2 s by default holds a CLI's exit.
    disconnectTimeout: 300,
  });
  // Without a listener ioredis prints every connection error to stderr; callers get them as rejections.
  client.on('error', (err: Error) => {
    lastErrors.set(client, err);
  });
  return client;
}

const lastErrors = new WeakMap<RedisClient, Error>();

function unreachable(client: RedisClient, cause?: unknown): RmsError {
  const err = lastErrors.get(client) ?? (cause as Error | undefined);
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const why = code ?? (err?.message ? err.message.split('\n')[0] : 'no answer');
  const { host, port } = client.options;
  return new RmsError('Unavailable', `Redis at ${host ?? '127.0.0.1'}:${port ?? 6379} is unreachable (${why})`, { cause: err });
}

function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Closes the client without waiting on a socket that never opened; safe to call in any state. */
export async function closeRedisClient(client: RedisClient): Promise<void> {
  if (client.status === 'end') return;
  if (client.status === 'ready') {
    try {
      await withTimeout(client.quit(), 1000, () => new Error('QUIT timed out'));
      return;
    } catch {
      // Fall through to a hard disconnect.
    }
  }
  client.disconnect();
}

/** Connects (when not yet connected) and checks with a PING; an RmsError('Unavailable') when Redis does not answer. */
export async function connectRedis(client: RedisClient, timeoutMs: number = REDIS_CONNECT_TIMEOUT_MS): Promise<void> {
  try {
    if (client.status === 'wait' || client.status === 'end') await withTimeout(client.connect(), timeoutMs, () => unreachable(client));
    await pingRedis(client, timeoutMs);
  } catch (e) {
    throw e instanceof RmsError ? e : unreachable(client, e);
  }
}

/** One PING bounded by `timeoutMs`; rejects with RmsError('Unavailable') when it gets no PONG in time. */
export async function pingRedis(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === 'end' || client.status === 'close') throw unreachable(client);
  try {
    const answer = await withTimeout(client.ping(), timeoutMs, () => unreachable(client, new Error(`no PONG within ${timeoutMs} ms`)));
    if (answer !== 'PONG') throw new Error(`unexpected answer to PING: ${answer}`);
  } catch (e) {
    throw e instanceof RmsError ? e : unreachable(client, e);
  }
}

export interface QueueTarget {
  connection: RedisClient;
  /** Key prefix in Redis (default DEFAULT_PREFIX); the worker must use the same. */
  prefix?: string;
  /** One queue by name; every queue in QUEUES when absent. */
  queue?: string;
}

export const JOB_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;
export type JobState = (typeof JOB_STATES)[number];

export interface JobSchedulerInfo {
  id: string;
  /** Name of the jobs it produces. */
  name: string;
  pattern?: string;
  everyMs?: number;
  tz?: string;
  /** When it next produces a job; absent when it has ended. */
  next?: Date;
}

export interface QueueStatus {
  queue: QueueName;
  counts: Record<JobState, number>;
  schedulers: JobSchedulerInfo[];
}

const ALL_QUEUES = Object.values(QUEUES) as QueueName[];

function queuesOf(t: QueueTarget): QueueName[] {
  if (t.queue === undefined) return ALL_QUEUES;
  if (!(ALL_QUEUES as string[]).includes(t.queue)) {
    throw new RmsError('InvalidInput', `unknown queue "${t.queue}"; the queues are ${ALL_QUEUES.join(', ')}`);
  }
  return [t.queue as QueueName];
}

/** Runs `fn` on a Queue object bound to the shared connection; the connection itself stays open. */
async function withQueue<T>(t: QueueTarget, name: QueueName, fn: (q: Queue) => Promise<T>): Promise<T> {
  const q = new Queue(name, { connection: t.connection, prefix: t.prefix ?? DEFAULT_PREFIX });
  // Connection errors surface as rejections of the calls below; the event must not crash the process.
  q.on('error', () => undefined);
  try {
    return await fn(q);
  } finally {
    await q.close().catch(() => undefined);
  }
}

/** Job counts per state and the next run of each job scheduler, for every queue (or one). */
export async function queueStatus(t: QueueTarget): Promise<QueueStatus[]> {
  return Promise.all(
    queuesOf(t).map((name) =>
      withQueue(t, name, async (q) => {
        const c = await q.getJobCounts('waiting', 'prioritized', 'waiting-children', 'active', 'delayed', 'failed', 'completed');
        const schedulers = await q.getJobSchedulers(0, -1, true);
        return {
          queue: name,
          counts: {
            // Prioritised jobs and parents waiting for children are still waiting to run, as an operator sees it.
            waiting: (c.waiting ?? 0) + (c.prioritized ?? 0) + (c['waiting-children'] ?? 0),
            active: c.active ?? 0,
            delayed: c.delayed ?? 0,
            failed: c.failed ?? 0,
            completed: c.completed ?? 0,
          },
          schedulers: schedulers.map((s) => ({
            id: s.id ?? s.key,
            name: s.name,
            ...(s.pattern ? { pattern: s.pattern } : {}),
            ...(s.every ? { everyMs: Number(s.every) } : {}),
            ...(s.tz ? { tz: s.tz } : {}),
            ...(s.next !== undefined && s.next !== null ? { next: new Date(Number(s.next)) } : {}),
          })),
        } satisfies QueueStatus;
      }),
    ),
  );
}

/** Jobs read per round trip when retrying. */
const RETRY_PAGE = 200;
/** Jobs removed per round trip when cleaning. */
const CLEAN_BATCH = 1000;

/**
 * Moves every failed job back to waiting (keeping its data; attempts start again). Returns how
 * many jobs each queue re-queued. A job that fails again while this runs is not retried twice.
 */
export async function retryFailed(t: QueueTarget): Promise<{ queue: QueueName; retried: number }[]> {
  const out: { queue: QueueName; retried: number }[] = [];
  for (const name of queuesOf(t)) {
    const retried = await withQueue(t, name, async (q) => {
      const seen = new Set<string>();
      for (;;) {
        const page = (await q.getJobs(['failed'], 0, RETRY_PAGE - 1, true)).filter((j) => j?.id && !seen.has(j.id));
        if (page.length === 0) break;
        for (const job of page) {
          seen.add(job.id!);
          // A job removed or retried by someone else in between is simply not counted.
          await (job as { retry(state: 'failed'): Promise<void> }).retry('failed').catch(() => seen.delete(job.id!));
        }
      }
      return seen.size;
    });
    out.push({ queue: name, retried });
  }
  return out;
}

/** Deletes failed jobs that finished more than `olderThanMs` ago (all failed jobs by default). */
export async function cleanFailed(t: QueueTarget & { olderThanMs?: number }): Promise<{ queue: QueueName; removed: number }[]> {
  const grace = t.olderThanMs ?? 0;
  if (!Number.isFinite(grace) || grace < 0) throw new RmsError('InvalidInput', 'olderThanMs must be zero or more');
  const out: { queue: QueueName; removed: number }[] = [];
  for (const name of queuesOf(t)) {
    const removed = await withQueue(t, name, async (q) => {
      let n = 0;
      for (;;) {
        const ids = await q.clean(grace, CLEAN_BATCH, 'failed');
        n += ids.length;
        if (ids.length < CLEAN_BATCH) return n;
      }
    });
    out.push({ queue: name, removed });
  }
  return out;
}
