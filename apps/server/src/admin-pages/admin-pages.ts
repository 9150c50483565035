import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import { isRmsError, type RmsErrorCode } from '@openrms/domain';
import type { AuthenticatedPrincipal } from '@openrms/issuance';
import { adminChallenges, requireAdministrator } from '../admin-api';
import { SignOnThrottledError } from '../sign-on-guard';
import { CsrfTokens, isSameOrigin } from './csrf';
import { FlashNotices } from './flash';
import { daclAction, daclPage } from './dacl-page';
import { decommissionAction, decommissionPage } from './decommission-page';
import { esc, layout, type Notice } from './html';
import { jobsPage } from './jobs-page';
import { auditPage, requestLogPage } from './log-pages';
import { overviewPage } from './overview-page';
import { type Action, type AdminPagesDeps, FormFields, type Page, type PageContext, queryOne } from './page-context';
import { excludeUserAction, includeUserAction, policiesPage, superUsersAction } from './policies-page';
import {
  addGroupAction,
  addUserAction,
  membershipAction,
  principalsPage,
  removeGroupAction,
  removeUserAction,
  userPasswordAction,
  userStateAction,
} from './principals-page';
import { archiveTemplateAction, templatesPage } from './templates-page';
import { liftRevocationAction, revocationPage, revokeAction } from './revocation-page';
import { addUserDomainAction, importPublishingDomainAction, removePublishingDomainAction, removeUserDomainAction, trustPage } from './trust-page';
import { uploadForm } from './upload-form';

export { ADMIN_PAGES_PATH } from './html';
export type { AdminPagesDeps } from './page-context';

/** A form is a few fields; anything larger is a mistake or an attack. */
export const ADMIN_FORM_LIMIT_BYTES = 16 * 1024;

export const ADMIN_PAGES_CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";

/** The page-edge mapping of RmsError codes to statuses; anything else is a 500 with the request id. */
const STATUS: Partial<Record<RmsErrorCode, number>> = {
  InvalidInput: 400,
  MalformedRequest: 400,
  NotFound: 404,
  AlreadyExists: 409,
  // An uploaded SLC chain or key export that does not verify or open (the trust page).
  ChainInvalid: 400,
  KeyPasswordInvalid: 400,
  AccessDenied: 403,
  TooManyRequests: 429,
};

function withFlash(path: string, flash: string): string {
  const [beforeHash, hash] = path.split('#', 2) as [string, string | undefined];
  return `${beforeHash}${beforeHash.includes('?') ? '&' : '?'}flash=${flash}${hash !== undefined ? `#${hash}` : ''}`;
}

function plain(res: Response, status: number, text: string): void {
  res.status(status).type('text/plain; charset=utf-8').send(text);
}

/**
 * The global administration pages under /_wmcs/admin/: server-rendered HTML for members of RMS
 * Administrators. Reading is GET; every change is a POST form that must come from this origin and
 * carry a form token bound to the administrator, checked before the form is acted on. Changes go
 * through the same issuance use-cases as rmsctl and the admin API (validated, one transaction,
 * audited) and apply on this member at once.
 */
