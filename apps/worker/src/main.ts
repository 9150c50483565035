import { parseArgs } from 'node:util';
import pino, { type Logger } from 'pino';
import { loadWorkerConfig, readMemberConfig, redisDisplayUrl, settingArgOptions, settingFlags, type WorkerConfig } from '@openrms/config';
import { RmsError } from '@openrms/domain';
import { checkClusterKeyPassword, isUnrecoverableJobError, publishRevocationList, renewSlcIfDue, runExpirySweep } from '@openrms/issuance';
import { closeRedis, connectWorkerRedis, DEFAULT_PREFIX, ensureSchedulers, keepSchedulers, startWorkers, type WorkerEvent } from '@openrms/jobs';
import { ClusterClient } from '@openrms/soap';
import { openStore, type Store } from '@openrms/store';

/** Exit codes shared with rmsctl (apps/cli/src/command.ts). */
const EXIT = { InvalidInput: 2, KeyPasswordInvalid: 4, NotProvisioned: 5, NotFound: 5, Unavailable: 6 } as const;

function createLogger(level: string): Logger {
  return pino({ level, redact: ['password', '*.password', 'keyPassword', '*.keyPassword', 'credentials'], base: { app: 'openrms-worker' } });
}

function serialise(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v ?? null)) as unknown;
}

/** Logs every job transition once, at a level an operator would want. */
function logEvent(logger: Logger, e: WorkerEvent): void {
  switch (e.type) {
    case 'active':
      logger.info({ queue: e.queue, jobId: e.jobId, attempt: e.attempt, maxAttempts: e.maxAttempts }, 'job started');
      return;
    case 'completed':
      logger.info({ queue: e.queue, jobId: e.jobId, attempt: e.attempt, result: e.result }, 'job completed');
      return;
    case 'failed':
      logger[e.final ? 'error' : 'warn'](
        { queue: e.queue, jobId: e.jobId, attempt: e.attempt, maxAttempts: e.maxAttempts, reason: e.reason, unrecoverable: e.unrecoverable },
        e.unrecoverable ? 'job failed: retrying cannot help' : e.final ? 'job failed after its last attempt' : 'job failed; retrying with backoff',
      );
      return;
    case 'stalled':
      logger.warn({ queue: e.queue, jobId: e.jobId }, 'job taken back from a worker that stopped (it will run again)');
      return;
    case 'error':
      logger.error({ queue: e.queue, err: e.message }, 'worker error');
  }
}

