import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { endpointPath, type DaclRight, isRmsError, RmsError } from '@openrms/domain';
import { type AuthenticatedPrincipal, type ClusterRuntime, parseBasicAuthorization } from '@openrms/issuance';
import { buildSoapFault, type ServiceDescription, type SoapEndpoint, wsdlForRequest } from '@openrms/soap';
import type { SignOnThrottle } from '@openrms/jobs';
import type { Store } from '@openrms/store';
import { ADMIN_API_PATH, adminApi } from './admin-api';
import { ADMIN_PAGES_PATH, adminPages } from './admin-pages/admin-pages';
import { BodyError, readBody } from './read-body';
import { rateLimitedLog } from './rate-limited-log';
import { createSignOnGuard, SignOnThrottledError } from './sign-on-guard';
import { forwardToRoot } from './forward-to-root';
import type { Admission } from './admission';
import { METRICS_PATH, metricsHandler, ServerMetrics } from './metrics';
import { QUEUE_DASHBOARD_PATH, queueRoutes, type ServerQueues } from './queue-routes';
import { REVOCATION_LIST_ROUTE, revocationListHandler } from './revocation-list-route';

export interface SoapRoute {
  /** Path under /_wmcs, e.g. /certification/server.asmx. */
  path: string;
  service: ServiceDescription;
  endpoint: SoapEndpoint<RequestContext>;
}

export interface RequestContext {
  requestId: string;
  principal: AuthenticatedPrincipal;
  /** Aborted when the client disconnects before its answer: nothing is signed for it after that. */
  signal: AbortSignal;
}

export interface AppDeps {
  runtime: ClusterRuntime;
  /** The configuration database, for the admin API. */
  store: Store;
  routes: SoapRoute[];
  /** Paths (under /_wmcs) this member passes to the root cluster, with their target URLs. */
  forwards?: { path: string; target: string }[];
  maxBodyBytes: number;
  logger: Logger;
  /** Bearer token Prometheus presents on /metrics; administrators may always use Basic. */
  metricsToken?: string;
  /** The BullMQ queues, when this member has Redis: dashboard, queue metrics, readiness. */
  queues?: ServerQueues;
  /** Counts failed sign-ons (shared through Redis when the member has it); none: no throttling. */
  signOnThrottle?: SignOnThrottle;
  /** Where the background jobs run: workers over Redis, or this process (shown on /readyz). */
  jobs?: 'in-process' | 'redis';
  /** Admission control of the SOAP requests; none: every request is worked on at once. */
  admission?: Admission;
  /**
   * Under a supervisor (`serve --workers N`): /metrics answers with every worker's metrics
   * (`scrape`), and `share` hands this worker's registry over for the supervisor to sum.
   */
  metricsBridge?: { scrape(): Promise<string>; share(local: ServerMetrics): void };
}

const AUTH_REALM = 'OpenRMS';
/** How long a connection that was just shed is left unread (well inside Retry-After and the 2 s a client may wait). */
const SHED_PAUSE_MS = 500;

/** The operation a request names in SOAPAction (or the SOAP 1.2 action parameter), for the request log. */
function actionName(req: Request): string {
  const action = req.get('soapaction') ?? /action="?([^";]+)"?/i.exec(req.get('content-type') ?? '')?.[1] ?? '';
  return action.replace(/"/g, '').split('/').pop() || 'unknown';
}

function soapVersionOf(req: Request): '1.1' | '1.2' {
  return /application\/soap\+xml/i.test(req.get('content-type') ?? '') ? '1.2' : '1.1';
}

