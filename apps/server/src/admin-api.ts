import { randomUUID } from 'node:crypto';
import { SignOnThrottledError, signOnGuardOf } from './sign-on-guard';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import { BUILTIN_GROUPS, isRmsError, RmsError, type RmsErrorCode } from '@openrms/domain';
import { type AuthenticatedPrincipal, changeDacl, type ClusterRuntime, type DaclAction, effectiveAccess, listDacl } from '@openrms/issuance';
import type { Store } from '@openrms/store';

/** Where create-app mounts the router. */
export const ADMIN_API_PATH = '/_wmcs/admin/api';
/** Admin requests are a few fields; anything larger is a mistake or an attack. */
export const ADMIN_JSON_LIMIT_BYTES = 16 * 1024;
const AUDIT_LIMIT = { default: 50, max: 1000 };
export const ADMIN_AUTH_REALM = 'OpenRMS administration';

/** The 401 challenge of the admin surfaces: the schemes this member offers (Negotiate, Basic). */
export function adminChallenges(runtime: ClusterRuntime): string[] {
  return runtime.authenticator.challenges(ADMIN_AUTH_REALM);
}

export interface AdminApiDeps {
  runtime: ClusterRuntime;
  store: Store;
  logger: Logger;
  maxJsonBytes?: number;
}

/**
 * The admin HTTP edge's one mapping from RmsError codes to statuses (RFC 9457 problem JSON).
 * Codes not listed are server faults: 500 carrying only the request id, the cause goes to the log.
 */
const PROBLEM_STATUS: Partial<Record<RmsErrorCode, number>> = {
  InvalidInput: 400,
  MalformedRequest: 400,
  AuthenticationRequired: 401,
  AccessDenied: 403,
  TooManyRequests: 429,
  NotFound: 404,
  AlreadyExists: 409,
  RequestTooLarge: 413,
};

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance: string;
  /** The RmsError code, for programs; absent on 500s. */
  code?: string;
}

const kebab = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

function requestIdOf(res: Response): string {
  if (typeof res.locals.requestId !== 'string') res.locals.requestId = randomUUID();
  return res.locals.requestId as string;
}

export function sendProblem(res: Response, status: number, p: { code?: string; detail?: string }): void {
  const body: Problem = {
    type: p.code ? `urn:openrms:problem:${kebab(p.code)}` : 'about:blank',
    title: TITLES[status] ?? 'Error',
    status,
    ...(p.detail !== undefined ? { detail: p.detail } : {}),
    instance: requestIdOf(res),
    ...(p.code ? { code: p.code } : {}),
  };
  res.status(status).set('Cache-Control', 'no-store').type('application/problem+json').send(JSON.stringify(body));
}

/** Body-parser failures as RmsErrors, so they go through the same table. */
function fromBodyParser(err: { type?: string; status?: number; limit?: number }): RmsError | undefined {
  if (err.type === 'entity.too.large') return new RmsError('RequestTooLarge', `the JSON body is larger than the ${err.limit ?? ADMIN_JSON_LIMIT_BYTES}-byte limit`);
  if (err.type === 'entity.parse.failed') return new RmsError('MalformedRequest', 'the body is not valid JSON');
  if (typeof err.status === 'number' && err.status >= 400 && err.status < 500) return new RmsError('MalformedRequest', 'the request body could not be read');
  return undefined;
}

/**
 * A refused request's body is never parsed. Node discards a small unread body itself before the
 * next request on the connection, and closing would race the client's upload into a reset; a large
 * or unbounded one is not worth draining, so the connection is closed instead.
 */
function closeIfBodyLarge(req: Request, res: Response, limit: number): void {
  const length = Number(req.get('content-length') ?? '0');
  if (req.get('transfer-encoding') !== undefined || !Number.isFinite(length) || length > limit) res.set('Connection', 'close');
}

function json(res: Response, value: unknown): void {
  res.status(200).set('Cache-Control', 'no-store').json(value);
}

