import { randomBytes } from 'node:crypto';
import { closeRedisClient, connectRedis, createRedisClient, QUEUES, queueStatus, type RedisClient } from '@openrms/jobs';
import { addFailedJobs, addJobScheduler, obliterateQueues } from '../packages/jobs/src/testing/queue-fixtures';
import { rmsctl } from './support/processes';
import { freePort } from './support/root-cluster';

const REDIS_URL = 'redis://127.0.0.1:6379';
/** Unique per run of this file: the commands below only ever see these queues. */
const PREFIX = `openrms-test-cli-${randomBytes(4).toString('hex')}`;
const SIX_HOURS = 6 * 3600_000;

describe('rmsctl queues against a real Redis', () => {
  let redis: RedisClient;
  const target = () => ({ connection: redis, prefix: PREFIX });
  const counts = async (queue: string) => (await queueStatus({ ...target(), queue }))[0]!.counts;

  beforeAll(async () => {
    redis = createRedisClient(REDIS_URL, { mode: 'fail-fast' });
    await connectRedis(redis);
    await addJobScheduler(target(), QUEUES.slcRenewal, 'slc-renewal-check', { every: SIX_HOURS });
    await addJobScheduler(target(), QUEUES.expiry, 'expiry-sweep', { pattern: '0 3 * * *' });
    await addFailedJobs(target(), QUEUES.expiry, 3);
  });
  afterAll(async () => {
    await obliterateQueues(target());
    await closeRedisClient(redis);
  });

  it('status prints the counts per queue and the next run of each scheduler', () => {
    const r = rmsctl(['queues', 'status', '--redis', REDIS_URL, '--prefix', PREFIX]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^QUEUE\s+WAITING\s+ACTIVE\s+DELAYED\s+FAILED\s+COMPLETED$/);
    const row = (q: string) => lines.find((l) => l.startsWith(`${q} `))!.trim().split(/\s+/);
    // certificate-expiry: 3 failed; its cron scheduler holds one delayed run.
    expect(row(QUEUES.expiry)).toEqual([QUEUES.expiry, '0', '0', '1', '3', '0']);
    expect(row(QUEUES.slcRenewal)[4]).toBe('0');
    expect(r.stdout).toMatch(/^SCHEDULER\s+QUEUE\s+EVERY\s+NEXT RUN$/m);
    expect(r.stdout).toMatch(new RegExp(`^slc-renewal-check\\s+${QUEUES.slcRenewal}\\s+every 6h\\s+\\d{4}-\\d\\d-\\d\\dT`, 'm'));
    const sweep = new RegExp(`^expiry-sweep\\s+${QUEUES.expiry}\\s+cron 0 3 \\* \\* \\*\\s+(\\S+) \\(in `, 'm').exec(r.stdout);
    expect(sweep).not.toBeNull();
    const next = new Date(sweep![1]!);
    expect(next.getUTCHours()).toBe(3);
    expect(next.getTime() - Date.now()).toBeLessThanOrEqual(86_400_000);
  });

  it('status --json and --queue give one queue as data', () => {
    const r = rmsctl(['queues', 'status', '--redis', REDIS_URL, '--prefix', PREFIX, '--queue', QUEUES.expiry, '--json']);
    expect(r.code).toBe(0);
    const data = JSON.parse(r.stdout);
    expect(data).toHaveLength(1);
    expect(data[0]).toMatchObject({ queue: QUEUES.expiry, counts: { failed: 3 }, schedulers: [{ id: 'expiry-sweep', pattern: '0 3 * * *' }] });
  });

  it('retry moves the failed jobs back to waiting and says how many', async () => {
    const r = rmsctl(['queues', 'retry', '--redis', REDIS_URL, '--prefix', PREFIX]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${QUEUES.expiry}: retried 3 jobs`);
    expect(r.stdout).toContain(`${QUEUES.slcRenewal}: retried 0 jobs`);
    expect(r.stdout).toContain('total: retried 3 jobs');
    expect(await counts(QUEUES.expiry)).toMatchObject({ failed: 0, waiting: 3 });
    // Nothing left to retry.
    expect(rmsctl(['queues', 'retry', '--redis', REDIS_URL, '--prefix', PREFIX, '--queue', QUEUES.expiry]).stdout.trim()).toBe(`${QUEUES.expiry}: retried 0 jobs`);
  });

  it('clean deletes failed jobs, honouring --older-than and --queue', async () => {
    await addFailedJobs(target(), QUEUES.slcRenewal, 2);
    expect((await counts(QUEUES.slcRenewal)).failed).toBe(2);
    const young = rmsctl(['queues', 'clean', '--redis', REDIS_URL, '--prefix', PREFIX, '--older-than', '1d']);
    expect(young.code).toBe(0);
    expect(young.stdout).toContain('total: removed 0 jobs');
    expect((await counts(QUEUES.slcRenewal)).failed).toBe(2);

    const r = rmsctl(['queues', 'clean', '--redis', REDIS_URL, '--prefix', PREFIX, '--queue', QUEUES.slcRenewal]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`${QUEUES.slcRenewal}: removed 2 jobs`);
    expect((await counts(QUEUES.slcRenewal)).failed).toBe(0);
    // The retried jobs of the other queue are untouched.
    expect((await counts(QUEUES.expiry)).waiting).toBe(3);
  });

  it('fails fast with one clear line when Redis is unreachable', async () => {
    const closed = await freePort();
    for (const sub of ['status', 'retry', 'clean']) {
      const started = Date.now();
      const r = rmsctl(['queues', sub, '--redis', `redis://127.0.0.1:${closed}`]);
      // Fails instead of retrying forever; the bound is for a loaded machine.
      expect(Date.now() - started).toBeLessThan(45_000);
      expect(r.code).toBe(6);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim()).toBe(`rmsctl queues ${sub}: Redis at 127.0.0.1:${closed} is unreachable (ECONNREFUSED)`);
    }
  });

  it('explains bad input with one line and exit code 2, and has --help', () => {
    const unknown = rmsctl(['queues', 'status', '--redis', REDIS_URL, '--queue', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim()).toBe(`rmsctl queues status: unknown queue "nope"; the queues are ${Object.values(QUEUES).join(', ')}`);
    const badUrl = rmsctl(['queues', 'status', '--redis', 'http://127.0.0.1:6379']);
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toMatch(/redis:\/\/ or rediss:\/\//);
    const badAge = rmsctl(['queues', 'clean', '--redis', REDIS_URL, '--older-than', 'soon']);
    expect(badAge.code).toBe(2);
    expect(rmsctl(['queues', 'status']).stderr.trim()).toBe('rmsctl queues status: --redis is required');
    const help = rmsctl(['queues', 'clean', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--older-than AGE');
    expect(rmsctl(['--help']).stdout).toContain('rmsctl queues status');
  });
});
