import { hostname } from 'node:os';
import { RmsError } from '@openrms/domain';
import { readSecretEnv, type Env } from './env';

/**
 * How the background jobs (SLC renewal, expiry sweep) run: on BullMQ workers when a Redis URL is
 * configured, otherwise on a timer inside each server (the embedded default).
 */
export interface JobsConfig {
  /** Redis URL (redis:// or rediss://); undefined means the server runs the jobs itself. */
  redisUrl: string | undefined;
  /** Redis key prefix of the queues; undefined means the jobs package default. One per cluster. */
  prefix: string | undefined;
  /** Renew the SLC when it ends within this many days. */
  renewalWindowDays: number;
  /** How often the renewal check runs. */
  renewalEveryMs: number;
  /** How often the expiry sweep runs. */
  expiryEveryMs: number;
  /** Request-log rows older than this are purged by the sweep. */
  retentionDays: number;
  /** SLC expiry warnings, in days before its end. */
  warnDays: number[];
  /** BullMQ retry policy of a job: attempts in all, exponential backoff from backoffMs. */
  attempts: number;
  backoffMs: number;
  /** A worker that stops renewing its lock (killed) loses its job to another after about this. */
  lockDurationMs: number;
  stalledIntervalMs: number;
  /** How often a worker checks that its job schedulers still exist in Redis (RMS_JOB_SCHEDULER_CHECK). */
  schedulerCheckEveryMs: number;
  concurrency: number;
  /** In-process mode: delay before the first run after start-up. */
  firstRunDelayMs: number;
  /** Test hook only: each renewal job waits this long before working (to kill a worker mid-job). */
  testJobDelayMs: number;
}

