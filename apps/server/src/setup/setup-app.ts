import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { isRmsError, RmsError, type RmsErrorCode } from '@openrms/domain';
import { clusterStatus, joinCluster, provisionLicensingCluster, provisionRootCluster } from '@openrms/issuance';
import { ClusterClient } from '@openrms/soap';
import { redactDatabaseUrl } from '@openrms/store';
import { isSameOrigin } from '../admin-pages/csrf';
import { FormFields } from '../admin-pages/page-context';
import { type DatabaseFinding, donePage, refusalPage, type SetupDone, SETUP_PATH, type SetupPath, setupPage } from './setup-pages';
import type { SetupToken } from './setup-token';

/** The cookie that carries the set-up token after the link was opened, so the URL (and history) no longer do. */
const COOKIE = 'openrms-setup';
const FORM_LIMIT_BYTES = 16 * 1024;
const FORM_TOKEN_TTL_MS = 12 * 60 * 60 * 1000;
const CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STATUS: Partial<Record<RmsErrorCode, number>> = {
  InvalidInput: 400,
  MalformedRequest: 400,
  KeyPasswordInvalid: 403,
  AccessDenied: 403,
  NotFound: 404,
  NotProvisioned: 404,
  AlreadyExists: 409,
  Unavailable: 502,
  ChainInvalid: 502,
};

export interface SetupAppDeps {
  token: SetupToken;
  logger: Logger;
  /** HTTPS: the cookie is marked Secure. */
  secure: boolean;
  /** --database, when given: every path uses it and the page shows it (redacted) instead of a field. */
  databaseUrl?: string | undefined;
  /** What the server found in that database; re-read for each page. */
  finding(): Promise<DatabaseFinding>;
  serverName: string;
  /**
   * Opens the cluster runtime on the given database and hands the listening socket to the normal
   * app. Resolves once this process serves the cluster.
   */
  serve(databaseUrl: string, keyPassword: string, serverName: string): Promise<void>;
}

/**
 * Form tokens for the set-up forms: `<ms>.<HMAC(secret, ms)>` with a secret of this process. The
 * page is only rendered for a browser holding the set-up cookie, so the token proves a form came
 * from a page this server rendered, not from another site posting to this port.
 */
class FormTokens {
  readonly #secret = randomBytes(32);

  #mac(ms: number): Buffer {
    return createHmac('sha256', this.#secret).update(`openrms-setup-form\n${ms}`).digest();
  }

  issue(now = Date.now()): string {
    return `${now}.${this.#mac(now).toString('base64url')}`;
  }

