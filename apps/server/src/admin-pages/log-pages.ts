import { RmsError } from '@openrms/domain';
import { REQUEST_LOG_SCAN, searchRequestLogIn } from '@openrms/issuance';
import { brief, h, href, options, when } from './html';
import { type Page, type PageContext, queryOne } from './page-context';

const SHOW_MATCHES = 200;
const AUDIT_LIMIT = { default: 100, max: 1000 };

/** A datetime-local value (read as UTC) or a full ISO instant. */
function instant(v: string | undefined, what: string): Date | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  const s = v.trim();
  const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/.test(s) ? `${s}Z` : s;
  const d = new Date(iso);
  if (!/^\d{4}-\d{2}-\d{2}/.test(s) || Number.isNaN(d.getTime())) throw new RmsError('InvalidInput', `${what} must be a date and time such as 2026-01-31T14:00 (UTC)`);
  return d;
}

function filterError(ctx: PageContext, e: unknown): void {
  if (!(e instanceof RmsError)) throw e;
  ctx.notices.push({ kind: 'error', text: e.message });
  ctx.res.status(400);
}

export const requestLogPage: Page = {
  key: 'requests',
  title: 'Request log',
  async render(ctx) {
    const q = (n: string) => (queryOne(ctx.req, n) ?? '').slice(0, 256);
    const f = { user: q('user'), operation: q('operation'), result: q('result'), from: q('from'), to: q('to') };
    let result: Awaited<ReturnType<typeof searchRequestLogIn>> | undefined;
    try {
      result = await searchRequestLogIn(ctx.deps.store, {
        user: f.user,
        operation: f.operation,
        result: f.result,
        from: instant(f.from, 'From'),
        to: instant(f.to, 'To'),
        scan: REQUEST_LOG_SCAN.default,
        limit: SHOW_MATCHES,
      });
    } catch (e) {
      filterError(ctx, e);
    }
    const filtered = Object.values(f).some((v) => v !== '');
    const rows = (result?.entries ?? []).map(
      (r) => h`<tr><td class="when">${when(r.at)}</td><td>${r.principal ?? '—'}</td><td>${r.operation}</td><td class="mono">${r.endpoint}</td>
        <td class="${r.result === 'ok' ? 'yes' : 'no'}">${r.result}</td><td class="num">${r.durationMs}</td><td class="mono">${r.requestId ?? ''}</td></tr>`,
    );
    const resultChoices = ['', 'ok', 'error'];
    const custom = f.result !== '' && !resultChoices.includes(f.result);
    return h`
<form class="box" method="get" action="${href('/requests')}" id="request-filter">
<label>User<input type="text" name="user" value="${f.user}"></label>
<label>Operation contains<input type="text" name="operation" value="${f.operation}"></label>
<label>Result<select name="result">${options(custom ? [...resultChoices, f.result] : resultChoices, f.result, { '': 'any', ok: 'ok', error: 'refused or failed' })}</select></label>
<label>From (UTC)<input type="datetime-local" name="from" value="${f.from}" step="1"></label>
<label>To (UTC)<input type="datetime-local" name="to" value="${f.to}" step="1"></label>
<button type="submit" class="primary">Filter</button> ${filtered ? h`<a href="${href('/requests')}">clear</a>` : ''}
</form>
${result ? h`<p class="hint">${result.entries.length}${result.more ? '+' : ''} matching request(s) among the newest ${result.scanned} (the page searches at most ${result.scanLimit} and shows at most ${SHOW_MATCHES}, newest first). Requests are written in batches about a second after they end.</p>` : ''}
<table><tr><th>When</th><th>User</th><th>Operation</th><th>Endpoint</th><th>Result</th><th>ms</th><th>Request id</th></tr>${rows}</table>`;
  },
};

export const auditPage: Page = {
  key: 'audit',
  title: 'Audit log',
  async render(ctx) {
    const action = (queryOne(ctx.req, 'action') ?? '').trim().slice(0, 128);
    const actor = (queryOne(ctx.req, 'actor') ?? '').trim().slice(0, 256);
    const rawLimit = queryOne(ctx.req, 'limit') ?? '';
    let limit = AUDIT_LIMIT.default;
    if (rawLimit !== '') {
      const n = Number(rawLimit);
      if (/^\d+$/.test(rawLimit) && n >= 1 && n <= AUDIT_LIMIT.max) limit = n;
      else filterError(ctx, new RmsError('InvalidInput', `show 1 to ${AUDIT_LIMIT.max} entries`));
    }
    const filtering = action !== '' || actor !== '';
    // Filters look through a bounded window of the newest entries, as the request log does.
    const scanned = await ctx.deps.store.audit.list({ limit: filtering ? Math.max(limit, 5000) : limit });
    const entries = scanned
      .filter((a) => (action === '' || a.action.toLowerCase().startsWith(action.toLowerCase())) && (actor === '' || a.actor.toLowerCase() === actor.toLowerCase()))
      .slice(0, limit);
    const rows = entries.map((a) => {
      const details = a.before !== undefined || a.after !== undefined;
      return h`<tr><td class="num">${a.id}</td><td class="when">${when(a.at)}</td><td>${a.actor}</td><td>${a.action}</td><td class="mono wrap">${a.target ?? ''}</td>
        <td class="wrap">${details ? h`<details><summary>${brief(a.after ?? a.before, 90)}</summary><pre>before: ${JSON.stringify(a.before ?? null, null, 1)}\nafter: ${JSON.stringify(a.after ?? null, null, 1)}</pre></details>` : ''}</td></tr>`;
    });
    return h`
<form class="box" method="get" action="${href('/audit')}" id="audit-filter">
<label>Action starts with<input type="text" name="action" value="${action}" placeholder="dacl."></label>
<label>Actor<input type="text" name="actor" value="${actor}"></label>
<label>Entries<input type="number" name="limit" value="${limit}" min="1" max="${AUDIT_LIMIT.max}"></label>
<button type="submit" class="primary">Filter</button> ${filtering ? h`<a href="${href('/audit')}">clear</a>` : ''}
</form>
<p class="hint">${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}, newest first${filtering ? ` (among the newest ${scanned.length})` : ''}.</p>
<table><tr><th>#</th><th>When</th><th>Actor</th><th>Action</th><th>Target</th><th>Details</th></tr>${rows}</table>`;
  },
};
