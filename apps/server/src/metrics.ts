import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { isRmsError, RmsError } from '@openrms/domain';
import { type ClusterRuntime, SETTINGS } from '@openrms/issuance';
import { type QueueStatus, queueStatus, JOB_STATES, type RedisClient } from '@openrms/jobs';
import type { Store } from '@openrms/store';
import { adminChallenges, requireAdministrator, sendProblem } from './admin-api';
import { SignOnThrottledError } from './sign-on-guard';

export const METRICS_PATH = '/metrics';
/** A scrape must not hang on Redis: queue gauges are left out when it does not answer in time. */
const QUEUE_SCRAPE_TIMEOUT_MS = 2000;
/** Covers a cached GetServerInfo (about 1 ms) up to a slow licence over a loaded database (seconds). */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface MetricsQueues {
  connection: RedisClient;
  prefix: string;
}

export interface ServerMetricsDeps {
  runtime: ClusterRuntime;
  store: Store;
  logger: Logger;
  queues?: MetricsQueues;
  /** Admission control of the SOAP requests (admission.ts): its queue and the requests in work. */
  admission?: { readonly queued: number; readonly inFlight: number };
  now?: () => Date;
}

export interface RequestObservation {
  /** A known operation of the endpoint, or 'unknown'; never a caller-chosen string (label cardinality). */
  operation: string;
  endpoint: string;
  /** 'ok', a fault's exception name, or a transport refusal such as 'HTTP 401 no credentials'. */
  result: string;
  seconds: number;
}

/** 'HTTP 401 wrong credentials' → 'http_401'; fault names and 'ok' pass through; anything else → 'other'. */
function resultLabel(result: string): string {
  const http = /^HTTP (\d{3})\b/.exec(result);
  if (http) return `http_${http[1]}`;
  // Fault names are the .NET exception names the faultstring starts with, as in the request log.
  return /^[A-Za-z][A-Za-z0-9_.]{0,159}$/.test(result) ? result : 'other';
}

