import { loadJobsConfig, loadWorkerConfig, parseDuration, redisDisplayUrl } from './jobs-config';
import { loadServerConfig } from './server-config';

describe('jobs configuration', () => {
  it('parses durations', () => {
    expect(parseDuration('250', 'x')).toBe(250);
    expect(parseDuration('250ms', 'x')).toBe(250);
    expect(parseDuration('4s', 'x')).toBe(4000);
    expect(parseDuration('1.5h', 'x')).toBe(5_400_000);
    expect(parseDuration('1d', 'x')).toBe(86_400_000);
    expect(() => parseDuration('soon', 'RMS_X')).toThrow(/RMS_X must be a duration/);
    expect(() => parseDuration('0', 'x')).toThrow(/between/);
  });

  it('has safe defaults and runs in-process without Redis', () => {
    const c = loadJobsConfig({}, {});
    expect(c).toMatchObject({ redisUrl: undefined, prefix: undefined, renewalWindowDays: 30, retentionDays: 90, warnDays: [30, 7, 1], attempts: 8, backoffMs: 1000, lockDurationMs: 30_000, stalledIntervalMs: 30_000, concurrency: 1, testJobDelayMs: 0 });
    expect(c.renewalEveryMs).toBe(6 * 3_600_000);
    expect(c.expiryEveryMs).toBe(3_600_000);
  });

  it('takes flags over the environment and validates both', () => {
    const env = { RMS_REDIS_URL: 'redis://10.0.0.1:6379', RMS_QUEUE_PREFIX: 'env', RMS_SLC_RENEWAL_WINDOW_DAYS: '45', RMS_JOB_ATTEMPTS: '3', RMS_JOB_BACKOFF: '200ms', RMS_SLC_WARN_DAYS: '60,14' };
    const c = loadJobsConfig({ redis: 'redis://127.0.0.1:6379/2', prefix: 'flag', renewalWindowDays: '40' }, env);
    expect(c).toMatchObject({ redisUrl: 'redis://127.0.0.1:6379/2', prefix: 'flag', renewalWindowDays: 40, attempts: 3, backoffMs: 200, warnDays: [60, 14] });
    expect(loadJobsConfig({}, env).prefix).toBe('env');
    expect(() => loadJobsConfig({ redis: 'http://x' }, {})).toThrow(/redis:\/\//);
    expect(() => loadJobsConfig({ prefix: 'a b' }, {})).toThrow(/--prefix/);
    expect(() => loadJobsConfig({ renewalWindowDays: '0' }, {})).toThrow(/--renewal-window-days/);
    expect(redisDisplayUrl('redis://user:s3cret@h:6379/0')).not.toContain('s3cret');
  });

  it('is part of the server configuration, and a worker needs Redis, a database and the key password', () => {
    expect(loadServerConfig({ database: 'sqlite::memory:', keyPasswordEnv: 'KP' }, { KP: 'pw' }).jobs.redisUrl).toBeUndefined();
    expect(loadServerConfig({ database: 'sqlite::memory:', keyPasswordEnv: 'KP', redis: 'redis://127.0.0.1:6379' }, { KP: 'pw' }).jobs.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(loadServerConfig({ database: 'sqlite::memory:', keyPasswordEnv: 'KP' }, { KP: 'pw', RMS_REDIS_URL: 'redis://r:6379' }).jobs.redisUrl).toBe('redis://r:6379');
    expect(() => loadWorkerConfig({ database: 'sqlite:x', keyPasswordEnv: 'KP' }, { KP: 'pw' })).toThrow(/--redis URL is required/);
    expect(() => loadWorkerConfig({ redis: 'redis://h:1', keyPasswordEnv: 'KP' }, { KP: 'pw' })).toThrow(/--database is required/);
    expect(() => loadWorkerConfig({ redis: 'redis://h:1', database: 'sqlite:x', keyPasswordEnv: 'KP' }, {})).toThrow(/KP/);
    const w = loadWorkerConfig({ redis: 'redis://h:1', database: 'sqlite:x', keyPasswordEnv: 'KP', name: 'w1' }, { KP: 'pw' });
    expect(w).toMatchObject({ databaseUrl: 'sqlite:x', redisUrl: 'redis://h:1', keyPassword: 'pw', workerName: 'w1' });
  });
});