function serviceHtml(service: ServiceDescription, path: string): string {
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const ops = [...service.operations.keys()].map((o) => `<li>${esc(o)}</li>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(service.name)}</title></head><body><h1>${esc(service.name)}</h1><p>Operations:</p><ul>${ops}</ul><p><a href="${esc(path)}?wsdl">Service description (WSDL)</a></p></body></html>`;
}

/**
 * The HTTP edge: case-insensitive .asmx paths, raw bodies with a size cap, HTTP Basic
 * authentication, the endpoint's DACL, then the SOAP layer. Wiring only: rules live in the packages.
 */
export function createApp(deps: AppDeps): express.Express {
  const { runtime, logger } = deps;
  const routes = new Map(deps.routes.map((r) => [endpointPath(r.path), r]));
  const forwards = new Map((deps.forwards ?? []).map((f) => [endpointPath(f.path), f.target]));
  const signOnFailures = rateLimitedLog(logger, 10_000);
  const throttledLog = rateLimitedLog(logger, 10_000);
  const signOnGuard = createSignOnGuard(runtime, deps.signOnThrottle, (scope) => {
    metrics.observeSignOnThrottled(scope);
    throttledLog({ scope }, 'sign-on refused: too many failed attempts');
  });
  const metrics = new ServerMetrics({ runtime, store: deps.store, logger, ...(deps.queues ? { queues: deps.queues } : {}), ...(deps.admission ? { admission: deps.admission } : {}) });
  deps.metricsBridge?.share(metrics);
  const admission = deps.admission;
  const app = express();
  app.locals.signOnGuard = signOnGuard;
  app.disable('x-powered-by');
  app.disable('etag');

  if (admission) {
    /*
     * Load shedding ahead of everything else. With no room to work on a SOAP request nor to let it
     * wait, it is answered 503 here, before the request id, the sign-on and the body, with a fault
     * built once; counted in the metrics and a rate-limited log line, not in the request log.
     * Clients that resend at once after every 503 must not cost more than the work they are turned
     * away from: see SHED_PAUSE_MS (docs/adr/0014-admission-control-and-workers.md has the figures).
     */
    const retryAfter = String(admission.retryAfterSeconds);
    const busyFault = (v: '1.1' | '1.2') => buildSoapFault(v, new RmsError('ServerBusy', `The server is too busy to process this request now; try again in ${retryAfter} s`));
    const busy = { '1.1': busyFault('1.1'), '1.2': busyFault('1.2') };
    const shedLog = rateLimitedLog(logger, 10_000);
    app.use((req, res, next) => {
      if (req.method !== 'POST' || !admission.full) return next();
      const sub = /^\/_wmcs(\/.*)$/i.exec(req.path)?.[1];
      const route = sub === undefined ? undefined : routes.get(endpointPath(sub));
      if (!route) return next();
      const f = busy[soapVersionOf(req)];
      metrics.observeRejection('queue_full');
      const claimed = actionName(req);
      metrics.observeRequest({ operation: route.service.operations.has(claimed) ? claimed : 'unknown', endpoint: `/_wmcs${sub}`, result: 'HTTP 503 server busy', seconds: 0 });
      shedLog({ inFlight: admission.inFlight, queued: admission.queued }, 'shedding load: SOAP requests answered 503, every slot and the queue are taken');
      // The connection is read again a little later: a client that resends at once, whatever
      // Retry-After says, would otherwise keep the event loop busy refusing it. Paused after node's
      // own finish handling, which resumes the socket to discard the unread body.
      res.once('finish', () =>
        setImmediate(() => {
          const socket = req.socket;
          if (socket.destroyed) return;
          socket.pause();
          setTimeout(() => {
            if (!socket.destroyed) socket.resume();
          }, SHED_PAUSE_MS).unref();
        }),
      );
      res.set('Retry-After', retryAfter).status(503).type(f.contentType).send(f.body);
    });
  }

  app.use((req, res, next) => {
    const requestId = randomUUID();
    const started = process.hrtime.bigint();
    // Every line about this request carries its id (also in X-Request-Id and the request log).
    const log = logger.child({ requestId });
    res.locals.requestId = requestId;
    res.locals.startedAt = started;
    res.locals.log = log;
    res.setHeader('X-Request-Id', requestId);
    // From the first byte on: a client that hangs up while we authenticate or read its body has gone too.
    const clientGone = new AbortController();
    res.locals.clientGone = clientGone;
    res.once('close', () => {
      if (!res.writableFinished) clientGone.abort();
    });
    let logged = false;
    const logEnd = () => {
      if (logged) return;
      logged = true;
      const l = res.locals as { user?: string; operation?: string; result?: string };
      const ms = Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100;
      // Only the path: query strings and headers (Authorization) stay out of the log.
      const path = req.originalUrl.split('?')[0];
      const probe = path === '/healthz' || path === '/readyz';
      const aborted = !res.writableFinished;
      log[probe && !aborted ? 'debug' : 'info'](
        { method: req.method, path, status: res.statusCode, ms, user: l.user, operation: l.operation, result: l.result, ...(aborted ? { aborted } : {}) },
        'request',
      );
    };
    res.once('finish', logEnd);
    res.once('close', logEnd);
    next();
  });

  /** Request log row and request metrics, for every SOAP request (answered, refused or forwarded). */
  const recordRequest = (res: Response, entry: Parameters<typeof runtime.requestLog.record>[0], metricsOperation: string) => {
    runtime.requestLog.record(entry);
    Object.assign(res.locals, { user: entry.principal ?? undefined, operation: entry.operation, result: entry.result });
    const started = res.locals.startedAt as bigint | undefined;
    metrics.observeRequest({
      operation: metricsOperation,
      endpoint: entry.endpoint,
      result: entry.result,
      seconds: started === undefined ? entry.durationMs / 1000 : Number(process.hrtime.bigint() - started) / 1e9,
    });
  };

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  /*
   * Readiness is what a load balancer needs: "send me traffic". The database and the key decide it;
   * Redis (jobs) and the directory are shared by every member, so their outage is reported as
   * degraded, never as not ready (it would empty the pool). One check at a time, its answer reused
   * for a second, so a balancer polling every member often costs one database round trip.
   */
  type Readiness = { ok: boolean; checks: Record<string, string> };
  let settled: { at: number; value: Readiness } | undefined;
  let checking: Promise<Readiness> | undefined;
  const check = (): Promise<Readiness> => {
    checking ??= (async () => {
      const r = await runtime.readiness();
      if (deps.queues) r.checks.redis = await deps.queues.check();
      settled = { at: Date.now(), value: r };
      return r;
    })().finally(() => {
      checking = undefined;
    });
    return checking;
  };
  /*
   * A probe never waits behind the licence work: it gets the last settled answer at once while a
   * new check runs (a database ping can queue behind busy connections). Only the first probe waits,
   * and an answer that could not be renewed for 30 s no longer counts as ready.
   */
  const readiness = async (): Promise<Readiness> => {
    const now = Date.now();
    if (!settled) return check();
    if (now - settled.at > 1000) void check().catch(() => undefined);
    if (now - settled.at > 30_000) return { ok: false, checks: { ...settled.value.checks, database: 'not answering' } };
    return settled.value;
  };

  app.get('/readyz', async (req, res) => {
    const r = await readiness();
    const degraded = Object.entries(r.checks)
      .filter(([name, v]) => (name === 'redis' || name === 'directory') && v !== 'ok')
      .map(([name]) => name);
    // `?cluster=ID` (the shipped HAProxy check): a member of another cluster is never ready here.
    const wanted = typeof req.query.cluster === 'string' ? req.query.cluster : undefined;
    const otherCluster = wanted !== undefined && wanted !== runtime.cluster.id;
    const ok = r.ok && !otherCluster;
    res.status(ok ? 200 : 503).json({
      status: otherCluster ? 'another cluster' : ok ? 'ready' : 'not ready',
      cluster: { id: runtime.cluster.id, kind: runtime.cluster.kind, url: runtime.cluster.url },
      server: runtime.serverId,
      checks: r.checks,
      ...(degraded.length ? { degraded } : {}),
      ...(deps.jobs ? { jobs: deps.jobs } : {}),
    });
  });

  /** The body, or an answer already sent (413 at once, 400) and undefined. */
  const bodyOf = async (req: Request, res: Response): Promise<Buffer | undefined> => {
    try {
      return await readBody(req, deps.maxBodyBytes);
    } catch (e) {
      const status = e instanceof BodyError ? e.status : 400;
      // The rest of the body is never read: answer, then drop the connection.
      res.once('finish', () => req.socket.destroy());
      res.set('Connection', 'close').status(status).type('text/plain').send(status === 413 ? `request body larger than ${deps.maxBodyBytes} bytes` : 'bad request');
      return undefined;
    }
  };

  /** A Host header that makes a URL (host, IPv4 or [IPv6], optional port), or undefined. */
  const hostOf = (req: Request): string | undefined => {
    const host = req.get('host');
    if (host === undefined) return 'localhost';
    if (!/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253})(?::\d{1,5})?$/.test(host)) return undefined;
    try {
      return new URL(`http://${host}`).host === host.toLowerCase() ? host : undefined;
    } catch {
      return undefined;
    }
  };

  app.all(METRICS_PATH, metricsHandler({ metrics, runtime, store: deps.store, logger, ...(deps.metricsToken ? { token: deps.metricsToken } : {}), ...(deps.metricsBridge ? { scrape: () => deps.metricsBridge!.scrape() } : {}) }));

  // Public, like a CRL: the signed list the SLC's revocation condition names (docs/adr/0015-revocation.md).
  app.get(REVOCATION_LIST_ROUTE, revocationListHandler(runtime));

  app.use('/_wmcs', async (req: Request, res: Response, next: NextFunction) => {
    const full = `/_wmcs${req.path}`;
    const forwardTarget = forwards.get(endpointPath(req.path));
    if (forwardTarget) {
      // The root authenticates and authorises these itself; this member adds nothing but transport.
      void (async () => {
        const body = await bodyOf(req, res);
        if (!body) return;
        const started = process.hrtime.bigint();
        const r = await forwardToRoot(req, res, body, forwardTarget, logger);
        recordRequest(res, {
          at: new Date(),
          operation: `${actionName(req)} (forwarded)`,
          endpoint: full,
          principal: parseBasicAuthorization(req.get('authorization'))?.name ?? null,
          result: r.status < 400 ? 'ok' : (r.fault ?? `HTTP ${r.status}`),
          durationMs: Math.round(Number(process.hrtime.bigint() - started) / 1e6),
          serverId: runtime.serverId,
          requestId: res.locals.requestId as string,
        }, 'forwarded');
      })().catch(next);
      return;
    }
    const route = routes.get(endpointPath(req.path));
    if (!route) return next();
    if (req.method === 'GET' || req.method === 'HEAD') {
      const wantsWsdl = Object.keys(req.query as object).some((k) => k.toLowerCase() === 'wsdl');
      const host = hostOf(req);
      if (!host) {
        res.status(400).type('text/plain').send('bad Host header');
        return;
      }
      const self = `${req.protocol}://${host}${full}`;
      if (wantsWsdl) {
        res.type('text/xml; charset=utf-8').send(wsdlForRequest(route.service, self));
      } else {
        res.type('text/html; charset=utf-8').send(serviceHtml(route.service, full));
      }
      return;
    }
    if (req.method !== 'POST') {
      res.set('Allow', 'GET, HEAD, POST').status(405).type('text/plain').send('method not allowed');
      return;
    }
    // The SOAPAction is the caller's to choose: only the service's own operation names become labels.
    const claimed = actionName(req);
    const metricsOperation = (op: string | undefined) => (op && route.service.operations.has(op) ? op : 'unknown');
    const logRefusal = (principalName: string | null, result: string) =>
      recordRequest(res, {
        at: new Date(),
        operation: claimed,
        endpoint: full,
        principal: principalName,
        result,
        durationMs: 0,
        serverId: runtime.serverId,
        requestId: res.locals.requestId as string,
      }, metricsOperation(claimed));
    /** 503 + Retry-After + the busy fault in the request's SOAP version: nothing was done for it. */
    const refuseBusy = (reason: 'queue_full' | 'wait_timeout', principalName: string | null) => {
      metrics.observeRejection(reason);
      const retryAfter = admission!.retryAfterSeconds;
      const f = buildSoapFault(soapVersionOf(req), new RmsError('ServerBusy', `The server is too busy to process this request now; try again in ${retryAfter} s`), { correlationId: res.locals.requestId as string });
      logRefusal(principalName, `HTTP 503 server busy (${reason})`);
      res.set('Retry-After', String(retryAfter)).status(503).type(f.contentType).send(f.body);
    };
    let signOn: Awaited<ReturnType<typeof runtime.signOn>>;
    try {
      signOn = await signOnGuard.signOn(req);
    } catch (e) {
      if (e instanceof SignOnThrottledError) {
        // Refused before any password check, the body unread: a guesser learns nothing and costs little.
        const f = buildSoapFault(soapVersionOf(req), e, { correlationId: res.locals.requestId as string });
        logRefusal(parseBasicAuthorization(req.get('authorization'))?.name ?? null, 'HTTP 429 too many failed sign-ons');
        res.set('Retry-After', String(e.retryAfterSeconds)).set('Connection', 'close').status(429).type(f.contentType).send(f.body);
        return;
      }
      // The directory cannot answer (and nothing fresh enough is cached): the protocol's fault, not a 401,
      // so clients do not prompt for a password that is not the problem.
      const f = buildSoapFault(soapVersionOf(req), e, { correlationId: res.locals.requestId as string });
      signOnFailures(
        { requestId: res.locals.requestId, endpoint: full, fault: f.faultName, reason: (e as Error)?.message },
        isRmsError(e, 'AdEntrySearchFailed') ? 'sign-on failed: the directory did not answer' : 'sign-on failed',
      );
      logRefusal(null, f.faultName);
      res.set('Connection', 'close').set('Retry-After', '30').status(f.status).type(f.contentType).send(f.body);
      return;
    }
    const principal = signOn.principal;
    if (!principal) {
      // Drain nothing: the body is not read for unauthenticated callers.
      logRefusal(signOn.claimed, `HTTP 401 ${signOn.failure ?? 'not signed on'}`);
      res.set('WWW-Authenticate', runtime.authenticator.challenges(AUTH_REALM)).set('Connection', 'close').status(401).type('text/plain').send('authentication required');
      return;
    }
    // Negotiate's mutual authentication: the client may check the server too.
    if (signOn.responseToken) res.set('WWW-Authenticate', `Negotiate ${signOn.responseToken}`);
    const wanted: DaclRight = 'Execute';
    if (!runtime.checkAccess(full, principal, wanted).allowed) {
      (res.locals.log as Logger).warn({ user: principal.name, endpoint: full }, 'access denied by DACL');
      const f = buildSoapFault(
        soapVersionOf(req),
        new RmsError('AccessDenied', `access to ${full} is denied for ${principal.name}`),
        { correlationId: res.locals.requestId as string },
      );
      logRefusal(principal.name, f.faultName);
      res.set('Connection', 'close').status(403).type(f.contentType).send(f.body);
      return;
    }
    {
      const body = await bodyOf(req, res);
      if (!body) {
        logRefusal(principal.name, res.statusCode === 413 ? 'HTTP 413 body too large' : 'HTTP 400 unreadable body');
        return;
      }
      const requestId = res.locals.requestId as string;
      const gone = res.locals.clientGone as AbortController;
      // Its turn (admission.ts): after the cheap checks and the body, before any XML or key work.
      const turn = admission ? await admission.acquire(gone.signal) : undefined;
      if (turn && !turn.admitted) {
        if (turn.reason === 'client_gone') {
          metrics.observeRejection(turn.reason);
          // Nobody is left to answer; the row says nothing was done for it.
          logRefusal(principal.name, 'client gone');
          return;
        }
        refuseBusy(turn.reason, principal.name);
        return;
      }
      try {
        const started = process.hrtime.bigint();
        const out = await route.endpoint(
          { body, contentType: req.get('content-type'), soapActionHeader: req.get('soapaction'), correlationId: requestId },
          { requestId, principal, signal: gone.signal },
        );
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        recordRequest(res, {
          at: new Date(),
          operation: out.operation ?? 'unknown',
          endpoint: full,
          principal: principal.name,
          result: gone.signal.aborted ? 'client gone' : (out.fault ?? 'ok'),
          durationMs: Math.round(ms),
          serverId: runtime.serverId,
          requestId,
        }, metricsOperation(out.operation));
        res.status(out.status).type(out.contentType).send(out.body);
      } finally {
        turn?.ticket.release();
      }
    }
  });

  app.use(ADMIN_API_PATH, adminApi({ runtime, store: deps.store, logger }));
  app.use(QUEUE_DASHBOARD_PATH, queueRoutes({ runtime, store: deps.store, logger, ...(deps.queues ? { queues: deps.queues } : {}) }));
  // After the API and the queue dashboard, which own their own paths under the same prefix.
  app.use(ADMIN_PAGES_PATH, adminPages({ runtime, store: deps.store, logger, jobs: deps.jobs, hasQueues: deps.queues !== undefined }));

  app.use((_req, res) => {
    res.status(404).type('text/plain').send('not found');
  });

  // Errors from body parsing (size, aborted streams) and anything unexpected: never a stack trace.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = err as { type?: string; status?: number };
    const requestId = res.locals.requestId as string;
    if (e?.type === 'entity.too.large' || e?.status === 413) {
      res.set('Connection', 'close').status(413).type('text/plain').send(`request body larger than ${deps.maxBodyBytes} bytes`);
      return;
    }
    if (e?.status && e.status >= 400 && e.status < 500) {
      res.status(e.status).type('text/plain').send('bad request');
      return;
    }
    (res.locals.log as Logger).error({ err }, 'unexpected error');
    const f = buildSoapFault(soapVersionOf(req), err, { correlationId: requestId });
    res.status(f.status).type(f.contentType).send(f.body);
  });

  return app;
}
