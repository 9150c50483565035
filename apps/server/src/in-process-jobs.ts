import type { Logger } from 'pino';
import type { JobsConfig } from '@openrms/config';
import { isUnrecoverableJobError, type PublishRevocationListResult, renewSlcIfDue, runExpirySweep } from '@openrms/issuance';
import { ClusterClient } from '@openrms/soap';
import type { Store } from '@openrms/store';

export interface InProcessJobsOptions {
  store: Store;
  keyPassword: string;
  jobs: JobsConfig;
  logger: Logger;
  serverName: string;
  /** Called after this member renewed the SLC, so it serves the new chain at once. */
  onRenewed?: () => Promise<void>;
  /** Renewal with the key the member holds (ClusterRuntime.renewSlcIfDue); default: unwrap with keyPassword. */
  renew?: (o: { renewalWindowDays: number; root: Parameters<typeof renewSlcIfDue>[1]['root']; actor: string }) => ReturnType<typeof renewSlcIfDue>;
  /** Signs the revocation list when changed or a day old (ClusterRuntime.publishRevocationList); runs on the expiry sweep's interval. */
  publishRevocationList?: () => Promise<PublishRevocationListResult>;
}

export interface InProcessJobs {
  /** Stops the timers and waits for a run in progress. */
  close(): Promise<void>;
}

/**
 * Without Redis (the embedded default) each server runs the SLC renewal and the expiry sweep itself
 * on a timer, with the same use-cases the workers run. Several members doing so is safe: renewal
 * swaps the chain only if it is still the one it renewed, and warnings are remembered in the
 * database. A failure retries with exponential backoff (capped at the interval); a failure retrying
 * cannot fix waits for the next interval.
 */
export function startInProcessJobs(opts: InProcessJobsOptions): InProcessJobs {
  const { jobs, logger, store } = opts;
  const connectRoot = ({ url, credentials }: { url: string; credentials: { name: string; password: string } }) => new ClusterClient({ baseUrl: url, credentials, timeoutMs: 30_000 });
  let stopped = false;
  const inFlight = new Set<Promise<void>>();
  const timers = new Set<NodeJS.Timeout>();

  const loop = (name: string, everyMs: number, work: () => Promise<void>) => {
    let failures = 0;
    const schedule = (ms: number) => {
      if (stopped) return;
      const t = setTimeout(() => {
        timers.delete(t);
        const p = work().then(
          () => {
            failures = 0;
            schedule(everyMs);
          },
          (e: unknown) => {
            const unrecoverable = isUnrecoverableJobError(e);
            failures = unrecoverable ? 0 : failures + 1;
            const retryMs = unrecoverable ? everyMs : Math.min(everyMs, jobs.backoffMs * 2 ** (failures - 1));
            logger[unrecoverable ? 'error' : 'warn']({ job: name, jobs: 'in-process', reason: (e as Error)?.message ?? String(e), unrecoverable, retryInMs: retryMs }, `${name} failed`);
            schedule(retryMs);
          },
        );
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      }, ms);
      // Background housekeeping never keeps the process alive on its own.
      t.unref();
      timers.add(t);
    };
    schedule(Math.min(jobs.firstRunDelayMs, everyMs));
  };

  loop('slc-renewal', jobs.renewalEveryMs, async () => {
    const how = { renewalWindowDays: jobs.renewalWindowDays, root: connectRoot, actor: `server ${opts.serverName}` };
    const r = opts.renew ? await opts.renew(how) : await renewSlcIfDue(store, { keyPassword: opts.keyPassword, ...how });
    if (r.renewed) {
      logger.info({ job: 'slc-renewal', jobs: 'in-process', validUntil: r.validUntil.toISOString(), previousValidUntil: r.previousValidUntil.toISOString() }, 'SLC renewed');
      await opts.onRenewed?.();
    } else {
      logger.debug({ job: 'slc-renewal', jobs: 'in-process', reason: r.reason, validUntil: r.validUntil.toISOString() }, 'SLC renewal not needed');
    }
  });
  loop('expiry-sweep', jobs.expiryEveryMs, async () => {
    const r = await runExpirySweep(store, { retentionDays: jobs.retentionDays, warnDays: jobs.warnDays });
    for (const w of r.warnings) logger.warn({ job: 'expiry-sweep', jobs: 'in-process' }, w);
    logger.info({ job: 'expiry-sweep', jobs: 'in-process', markedExpired: r.markedExpired, purgedLogRows: r.purgedLogRows, warnings: r.warnings.length }, 'expiry sweep done');
  });

  const publish = opts.publishRevocationList;
  if (publish) {
    loop('revocation-list', jobs.expiryEveryMs, async () => {
      const r = await publish();
      logger[r.reason === 'current' ? 'debug' : 'info']({ job: 'revocation-list', jobs: 'in-process', reason: r.reason, issuedAt: r.list.issuedAt, entries: r.list.entries }, r.reason === 'current' ? 'revocation list current' : 'revocation list signed');
    });
  }

  return {
    async close() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await Promise.allSettled([...inFlight]);
    },
  };
}