/**
 * The server's Prometheus registry: request counters and latencies recorded by the HTTP edge, and
 * gauges read at scrape time (SLC expiry and last renewal, the request-log queue, BullMQ queues).
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'operation' | 'endpoint' | 'result'>;
  readonly #duration: Histogram<'operation'>;
  readonly #faults: Counter<'operation' | 'fault'>;
  readonly #throttled: Counter<'scope'>;
  readonly #rejected: Counter<'reason'>;
  #queueScrape: { at: number; value: Promise<QueueStatus[] | undefined> } | undefined;

  constructor(private readonly deps: ServerMetricsDeps) {
    const registers = [this.registry];
    const now = deps.now ?? (() => new Date());
    // Unprefixed, as every Node.js exporter names them (process_cpu_seconds_total,
    // nodejs_eventloop_lag_seconds, …), so stock dashboards and alerts work unchanged.
    collectDefaultMetrics({ register: this.registry });
    this.#requests = new Counter({
      name: 'openrms_requests_total',
      help: 'SOAP requests answered, by operation, endpoint and result (ok, a fault name, or http_NNN for refusals before the SOAP layer)',
      labelNames: ['operation', 'endpoint', 'result'],
      registers,
    });
    this.#duration = new Histogram({
      name: 'openrms_request_duration_seconds',
      help: 'Time from receiving a SOAP request to its answer, by operation',
      labelNames: ['operation'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.#faults = new Counter({
      name: 'openrms_faults_total',
      help: 'SOAP faults returned, by operation and exception name',
      labelNames: ['operation', 'fault'],
      registers,
    });
    this.#throttled = new Counter({
      name: 'openrms_signon_throttled_total',
      help: 'Sign-ons refused before any credential check because of too many failed attempts, by what was blocked (user or address)',
      labelNames: ['scope'],
      registers,
    });
    this.#rejected = new Counter({
      name: 'openrms_requests_rejected_total',
      help: 'SOAP requests turned away by admission control before any work: queue_full and wait_timeout were answered 503, client_gone had hung up while waiting',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of ['queue_full', 'wait_timeout', 'client_gone']) this.#rejected.inc({ reason }, 0);
    const admission = deps.admission;
    if (admission) {
      new Gauge({
        name: 'openrms_requests_queued',
        help: 'SOAP requests waiting for their turn (admission control)',
        registers,
        collect() {
          this.set(admission.queued);
        },
      });
      new Gauge({
        name: 'openrms_requests_in_flight',
        help: 'SOAP requests being worked on (admission control)',
        registers,
        collect() {
          this.set(admission.inFlight);
        },
      });
    }
    const { runtime, store } = deps;
    // Under `serve --workers N` the supervisor sums each series over the workers (prom-client's
    // AggregatorRegistry); what every worker reads from the same place is reported once ('first').
    new Gauge({
      name: 'openrms_slc_expiry_seconds',
      aggregator: 'first',
      help: "Seconds until the active server licensor certificate's UNTIL (negative once expired)",
      registers,
      collect() {
        const until = runtime.slc.validUntil;
        if (until) this.set((until.getTime() - now().getTime()) / 1000);
        else this.reset();
      },
    });
    new Gauge({
      name: 'openrms_slc_not_after_timestamp_seconds',
      help: "The active server licensor certificate's UNTIL (Unix time); alert on it minus time()",
      aggregator: 'first',
      registers,
      collect() {
        const until = runtime.slc.validUntil;
        if (until) this.set(until.getTime() / 1000);
        else this.reset();
      },
    });
    const logger = deps.logger;
    new Gauge({
      name: 'openrms_slc_last_renewal_timestamp_seconds',
      help: 'When the SLC was last renewed (Unix time), as recorded by the renewal job; absent before the first renewal',
      aggregator: 'first',
      registers,
      async collect() {
        try {
          // Read at scrape time, so every member reports the cluster's last renewal, whichever worker did it.
          const at = renewalTime(await store.settings.get(SETTINGS.slcLastRenewal));
          if (at) this.set(at.getTime() / 1000);
          else this.reset();
        } catch (err) {
          this.reset();
          logger.warn({ err: (err as Error)?.message }, 'metrics: could not read the last SLC renewal');
        }
      },
    });
    new Gauge({
      name: 'openrms_request_log_queued',
      help: 'Request-log rows waiting to be written to the database',
      registers,
      collect() {
        this.set(runtime.requestLog.stats().queued);
      },
    });
    const counterFromStats = (name: string, help: string, pick: (s: ReturnType<typeof runtime.requestLog.stats>) => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          // The writer keeps the running total; the counter mirrors it.
          this.reset();
          this.inc(pick(runtime.requestLog.stats()));
        },
      });
    counterFromStats('openrms_request_log_dropped_total', 'Request-log rows dropped because the queue was full', (s) => s.dropped);
    counterFromStats('openrms_request_log_written_total', 'Request-log rows written to the database', (s) => s.written);
    counterFromStats('openrms_request_log_failed_flushes_total', 'Request-log batches that failed to write (kept for retry)', (s) => s.failedFlushes);
    // The verified-document cache (signature results by document digest): one per worker, so summed.
    new Gauge({
      name: 'openrms_verified_cache_entries',
      help: 'Documents (RAC, CLC, PL, SPC chain members) whose verified signature result is cached',
      registers,
      collect() {
        this.set(runtime.verifiedDocuments.stats().entries);
      },
    });
    new Counter({
      name: 'openrms_verified_cache_lookups_total',
      help: 'Signature verifications of request documents: hit = a cached result stood in, miss = the document was verified',
      labelNames: ['result'],
      registers,
      collect() {
        const { hits, misses } = runtime.verifiedDocuments.stats();
        this.reset();
        this.inc({ result: 'hit' }, hits);
        this.inc({ result: 'miss' }, misses);
      },
    });
    if (deps.queues) this.#registerQueueMetrics(registers);
  }

  #registerQueueMetrics(registers: Registry[]): void {
    const snapshot = () => this.#queueSnapshot();
    new Gauge({
      name: 'openrms_redis_up',
      help: 'Whether Redis answered the last scrape of the job queues (1) or not (0)',
      aggregator: 'min',
      registers,
      async collect() {
        this.set((await snapshot()) ? 1 : 0);
      },
    });
    new Gauge({
      name: 'openrms_queue_jobs',
      help: 'Jobs in each BullMQ queue by state',
      labelNames: ['queue', 'state'],
      aggregator: 'first',
      registers,
      async collect() {
        const s = await snapshot();
        this.reset();
        for (const q of s ?? []) for (const state of JOB_STATES) this.set({ queue: q.queue, state }, q.counts[state]);
      },
    });
    new Gauge({
      name: 'openrms_queue_failed_jobs',
      help: 'Failed jobs kept in each BullMQ queue (retry or clean them with rmsctl queues)',
      labelNames: ['queue'],
      aggregator: 'first',
      registers,
      async collect() {
        const s = await snapshot();
        this.reset();
        for (const q of s ?? []) this.set({ queue: q.queue }, q.counts.failed);
      },
    });
    new Gauge({
      name: 'openrms_queue_scheduler_next_run_timestamp_seconds',
      help: 'When each job scheduler next produces a job (Unix time)',
      labelNames: ['queue', 'scheduler'],
      aggregator: 'first',
      registers,
      async collect() {
        const s = await snapshot();
        this.reset();
        for (const q of s ?? []) for (const j of q.schedulers) if (j.next) this.set({ queue: q.queue, scheduler: j.id }, j.next.getTime() / 1000);
      },
    });
  }

  /** One Redis read per scrape, shared by the queue gauges (prom-client collects them one by one). */
  #queueSnapshot(): Promise<QueueStatus[] | undefined> {
    const nowMs = Date.now();
    if (this.#queueScrape && nowMs - this.#queueScrape.at < 1000) return this.#queueScrape.value;
    const q = this.deps.queues!;
    const value = (async () => {
      // Not connected: BullMQ would wait for the connection; the scrape reports Redis down instead.
      if (q.connection.status !== 'ready') return undefined;
      let timer: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([
          queueStatus({ connection: q.connection, prefix: q.prefix }),
          new Promise<undefined>((resolve) => {
            timer = setTimeout(() => resolve(undefined), QUEUE_SCRAPE_TIMEOUT_MS);
          }),
        ]);
      } catch (err) {
        this.deps.logger.warn({ err: (err as Error)?.message }, 'metrics: could not read the job queues');
        return undefined;
      } finally {
        clearTimeout(timer);
      }
    })();
    this.#queueScrape = { at: nowMs, value };
    return value;
  }

  observeRejection(reason: 'queue_full' | 'wait_timeout' | 'client_gone'): void {
    this.#rejected.inc({ reason });
  }

  observeSignOnThrottled(scope: 'user' | 'address'): void {
    this.#throttled.inc({ scope });
  }

  observeRequest(o: RequestObservation): void {
    const result = resultLabel(o.result);
    this.#requests.inc({ operation: o.operation, endpoint: o.endpoint, result });
    this.#duration.observe({ operation: o.operation }, o.seconds);
    if (result !== 'ok' && result !== 'other' && !result.startsWith('http_')) this.#faults.inc({ operation: o.operation, fault: result });
  }
}