export interface JobsFlags {
  redis?: string | undefined;
  prefix?: string | undefined;
  renewalWindowDays?: string | undefined;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `250`, `250ms`, `4s`, `10m`, `12h`, `1d` → milliseconds. */
export function parseDuration(s: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i.exec(s.trim());
  if (!m) throw new RmsError('InvalidInput', `${what} must be a duration like 500ms, 30s, 10m, 12h or 1d, got "${s}"`);
  const ms = Math.round(Number(m[1]) * DURATION_UNITS[(m[2] ?? 'ms').toLowerCase()]!);
  if (!(ms >= 1 && ms <= 366 * 86_400_000)) throw new RmsError('InvalidInput', `${what} must be between 1 ms and a year`);
  return ms;
}

function parseCount(s: string, what: string, min: number, max: number): number {
  const n = Number(s.trim());
  if (!/^\d+$/.test(s.trim()) || n < min || n > max) throw new RmsError('InvalidInput', `${what} must be a whole number from ${min} to ${max}, got "${s}"`);
  return n;
}

export function parseRedisUrl(s: string): string {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new RmsError('InvalidInput', `--redis must be a redis:// or rediss:// URL, got "${s}"`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new RmsError('InvalidInput', `--redis must be a redis:// or rediss:// URL, got "${u.protocol}//…"`);
  return s;
}

/** The Redis URL without its password, for logs. */
export function redisDisplayUrl(s: string): string {
  const u = new URL(s);
  if (u.password) u.password = '***';
  return u.toString();
}

export function parsePrefix(s: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(s)) throw new RmsError('InvalidInput', `--prefix must be 1–64 letters, digits, '.', '_' or '-', got "${s}"`);
  return s;
}

/** Flags win over environment variables (RMS_*), which win over defaults. */
export function loadJobsConfig(flags: JobsFlags, env: Env = process.env): JobsConfig {
  const pick = (flag: string | undefined, name: string) => {
    const v = flag ?? env[name];
    return v === undefined || v === '' ? undefined : v;
  };
  const redis = pick(flags.redis, 'RMS_REDIS_URL');
  const prefix = pick(flags.prefix, 'RMS_QUEUE_PREFIX');
  const window = pick(flags.renewalWindowDays, 'RMS_SLC_RENEWAL_WINDOW_DAYS');
  const dur = (name: string, dflt: string, what: string) => parseDuration(pick(undefined, name) ?? dflt, what);
  const warn = pick(undefined, 'RMS_SLC_WARN_DAYS') ?? '30,7,1';
  return {
    redisUrl: redis === undefined ? undefined : parseRedisUrl(redis),
    prefix: prefix === undefined ? undefined : parsePrefix(prefix),
    renewalWindowDays: window === undefined ? 30 : parseCount(window, '--renewal-window-days', 1, 3650),
    renewalEveryMs: dur('RMS_SLC_RENEWAL_EVERY', '6h', 'RMS_SLC_RENEWAL_EVERY'),
    expiryEveryMs: dur('RMS_EXPIRY_SWEEP_EVERY', '1h', 'RMS_EXPIRY_SWEEP_EVERY'),
    retentionDays: parseCount(pick(undefined, 'RMS_REQUEST_LOG_RETENTION_DAYS') ?? '90', 'RMS_REQUEST_LOG_RETENTION_DAYS', 1, 36500),
    warnDays: warn.split(',').map((d) => parseCount(d, 'RMS_SLC_WARN_DAYS', 1, 3650)),
    attempts: parseCount(pick(undefined, 'RMS_JOB_ATTEMPTS') ?? '8', 'RMS_JOB_ATTEMPTS', 1, 100),
    backoffMs: dur('RMS_JOB_BACKOFF', '1s', 'RMS_JOB_BACKOFF'),
    lockDurationMs: dur('RMS_JOB_LOCK_DURATION', '30s', 'RMS_JOB_LOCK_DURATION'),
    stalledIntervalMs: dur('RMS_JOB_STALLED_INTERVAL', '30s', 'RMS_JOB_STALLED_INTERVAL'),
    schedulerCheckEveryMs: dur('RMS_JOB_SCHEDULER_CHECK', '15s', 'RMS_JOB_SCHEDULER_CHECK'),
    concurrency: parseCount(pick(undefined, 'RMS_JOB_CONCURRENCY') ?? '1', 'RMS_JOB_CONCURRENCY', 1, 64),
    firstRunDelayMs: dur('RMS_JOBS_FIRST_RUN', '10s', 'RMS_JOBS_FIRST_RUN'),
    testJobDelayMs: pick(undefined, 'RMS_TEST_JOB_DELAY') === undefined ? 0 : dur('RMS_TEST_JOB_DELAY', '0', 'RMS_TEST_JOB_DELAY'),
  };
}

export interface WorkerFlags extends JobsFlags {
  database?: string | undefined;
  keyPasswordEnv?: string | undefined;
  name?: string | undefined;
}

export interface WorkerConfig {
  databaseUrl: string;
  redisUrl: string;
  keyPassword: string;
  jobs: JobsConfig;
  /** Shown on jobs it processed (BullMQ processedBy) and in its logs. */
  workerName: string;
  logLevel: string;
}

/** `rmsctl worker`: a worker needs a database, Redis and the key password. */
export function loadWorkerConfig(flags: WorkerFlags, env: Env = process.env): WorkerConfig {
  const databaseUrl = flags.database ?? env.RMS_DATABASE_URL;
  if (!databaseUrl) throw new RmsError('InvalidInput', '--database URL is required (or set RMS_DATABASE_URL)');
  const jobs = loadJobsConfig(flags, env);
  if (!jobs.redisUrl) throw new RmsError('InvalidInput', '--redis URL is required (or set RMS_REDIS_URL)');
  return {
    databaseUrl,
    redisUrl: jobs.redisUrl,
    keyPassword: readSecretEnv(flags.keyPasswordEnv ?? 'RMS_KEY_PASSWORD', 'cluster key password', env),
    jobs,
    workerName: flags.name ?? env.RMS_WORKER_NAME ?? `${hostname()}:${process.pid}`,
    logLevel: env.RMS_LOG_LEVEL ?? 'info',
  };
}