function queryString(req: Request, name: string, required: boolean): string | undefined {
  const v = (req.query as Record<string, unknown>)[name];
  if (v === undefined) {
    if (required) throw new RmsError('InvalidInput', `the query parameter "${name}" is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw new RmsError('InvalidInput', `give the query parameter "${name}" once`);
  return v;
}

const CHANGE_FIELDS = new Set(['action', 'endpoint', 'principal', 'right', 'effect']);

function readChange(body: unknown): { action: DaclAction; endpoint: string; principal: string; right: string; effect?: string } {
  if (body === undefined) throw new RmsError('InvalidInput', 'send a JSON object with Content-Type: application/json');
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RmsError('InvalidInput', 'the body must be a JSON object');
  const b = body as Record<string, unknown>;
  const unknown = Object.keys(b).filter((k) => !CHANGE_FIELDS.has(k));
  if (unknown.length) throw new RmsError('InvalidInput', `unknown field(s): ${unknown.join(', ')}`);
  for (const k of ['action', 'endpoint', 'principal', 'right']) {
    if (typeof b[k] !== 'string') throw new RmsError('InvalidInput', `"${k}" must be a string`);
  }
  if (b.effect !== undefined && typeof b.effect !== 'string') throw new RmsError('InvalidInput', '"effect" must be "allow" or "deny"');
  return {
    action: b.action as DaclAction,
    endpoint: b.endpoint as string,
    principal: b.principal as string,
    right: b.right as string,
    ...(b.effect !== undefined ? { effect: b.effect as string } : {}),
  };
}

/**
 * The one administrator check every admin surface shares (this API, /metrics, the queue dashboard):
 * HTTP Basic credentials of a member of RMS Administrators. Throws AuthenticationRequired (401) or
 * AccessDenied (403).
 */
export async function requireAdministrator(runtime: ClusterRuntime, store: Store, req: Request): Promise<AuthenticatedPrincipal> {
  const principal = (await signOnGuardOf(req, runtime).signOn(req)).principal;
  if (!principal) throw new RmsError('AuthenticationRequired', 'sign in as a member of RMS Administrators');
  const admins = await store.principals.findByName(BUILTIN_GROUPS.administrators);
  if (!admins || !principal.principalIds.has(admins.id)) {
    throw new RmsError('AccessDenied', `${principal.name} is not a member of ${BUILTIN_GROUPS.administrators}`);
  }
  return principal;
}

/**
 * The administration API: HTTP Basic, members of RMS Administrators only, JSON in, JSON or problem
 * JSON out. Identity and membership are checked before any body is read, so a refused caller never
 * gets as far as a change. A change is applied to this member at once (refresh); the other members
 * pick it up at their periodic refresh.
 */
export function adminApi(deps: AdminApiDeps): Router {
  const { runtime, store, logger } = deps;
  const router = express.Router();
  const jsonLimit = deps.maxJsonBytes ?? ADMIN_JSON_LIMIT_BYTES;
  const parseJson = express.json({ limit: jsonLimit, strict: true });
  const admin = (res: Response) => res.locals.admin as AuthenticatedPrincipal;

  router.use(async (req: Request, res: Response, next: NextFunction) => {
    try {
      res.locals.admin = await requireAdministrator(runtime, store, req);
    } catch (e) {
      if (isRmsError(e, 'AuthenticationRequired')) res.set('WWW-Authenticate', adminChallenges(runtime));
      if (isRmsError(e, 'AccessDenied')) logger.warn({ requestId: requestIdOf(res), path: req.originalUrl, reason: e.message }, 'admin API refused: not an administrator');
      closeIfBodyLarge(req, res, jsonLimit);
      throw e;
    }
    next();
  });

  router.get('/dacl', async (req, res) => {
    json(res, { entries: await listDacl(store, queryString(req, 'endpoint', false)) });
  });

  router.post('/dacl', parseJson, async (req, res) => {
    const actor = admin(res).name;
    const change = readChange(req.body);
    // A directory group is named only if the directory has it: this member can ask.
    const verifyGroup = async (nameOrEmail: string) => (await runtime.identities.findGroup(nameOrEmail)) !== undefined;
    const result = await changeDacl(store, actor, { ...change, verifyGroup });
    if (result.changed) {
      logger.info({ requestId: requestIdOf(res), actor, action: result.action, endpoint: result.endpoint, principal: result.principal, right: result.right }, 'DACL changed');
      try {
        await runtime.refresh();
      } catch (err) {
        // The change is committed; this member still converges at its next periodic refresh.
        logger.warn({ requestId: requestIdOf(res), err: (err as Error)?.message }, 'refresh after a DACL change failed');
      }
    }
    json(res, result);
  });

  router.get('/dacl/effective', async (req, res) => {
    json(res, await effectiveAccess(store, queryString(req, 'endpoint', true)!, queryString(req, 'principal', true)!, { identities: runtime.identities }));
  });

  router.get('/audit', async (req, res) => {
    const raw = queryString(req, 'limit', false);
    const limit = raw === undefined ? AUDIT_LIMIT.default : Number(raw);
    if (!/^\d+$/.test(raw ?? '1') || !Number.isInteger(limit) || limit < 1 || limit > AUDIT_LIMIT.max) {
      throw new RmsError('InvalidInput', `limit must be a whole number from 1 to ${AUDIT_LIMIT.max}`);
    }
    json(res, { entries: await store.audit.list({ limit }) });
  });

  const allow = (methods: string) => (_req: Request, res: Response) => {
    res.set('Allow', methods);
    sendProblem(res, 405, { detail: `use ${methods}` });
  };
  router.all('/dacl', allow('GET, HEAD, POST'));
  router.all('/dacl/effective', allow('GET, HEAD'));
  router.all('/audit', allow('GET, HEAD'));
  router.use((_req, res) => sendProblem(res, 404, { code: 'NotFound', detail: 'no such admin API resource' }));

  router.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = isRmsError(err) ? err : (fromBodyParser(err as { type?: string; status?: number; limit?: number }) ?? err);
    const status = isRmsError(e) ? PROBLEM_STATUS[e.code] : undefined;
    if (status !== undefined && isRmsError(e)) {
      // An oversized body may be partly unread: do not let it become the next request.
      if (e.code === 'RequestTooLarge') res.set('Connection', 'close');
      if (e instanceof SignOnThrottledError) res.set('Retry-After', String(e.retryAfterSeconds));
      sendProblem(res, status, { code: e.code, detail: e.message });
      return;
    }
    logger.error({ requestId: requestIdOf(res), err }, 'admin API request failed');
    sendProblem(res, 500, {});
  });

  return router;
}