  verify(token: unknown, now = Date.now()): boolean {
    const m = typeof token === 'string' ? /^(\d{1,16})\.([A-Za-z0-9_-]{43})$/.exec(token) : null;
    if (!m) return false;
    const at = Number(m[1]);
    if (!(now - at <= FORM_TOKEN_TTL_MS && at - now <= 60_000)) return false;
    return timingSafeEqual(Buffer.from(m[2]!, 'base64url'), this.#mac(at));
  }
}

function cookieValue(req: Request, name: string): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

function refuse(res: Response, status: number, text: string): void {
  res.status(status).type('text/html; charset=utf-8').send(refusalPage(text));
}

/** Passwords of a new cluster are typed twice: a typo in the key password would lock the cluster for good. */
function confirmed(form: FormFields, name: string, label: string): string {
  const v = form.one(name, label);
  if (form.one(`${name}-confirm`) !== v) throw new RmsError('InvalidInput', `the two ${label.toLowerCase()}s differ`);
  return v;
}

const optional = (s: string): string | undefined => (s.trim() === '' ? undefined : s.trim());

/**
 * The set-up app of `serve --setup`: the one page an unprovisioned server shows, and only to a
 * browser that opened the link with the token printed at start. Its three forms run the same
 * issuance use-cases as `rmsctl provision root|licensing` and `rmsctl cluster join`; the first
 * that succeeds makes this process serve the cluster and voids the token.
 */
export function setupApp(deps: SetupAppDeps): express.Express {
  const { token, logger } = deps;
  const forms = new FormTokens();
  let busy = false;
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  app.use((req, res, next) => {
    const requestId = randomUUID();
    res.locals.requestId = requestId;
    res
      .set('X-Request-Id', requestId)
      .set('Content-Security-Policy', CSP)
      .set('X-Content-Type-Options', 'nosniff')
      .set('Referrer-Policy', 'same-origin')
      .set('X-Frame-Options', 'DENY')
      .set('Cache-Control', 'no-store');
    // The path only: the query holds the token and the form holds passwords.
    res.once('finish', () => logger.info({ requestId, method: req.method, path: req.path, status: res.statusCode }, 'set-up request'));
    next();
  });

  const pending = (_req: Request, res: Response) => res.status(503).set('Retry-After', '30').json({ status: 'not ready', setup: 'pending' });
  app.get('/healthz', pending);
  app.get('/readyz', pending);

  const hasSession = (req: Request) => token.matches(cookieValue(req, COOKIE));

  async function render(req: Request, res: Response, status: number, failed?: { path: SetupPath; message: string; draft: Record<string, string> }): Promise<void> {
    const finding = await deps.finding();
    res.status(status).type('text/html; charset=utf-8').send(
      setupPage({
        csrf: forms.issue(),
        finding,
        fixedDatabase: deps.databaseUrl === undefined ? undefined : redactDatabaseUrl(deps.databaseUrl),
        serverName: deps.serverName,
        selfUrl: `${req.protocol}://${req.get('host') ?? 'localhost'}`,
        failed,
      }),
    );
  }

  app.get(SETUP_PATH, async (req, res) => {
    const given = req.query.token;
    if (given !== undefined) {
      if (!token.matches(given)) {
        logger.warn({ requestId: res.locals.requestId }, 'set-up refused a wrong token');
        return refuse(res, 403, 'The set-up token is wrong, or this server has been set up already. Use the link the server printed when it started.');
      }
      // Into an HttpOnly cookie and out of the address bar, the history and any Referer.
      const cookie = `${COOKIE}=${token.reveal()}; Path=${SETUP_PATH}; HttpOnly; SameSite=Strict${deps.secure ? '; Secure' : ''}`;
      return res.set('Set-Cookie', cookie).redirect(303, SETUP_PATH);
    }
    if (!hasSession(req)) {
      return refuse(res, 403, 'This server is not set up yet. Open the set-up link with its token, as the server printed it when it started (…/_wmcs/setup?token=…).');
    }
    await render(req, res, 200);
  });

  const parseForm = express.urlencoded({ extended: false, limit: FORM_LIMIT_BYTES, parameterLimit: 50 });

  app.post(`${SETUP_PATH}/:path`, (req: Request, res: Response, next: NextFunction) => {
    const path = req.params.path as string;
    if (path !== 'root' && path !== 'licensing' && path !== 'join') return next();
    // Nothing of a refused form is read.
    if (!isSameOrigin(req)) {
      logger.warn({ requestId: res.locals.requestId, origin: req.get('origin') }, 'set-up refused a cross-site form');
      res.set('Connection', 'close');
      return refuse(res, 403, 'Set-up forms must be submitted from the set-up page of this server.');
    }
    if (!hasSession(req)) {
      res.set('Connection', 'close');
      return refuse(res, 403, 'This server is not set up yet. Open the set-up link with its token, as the server printed it when it started.');
    }
    parseForm(req, res, (err?: unknown) => {
      if (err) return next(err);
      const form = FormFields.of(req.body);
      if (!forms.verify((req.body as Record<string, unknown>)?.csrf)) {
        logger.warn({ requestId: res.locals.requestId }, 'set-up refused a form without a valid token');
        return refuse(res, 403, 'The form token is missing or expired. Reload the set-up page and submit the form again.');
      }
      if (busy) return refuse(res, 409, 'Another set-up is under way on this server. Wait for it, then reload the page.');
      busy = true;
      run(path, form, req)
        .then((done) => {
          token.spend();
          logger.info({ path, cluster: done.clusterId, kind: done.kind, server: done.serverName }, 'set-up complete: serving the cluster');
          res.status(200).type('text/html; charset=utf-8').send(donePage(done));
        })
        .catch(async (e: unknown) => {
          const draft = form.draft();
          // A database URL with a password in it is not written back into the page.
          if (draft.database && redactDatabaseUrl(draft.database) !== draft.database) delete draft.database;
          let message: string;
          let status: number;
          if (isRmsError(e)) {
            message = e.message;
            status = STATUS[e.code] ?? 500;
            logger.warn({ requestId: res.locals.requestId, path, code: e.code, reason: e.message }, 'set-up failed');
          } else {
            message = `Something went wrong (request id ${String(res.locals.requestId)}); the server log has the cause.`;
            status = 500;
            logger.error({ requestId: res.locals.requestId, path, err: e }, 'set-up failed');
          }
          await render(req, res, status, { path, message, draft });
        })
        .catch(next)
        .finally(() => {
          busy = false;
        });
    });
  });

  async function run(path: SetupPath, form: FormFields, req: Request): Promise<SetupDone> {
    const databaseUrl = deps.databaseUrl ?? form.one('database', 'Configuration database URL').trim();
    const serverName = form.one('server-name', 'Name of this server').trim();
    if (path === 'join') {
      const keyPassword = form.one('key-password', 'Cluster key password');
      // The account the cluster was provisioned with, unless another is named: what `cluster join` is told.
      const serviceAccount = optional(form.one('service-account')) ?? (await clusterStatus(databaseUrl)).serviceAccounts[0];
      if (!serviceAccount) throw new RmsError('InvalidInput', 'this cluster records no service account: name the one this server runs as');
      const r = await joinCluster({ databaseUrl, serviceAccount, keyPassword, serverUrl: optional(form.one('server-url')) ?? `${req.protocol}://${req.get('host')}`, serverName });
      await serveOrExplain(databaseUrl, keyPassword, serverName);
      return { path, clusterId: r.cluster.id, kind: r.cluster.kind, clusterUrl: r.cluster.url, databaseDisplay: redactDatabaseUrl(databaseUrl), serverName };
    }
    const first = {
      databaseUrl,
      clusterUrl: form.one('cluster-url', 'Cluster URL').trim(),
      serviceAccount: form.one('service-account', 'Service account').trim(),
      admin: { name: form.one('admin', 'Administrator name').trim(), password: confirmed(form, 'admin-password', 'Administrator password'), email: optional(form.one('admin-email')) },
      keyPassword: confirmed(form, 'key-password', 'Cluster key password'),
      serverName,
    };
    let result: { clusterId: string; clusterUrl: string; adminName: string };
    let kind: string;
    if (path === 'root') {
      result = await provisionRootCluster({ ...first, revocation: { kind: 'standard' } });
      kind = 'root';
    } else {
      const rootUrl = form.one('root-url', 'Root cluster URL').trim();
      const rootCredentials = { name: form.one('root-user', 'Account on the root').trim(), password: form.one('root-password', 'Password of the account on the root') };
      // The same client `rmsctl provision licensing` uses; the root is asked before anything is written.
      const root = new ClusterClient({ baseUrl: rootUrl.replace(/\/+$/, '').replace(/(\/_wmcs)?$/i, '/_wmcs'), credentials: rootCredentials, timeoutMs: 15_000 });
      result = await provisionLicensingCluster({ ...first, rootUrl, root, rootCredentials });
      kind = 'licensing';
    }
    await serveOrExplain(databaseUrl, first.keyPassword, serverName);
    return { path, clusterId: result.clusterId, kind, clusterUrl: result.clusterUrl, adminName: result.adminName, databaseDisplay: redactDatabaseUrl(databaseUrl), serverName };
  }

  async function serveOrExplain(databaseUrl: string, keyPassword: string, serverName: string): Promise<void> {
    try {
      await deps.serve(databaseUrl, keyPassword, serverName);
    } catch (e) {
      // The cluster exists now; only serving it failed. Joining it is what is left to do.
      const reason = isRmsError(e) ? e.message : 'unexpected error (see the server log)';
      if (!isRmsError(e)) logger.error({ err: e }, 'set-up could not start serving the cluster');
      throw new RmsError('Unavailable', `the cluster is set up in ${redactDatabaseUrl(databaseUrl)}, but this server could not start serving it: ${reason}. Fix that, then use "Add this server to a cluster" with the same database.`);
    }
  }

  app.use((req, res) => {
    if (req.path === SETUP_PATH || req.path.startsWith(`${SETUP_PATH}/`)) {
      res.set('Allow', 'GET');
      return refuse(res, req.method === 'GET' ? 404 : 405, 'No such set-up page.');
    }
    res.status(404).type('text/plain; charset=utf-8').send('This server is not set up yet.\n');
  });

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err as { type?: string; status?: number };
    if (e?.type === 'entity.too.large') {
      res.set('Connection', 'close');
      return refuse(res, 413, `The form is larger than ${FORM_LIMIT_BYTES} bytes.`);
    }
    if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) return refuse(res, 400, 'The form could not be read.');
    logger.error({ requestId: res.locals.requestId, err }, 'set-up page failed');
    if (!res.headersSent) refuse(res, 500, `Something went wrong (request id ${String(res.locals.requestId)}); the server log has the cause.`);
  });

  return app;
}