export function adminPages(deps: AdminPagesDeps): Router {
  const { runtime, store, logger } = deps;
  const router = express.Router();
  // The cluster's secret, not this process's: a page from one member posts to another.
  const secret = () => runtime.adminFormSecret;
  const tokens = new CsrfTokens(secret);
  const flashes = new FlashNotices(secret);
  const parseForm = express.urlencoded({ extended: false, limit: ADMIN_FORM_LIMIT_BYTES, parameterLimit: 100 });
  const adminOf = (res: Response) => res.locals.admin as AuthenticatedPrincipal;

  router.use(async (req: Request, res: Response, next: NextFunction) => {
    res
      .set('Content-Security-Policy', ADMIN_PAGES_CSP)
      .set('X-Content-Type-Options', 'nosniff')
      .set('Referrer-Policy', 'same-origin')
      .set('X-Frame-Options', 'DENY')
      .set('Cache-Control', 'no-store');
    try {
      res.locals.admin = await requireAdministrator(runtime, store, req);
    } catch (e) {
      if (!isRmsError(e)) return next(e);
      // A refused request's form is never read; do not let a large one become the next request.
      if (req.method !== 'GET' && req.method !== 'HEAD') res.set('Connection', 'close');
      if (e.code === 'AuthenticationRequired') {
        res.set('WWW-Authenticate', adminChallenges(runtime));
        return plain(res, 401, 'Sign in as a member of RMS Administrators.\n');
      }
      if (e instanceof SignOnThrottledError) {
        res.set('Retry-After', String(e.retryAfterSeconds));
        return plain(res, 429, `Too many failed sign-ons: try again in ${e.retryAfterSeconds} seconds.\n`);
      }
      logger.warn({ requestId: res.locals.requestId, path: req.originalUrl, method: req.method, reason: e.message }, 'admin pages refused: not an administrator');
      return plain(res, 403, 'Forbidden: only members of RMS Administrators may use the administration pages.\n');
    }
    next();
  });

  async function show(page: Page, req: Request, res: Response, opts: { status?: number; notices?: Notice[]; draft?: Record<string, string> } = {}): Promise<void> {
    const admin = adminOf(res);
    const notices: Notice[] = [];
    const flash = flashes.open(admin.name, queryOne(req, 'flash'));
    if (flash) notices.push({ kind: 'ok', text: flash });
    notices.push(...(opts.notices ?? []));
    res.status(opts.status ?? 200);
    const ctx: PageContext = { req, res, deps, admin, csrf: tokens.issue(admin.name), notices, draft: opts.draft ?? {} };
    const body = await page.render(ctx);
    res.type('text/html; charset=utf-8').send(layout({ title: page.title, active: page.key, admin: admin.name, notices: ctx.notices, body }));
  }

  /** Same origin, then the form, then its token: a refused change is never parsed further, nothing is written. */
  const guard = (parse: RequestHandler): RequestHandler[] => [
    (req, res, next) => {
      if (isSameOrigin(req)) return next();
      logger.warn({ requestId: res.locals.requestId, path: req.originalUrl, origin: req.get('origin'), referer: req.get('referer') }, 'admin pages refused a cross-site form');
      res.set('Connection', 'close');
      plain(res, 403, 'Forbidden: changes must be submitted from the administration pages of this server.\n');
    },
    parse,
    (req, res, next) => {
      const token = (req.body as Record<string, unknown> | undefined)?.csrf;
      if (tokens.verify(adminOf(res).name, token)) return next();
      logger.warn({ requestId: res.locals.requestId, path: req.originalUrl, actor: adminOf(res).name, token: token === undefined ? 'missing' : 'wrong' }, 'admin pages refused a form without a valid token');
      plain(res, 403, 'Forbidden: the form token is missing, expired or not yours. Reload the page and submit the form again.\n');
    },
  ];

  const get = (path: string, page: Page) => router.get(path, (req, res) => show(page, req, res));

  /** `parse`: the plain form parser, or uploadForm() for a form that carries a file. */
  const post = (path: string, page: Page, action: Action, parse: RequestHandler = parseForm) =>
    router.post(path, ...guard(parse), async (req: Request, res: Response) => {
      const admin = adminOf(res);
      const form = FormFields.of(req.body);
      const ctx: PageContext = { req, res, deps, admin, csrf: '', notices: [], draft: {} };
      try {
        const r = await action(ctx, form);
        res.redirect(303, withFlash(`/_wmcs/admin${r.redirect}`, flashes.seal(admin.name, r.message)));
      } catch (e) {
        const status = isRmsError(e) ? STATUS[e.code] : undefined;
        if (status === undefined || !isRmsError(e)) throw e;
        // Nothing was written (each change is one transaction); the form comes back as it was.
        await show(page, req, res, { status, notices: [{ kind: 'error', text: e.message }], draft: form.draft() });
      }
    });

  get('/', overviewPage);
  get('/dacl', daclPage);
  post('/dacl', daclPage, daclAction);
  get('/principals', principalsPage);
  post('/principals/users', principalsPage, addUserAction);
  post('/principals/groups', principalsPage, addGroupAction);
  post('/principals/members', principalsPage, membershipAction);
  post('/principals/users/state', principalsPage, userStateAction);
  post('/principals/users/password', principalsPage, userPasswordAction);
  post('/principals/users/remove', principalsPage, removeUserAction);
  post('/principals/groups/remove', principalsPage, removeGroupAction);
  get('/templates', templatesPage);
  post('/templates/archive', templatesPage, archiveTemplateAction);
  get('/policies', policiesPage);
  post('/policies/super-users', policiesPage, superUsersAction);
  post('/policies/exclude-user', policiesPage, excludeUserAction);
  post('/policies/include-user', policiesPage, includeUserAction);
  get('/trust', trustPage);
  post('/trust/user-domains', trustPage, addUserDomainAction, uploadForm());
  post('/trust/user-domains/remove', trustPage, removeUserDomainAction);
  post('/trust/publishing-domains', trustPage, importPublishingDomainAction, uploadForm());
  post('/trust/publishing-domains/remove', trustPage, removePublishingDomainAction);
  get('/decommission', decommissionPage);
  post('/decommission', decommissionPage, decommissionAction);
  get('/requests', requestLogPage);
  get('/audit', auditPage);
  get('/jobs', jobsPage);
  get('/revocation', revocationPage);
  post('/revocation', revocationPage, revokeAction);
  post('/revocation/remove', revocationPage, liftRevocationAction);

  router.use((req, res) => {
    const known = ['/', '/dacl', '/principals', '/templates', '/policies', '/trust', '/decommission', '/requests', '/audit', '/jobs', '/revocation'];
    if (known.includes(req.path.replace(/\/+$/, '') || '/')) {
      res.set('Allow', 'GET, HEAD, POST');
      return plain(res, 405, 'Method not allowed.\n');
    }
    plain(res, 404, 'No such administration page.\n');
  });

  router.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err as { type?: string; status?: number };
    if (e?.type === 'entity.too.large') {
      res.set('Connection', 'close');
      return plain(res, 413, `The form is larger than ${ADMIN_FORM_LIMIT_BYTES} bytes.\n`);
    }
    if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) return plain(res, 400, 'The form could not be read.\n');
    const requestId = String(res.locals.requestId ?? '');
    logger.error({ requestId, err }, 'admin page failed');
    if (res.headersSent) return;
    res.status(500).type('text/html; charset=utf-8').send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Error — OpenRMS administration</title></head><body><h1>Something went wrong</h1><p>The server could not show this page. Request id: <code>${esc(requestId)}</code> (the server log has the cause).</p><p><a href="/_wmcs/admin/">Back to the overview</a></p></body></html>`);
  });

  return router;
}
