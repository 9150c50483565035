import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import { isRmsError } from '@openrms/domain';
import type { ClusterRuntime } from '@openrms/issuance';
import {
  closeRedisClient,
  createQueueDashboard,
  createRedisClient,
  DEFAULT_PREFIX,
  pingRedis,
  type QueueDashboard,
  QUEUES,
  redactRedisUrl,
  type RedisClient,
} from '@openrms/jobs';
import type { Store } from '@openrms/store';
import { adminChallenges, requireAdministrator, sendProblem } from './admin-api';
import { SignOnThrottledError } from './sign-on-guard';

/** Where create-app mounts the dashboard. */
export const QUEUE_DASHBOARD_PATH = '/_wmcs/admin/queues';
/** A readiness probe runs every few seconds; a Redis that takes longer than this counts as down. */
export const REDIS_READY_TIMEOUT_MS = 1000;

/**
 * The server's view of the BullMQ queues: one long-lived Redis connection shared by the
 * dashboard, the queue gauges of /metrics and the readiness check.
 */
export interface ServerQueues {
  readonly connection: RedisClient;
  readonly prefix: string;
  /** The Redis URL without its password. */
  readonly redisUrl: string;
  readonly dashboard: QueueDashboard;
  /** 'ok', or 'unreachable' when Redis does not answer a PING within `timeoutMs`. */
  check(timeoutMs?: number): Promise<'ok' | 'unreachable'>;
  close(): Promise<void>;
}

/**
 * Connects in the background: a member whose Redis is down still starts, serves SOAP and reports
 * not ready, and picks Redis up again when it comes back.
 */
export function openServerQueues(opts: { redisUrl: string; prefix?: string; logger: Logger }): ServerQueues {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const redisUrl = redactRedisUrl(opts.redisUrl);
  const connection = createRedisClient(opts.redisUrl, { mode: 'long-lived' });
  let down = false;
  // ioredis retries every ≤2 s; one line per outage, not one per attempt.
  connection.on('error', (err: NodeJS.ErrnoException) => {
    if (down) return;
    down = true;
    opts.logger.warn({ redis: redisUrl, err: err.code ?? err.message }, 'Redis unreachable; queue dashboard, queue metrics and readiness report it');
  });
  connection.on('ready', () => {
    if (down) opts.logger.info({ redis: redisUrl }, 'Redis reachable again');
    down = false;
  });
  connection.connect().catch(() => undefined);
  const dashboard = createQueueDashboard({ connection, prefix, basePath: QUEUE_DASHBOARD_PATH });
  return {
    connection,
    prefix,
    redisUrl,
    dashboard,
    async check(timeoutMs = REDIS_READY_TIMEOUT_MS) {
      if (connection.status !== 'ready') return 'unreachable';
      try {
        await pingRedis(connection, timeoutMs);
        return 'ok';
      } catch {
        return 'unreachable';
      }
    },
    async close() {
      await dashboard.close();
      await closeRedisClient(connection);
    },
  };
}

export interface QueueRoutesDeps {
  runtime: ClusterRuntime;
  store: Store;
  logger: Logger;
  queues?: ServerQueues;
}

/**
 * The board's own assets only: a stylesheet it links from Google Fonts would leave an offline
 * operator's browser waiting, so the policy refuses it at once (the UI falls back to system fonts).
 */
const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'self'",
  "form-action 'self'",
].join('; ');

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title></head><body><h1>${esc(title)}</h1>${body}</body></html>`;
}

/**
 * A browser keeps sending Basic credentials to this origin, so a page elsewhere could make an
 * administrator's browser POST to the board (retry, clean, add jobs). Changes must come from the
 * board itself.
 */
function sameOrigin(req: Request): boolean {
  const site = req.get('sec-fetch-site');
  if (site && site !== 'same-origin' && site !== 'none') return false;
  const origin = req.get('origin');
  if (!origin) return true;
  try {
    return new URL(origin).host === req.get('host');
  } catch {
    return false;
  }
}

/**
 * /_wmcs/admin/queues: bull-board over the BullMQ queues for members of RMS Administrators, or,
 * when this member has no Redis, a page saying that jobs run in-process.
 */
export function queueRoutes(deps: QueueRoutesDeps): Router {
  const { runtime, store, logger, queues } = deps;
  const router = express.Router();

  router.use(async (req: Request, res: Response, next: NextFunction) => {
    res.set('Cache-Control', 'no-store').set('X-Content-Type-Options', 'nosniff').set('Referrer-Policy', 'no-referrer');
    try {
      await requireAdministrator(runtime, store, req);
    } catch (e) {
      if (!isRmsError(e)) return next(e);
      if (e.code === 'AuthenticationRequired') {
        res.set('WWW-Authenticate', adminChallenges(runtime));
        sendProblem(res, 401, { code: e.code, detail: e.message });
      } else if (e instanceof SignOnThrottledError) {
        res.set('Retry-After', String(e.retryAfterSeconds));
        sendProblem(res, 429, { code: e.code, detail: e.message });
      } else {
        logger.warn({ requestId: res.locals.requestId, path: req.originalUrl, reason: e.message }, 'queue dashboard refused: not an administrator');
        sendProblem(res, 403, { code: 'AccessDenied', detail: e.message });
      }
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD' && !sameOrigin(req)) {
      logger.warn({ requestId: res.locals.requestId, path: req.originalUrl, origin: req.get('origin') }, 'queue dashboard refused a cross-site change');
      sendProblem(res, 403, { code: 'AccessDenied', detail: 'changes to the queues must come from the dashboard itself' });
      return;
    }
    next();
  });

  if (!queues) {
    router.get('/', (_req, res) => {
      res
        .status(200)
        .type('text/html; charset=utf-8')
        .send(
          page(
            'OpenRMS queues',
            `<p>This server has no Redis configured, so its jobs (${Object.values(QUEUES).map(esc).join(', ')}) run in-process and there are no queues to show.</p><p>Configure Redis for the server and the workers to see the queues here.</p>`,
          ),
        );
    });
    router.use((_req, res) => sendProblem(res, 404, { code: 'NotFound', detail: 'no queue dashboard: jobs run in-process on this server' }));
    return router;
  }

  router.use((req: Request, res: Response, next: NextFunction) => {
    res.set('Content-Security-Policy', DASHBOARD_CSP);
    if (queues.connection.status !== 'ready') {
      // BullMQ would wait for the connection; the operator gets an answer now.
      res.set('Retry-After', '5');
      if (req.path.startsWith('/api/')) {
        sendProblem(res, 503, { detail: `Redis at ${queues.redisUrl} is unreachable` });
      } else {
        res.status(503).type('text/html; charset=utf-8').send(page('OpenRMS queues', `<p>Redis at ${esc(queues.redisUrl)} is unreachable; try again in a moment.</p>`));
      }
      return;
    }
    queues.dashboard.handler(req, res, next);
  });
  return router;
}
