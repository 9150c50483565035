import { hostname } from 'node:os';
import { RmsError } from '@openrms/domain';
import { type ConfigFile, DATABASE_REQUIRED, type SettingFlags, type SettingKey, SettingReader } from './config-file';
import { type Env } from './env';
import { readKeySecret } from './key-secret';
import { parseCount, parseCountList, parseDatabaseUrl, parseDuration, parseEnvVarName, parseLogLevel, parsePrefix, parseRedisUrl } from './setting-parsers';

// The parsers moved to ./setting-parsers (config-file needs them without importing this file).
export { parseDuration, parsePrefix, parseRedisUrl } from './setting-parsers';

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

/** Flags of the job settings (text, as given); see SETTINGS in ./config-file for their names. */
export type JobsFlags = Pick<
  SettingFlags,
  | 'redis'
  | 'prefix'
  | 'renewalWindowDays'
  | 'slcRenewalEvery'
  | 'expirySweepEvery'
  | 'requestLogRetentionDays'
  | 'slcWarnDays'
  | 'jobAttempts'
  | 'jobBackoff'
  | 'jobLockDuration'
  | 'jobStalledInterval'
  | 'jobSchedulerCheck'
  | 'jobConcurrency'
  | 'jobsFirstRun'
>;

/** The Redis URL without its password, for logs. */
export function redisDisplayUrl(s: string): string {
  const u = new URL(s);
  if (u.password) u.password = '***';
  return u.toString();
}

/** Flag > environment (RMS_*) > configuration file > default. */
export function loadJobsConfig(flags: JobsFlags, env: Env = process.env, file?: ConfigFile): JobsConfig {
  return readJobsConfig(new SettingReader(flags, env, file), env);
}

/** The jobs part of a member's settings, read through the member's reader (one set of warnings). */
export function readJobsConfig(r: SettingReader, env: Env): JobsConfig {
  const dur = (key: SettingKey, dflt: string) => r.parse(key, parseDuration) ?? parseDuration(dflt, key);
  const count = (key: SettingKey, dflt: number, min: number, max: number) => r.parse(key, (v, w) => parseCount(v, w, min, max)) ?? dflt;
  const testDelay = env.RMS_TEST_JOB_DELAY;
  return {
    redisUrl: r.parse('redis', parseRedisUrl),
    prefix: r.parse('prefix', parsePrefix),
    renewalWindowDays: count('renewal-window-days', 30, 1, 3650),
    renewalEveryMs: dur('slc-renewal-every', '6h'),
    expiryEveryMs: dur('expiry-sweep-every', '1h'),
    retentionDays: count('request-log-retention-days', 90, 1, 36500),
    warnDays: r.parse('slc-warn-days', (v, w) => parseCountList(v, w, 1, 3650)) ?? [30, 7, 1],
    attempts: count('job-attempts', 8, 1, 100),
    backoffMs: dur('job-backoff', '1s'),
    lockDurationMs: dur('job-lock-duration', '30s'),
    stalledIntervalMs: dur('job-stalled-interval', '30s'),
    schedulerCheckEveryMs: dur('job-scheduler-check', '15s'),
    concurrency: count('job-concurrency', 1, 1, 64),
    firstRunDelayMs: dur('jobs-first-run', '10s'),
    // A test hook, deliberately not a setting: no flag, no file key.
    testJobDelayMs: testDelay === undefined || testDelay === '' ? 0 : parseDuration(testDelay, 'RMS_TEST_JOB_DELAY'),
  };
}

export type WorkerFlags = JobsFlags &
  Pick<SettingFlags, 'database' | 'keyPasswordEnv' | 'pkcs11PinEnv' | 'serverName' | 'logLevel'> & {
    /** Deprecated: --server-name. */
    name?: string | undefined;
  };

export interface WorkerConfig {
  databaseUrl: string;
  redisUrl: string;
  keyPassword: string;
  jobs: JobsConfig;
  /** Shown on jobs it processed (BullMQ processedBy) and in its logs. */
  workerName: string;
  logLevel: string;
  /** Deprecated names that were used; the worker logs them at start. */
  warnings?: string[];
}

/** `rmsctl worker`: a worker needs a database, Redis and the key password. */
export function loadWorkerConfig(flags: WorkerFlags, env: Env = process.env, file?: ConfigFile): WorkerConfig {
  const r = new SettingReader(flags, env, file);
  const databaseUrl = r.parse('database', parseDatabaseUrl);
  if (!databaseUrl) throw new RmsError('InvalidInput', DATABASE_REQUIRED);
  const jobs = readJobsConfig(r, env);
  if (!jobs.redisUrl) throw new RmsError('InvalidInput', '--redis URL is required (or set RMS_REDIS_URL, or put redis: in the --config file)');
  if (flags.name) r.warn('--name is deprecated; use --server-name');
  let workerName = flags.serverName || flags.name || r.parse('server-name', (v) => v);
  if (!workerName && env.RMS_WORKER_NAME) {
    r.warn('RMS_WORKER_NAME is deprecated; use RMS_SERVER_NAME');
    workerName = env.RMS_WORKER_NAME;
  }
  return {
    databaseUrl,
    redisUrl: jobs.redisUrl,
    keyPassword: readKeySecret(r, env),
    jobs,
    workerName: workerName || `${hostname()}:${process.pid}`,
    logLevel: r.parse('log-level', parseLogLevel) ?? 'info',
    ...(r.warnings.length ? { warnings: r.warnings } : {}),
  };
}