/**
 * Process entry of `rmsctl worker`: runs the SLC renewal and expiry sweep jobs of one cluster from
 * its BullMQ queues. Several may run for one cluster; each job runs on one of them.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      // Every setting of a worker (docs/operations.md, "Configuration"), --config, and --name (deprecated: --server-name).
      ...settingArgOptions('worker'),
      name: { type: 'string' },
    },
    strict: true,
  });
  // Flag > environment > the --config file (else RMS_CONFIG) > default.
  const config: WorkerConfig = loadWorkerConfig({ ...settingFlags(values), name: values.name }, undefined, readMemberConfig(values.config));
  const logger = createLogger(config.logLevel);
  for (const w of config.warnings ?? []) logger.warn(w);
  const prefix = config.jobs.prefix ?? DEFAULT_PREFIX;

  const store: Store = await openStore(config.databaseUrl, { migrate: false });
  try {
    await run(config, store, logger, prefix);
  } catch (e) {
    await store.close().catch(() => undefined);
    throw e;
  }
}

async function run(config: WorkerConfig, store: Store, logger: Logger, prefix: string): Promise<void> {
  const jobs = config.jobs;
  const cluster = await store.clusters.get();
  // A wrong password fails here, at start-up, rather than in every job. The key is kept, so the
  // jobs keep running after `rmsctl key change-password` (only a restart needs the new password).
  const clusterKey = await checkClusterKeyPassword(store, config.keyPassword);
  const connection = await connectWorkerRedis(config.redisUrl);

  const connectRoot = ({ url, credentials }: { url: string; credentials: { name: string; password: string } }) =>
    new ClusterClient({ baseUrl: url, credentials, timeoutMs: 30_000 });

  const workers = startWorkers({
    connection,
    prefix,
    clusterId: cluster.id,
    name: config.workerName,
    concurrency: jobs.concurrency,
    lockDurationMs: jobs.lockDurationMs,
    stalledIntervalMs: jobs.stalledIntervalMs,
    isUnrecoverable: isUnrecoverableJobError,
    onEvent: (e) => logEvent(logger, e),
    handlers: {
      async slcRenewal(job) {
        if (jobs.testJobDelayMs > 0) {
          logger.warn({ jobId: job.id, ms: jobs.testJobDelayMs }, 'test hook: delaying the renewal job');
          await new Promise((r) => setTimeout(r, jobs.testJobDelayMs));
        }
        const r = await renewSlcIfDue(store, { keyPassword: config.keyPassword, key: clusterKey, renewalWindowDays: jobs.renewalWindowDays, root: connectRoot, actor: `worker ${config.workerName}` });
        const out = {
          renewed: r.renewed,
          reason: r.reason,
          validUntil: r.validUntil.toISOString(),
          previousValidUntil: r.previousValidUntil.toISOString(),
          ...(r.detail ? { detail: r.detail } : {}),
          ...(r.rootValidUntil ? { rootValidUntil: r.rootValidUntil.toISOString() } : {}),
        };
        if (r.reason === 'waiting-for-root') {
          // Not a failure: the next scheduled run checks again. Said once per wait, not every run.
          logger[r.firstNotice ? 'warn' : 'debug']({ jobId: job.id, ...out }, 'SLC renewal waiting for the root to renew its own SLC');
        } else {
          logger[r.renewed ? 'info' : 'debug']({ jobId: job.id, ...out }, r.renewed ? 'SLC renewed' : 'SLC renewal not needed');
        }
        return out;
      },
      async expiry(job) {
        const r = await runExpirySweep(store, { retentionDays: jobs.retentionDays, warnDays: jobs.warnDays });
        for (const w of r.warnings) logger.warn({ jobId: job.id }, w);
        return serialise(r);
      },
      async revocationList(job) {
        // Signs only when the revocations changed or the list is a day old; members sign changes at once too.
        const r = await publishRevocationList(store, { key: clusterKey });
        const out = { reason: r.reason, issuedAt: r.list.issuedAt, nextUpdate: r.list.nextUpdate, entries: r.list.entries };
        logger[r.reason === 'current' ? 'debug' : 'info']({ jobId: job.id, ...out }, r.reason === 'current' ? 'revocation list current' : 'revocation list signed');
        return out;
      },
    },
  });
  const ids = await ensureSchedulers({
    connection,
    prefix,
    clusterId: cluster.id,
    every: { renewalMs: jobs.renewalEveryMs, expiryMs: jobs.expiryEveryMs },
    retry: { attempts: jobs.attempts, backoffMs: jobs.backoffMs },
  });
  // Redis may come back empty (restarted without persistence): put the schedules back when they are gone.
  const keeper = keepSchedulers({
    connection,
    prefix,
    clusterId: cluster.id,
    every: { renewalMs: jobs.renewalEveryMs, expiryMs: jobs.expiryEveryMs },
    retry: { attempts: jobs.attempts, backoffMs: jobs.backoffMs },
    checkEveryMs: jobs.schedulerCheckEveryMs,
    onRestored: (restored) => logger.warn({ schedulers: restored }, 'job schedulers were missing from Redis and have been re-created'),
    onError: (message) => logger.debug({ reason: message }, 'could not check the job schedulers'),
  });
  logger.info(
    { cluster: cluster.id, kind: cluster.kind, redis: redisDisplayUrl(config.redisUrl), prefix, schedulers: ids, worker: config.workerName, renewalWindowDays: jobs.renewalWindowDays },
    'OpenRMS worker ready',
  );
  process.stdout.write(`OpenRMS worker ${config.workerName} ready for ${cluster.kind} cluster ${cluster.id} (prefix ${prefix})\n`);

  let closing = false;
  const stop = (sig: string) => {
    if (closing) return;
    closing = true;
    logger.info({ sig }, 'shutting down: finishing the running job first');
    keeper
      .close()
      .then(() => workers.close())
      .then(() => closeRedis(connection))
      .then(() => store.close())
      .then(
        () => {
          logger.info('worker stopped');
          process.exit(0);
        },
        (e: unknown) => {
          logger.error({ err: (e as Error)?.message }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: unknown) => {
  const msg = e instanceof RmsError ? e.message : `unexpected error: ${(e as Error)?.message ?? String(e)}`;
  process.stderr.write(`openrms worker: ${msg}\n`);
  process.exit(e instanceof RmsError ? ((EXIT as Record<string, number>)[e.code] ?? 1) : 1);
});