/** The renewal job's record ({ at: ISO, validUntil }); bare ISO text or epoch ms/s are read too. */
function renewalTime(v: unknown): Date | undefined {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    return renewalTime(o.at ?? o.renewedAt ?? o.time);
  }
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) return new Date(v > 1e12 ? v : v * 1000);
  if (typeof v === 'string') {
    const t = Date.parse(v);
    return Number.isNaN(t) ? undefined : new Date(t);
  }
  return undefined;
}

function sameSecret(given: string, expected: string): boolean {
  // Hash first so the comparison takes the same time whatever the lengths.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export interface MetricsRouteDeps {
  metrics: ServerMetrics;
  runtime: ClusterRuntime;
  store: Store;
  logger: Logger;
  /** Bearer token for Prometheus scrapers (RMS_METRICS_TOKEN); admins may always use Basic. */
  token?: string;
  /** The text to answer with instead of this process's registry: every worker's, summed by the supervisor. */
  scrape?: () => Promise<string>;
}

const BEARER_CHALLENGE = 'Bearer realm="OpenRMS metrics"';

/**
 * GET /metrics: members of RMS Administrators (HTTP Basic), or a scraper presenting the configured
 * bearer token. Nobody else learns anything, not even whether a token is configured.
 */
export function metricsHandler(deps: MetricsRouteDeps) {
  const { metrics, runtime, store, logger, token } = deps;
  const scrape = deps.scrape ?? (() => metrics.registry.metrics());
  const challenge = (res: Response) => res.set('WWW-Authenticate', token ? [BEARER_CHALLENGE, ...adminChallenges(runtime)] : adminChallenges(runtime));
  const fail = (res: Response, err: unknown) => {
    logger.error({ requestId: res.locals.requestId, err }, 'metrics request failed');
    sendProblem(res, 500, {});
  };
  return async (req: Request, res: Response) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.set('Allow', 'GET, HEAD');
      sendProblem(res, 405, { detail: 'use GET' });
      return;
    }
    try {
      const authorization = req.get('authorization');
      const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
      if (bearer) {
        if (!token || !sameSecret(bearer[1]!, token)) throw new RmsError('AuthenticationRequired', 'the bearer token is not valid');
      } else {
        await requireAdministrator(runtime, store, req);
      }
    } catch (e) {
      if (!isRmsError(e)) return fail(res, e);
      const status = e.code === 'AuthenticationRequired' ? 401 : e instanceof SignOnThrottledError ? 429 : 403;
      if (e instanceof SignOnThrottledError) res.set('Retry-After', String(e.retryAfterSeconds));
      if (status === 401) challenge(res);
      else logger.warn({ requestId: res.locals.requestId, path: req.path, reason: e.message }, 'metrics refused: not an administrator');
      sendProblem(res, status, { code: e.code, detail: e.message });
      return;
    }
    try {
      const body = await scrape();
      res.status(200).set('Cache-Control', 'no-store').type(metrics.registry.contentType).send(body);
    } catch (err) {
      fail(res, err);
    }
  };
}
