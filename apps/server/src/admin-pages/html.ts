/**
 * The few HTML helpers the admin pages share. Every value that reaches a page goes through `esc`
 * (or `attr`), so names, e-mails and log lines an outsider chose cannot become markup.
 */

/** The prefix every admin page lives under (create-app mounts the router there). */
export const ADMIN_PAGES_PATH = '/_wmcs/admin';

export const esc = (v: unknown): string =>
  String(v ?? '').replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);

/** A trusted fragment: already escaped or built from escaped parts. */
export class Html {
  constructor(readonly html: string) {}
  toString(): string {
    return this.html;
  }
}

/** Tagged template: interpolated values are escaped unless they are Html (or arrays of Html). */
export function h(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1]!;
  });
  return new Html(out);
}

function render(v: unknown): string {
  if (v instanceof Html) return v.html;
  if (Array.isArray(v)) return v.map(render).join('');
  if (v === undefined || v === null || v === false) return '';
  return esc(v);
}

export const raw = (s: string): Html => new Html(s);

export const href = (path: string, query: Record<string, string | undefined> = {}): string => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  return `${ADMIN_PAGES_PATH}${path}${s ? `?${s}` : ''}`;
};

/** 2026-01-02 10:04:05Z: sortable, unambiguous, short. */
export function when(d: Date | string | null | undefined): string {
  if (d === null || d === undefined) return '—';
  const date = typeof d === 'string' ? new Date(d) : d;
  if (Number.isNaN(date.getTime())) return String(d);
  return `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** One-line JSON for audit details, capped so one huge value does not bury the page. */
export function brief(v: unknown, max = 400): string {
  if (v === undefined) return '';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

export interface Notice {
  kind: 'ok' | 'error';
  text: string;
}

export interface NavItem {
  key: string;
  path: string;
  label: string;
}

export const NAV: readonly NavItem[] = [
  { key: 'overview', path: '/', label: 'Overview' },
  { key: 'dacl', path: '/dacl', label: 'DACLs' },
  { key: 'principals', path: '/principals', label: 'Users and groups' },
  { key: 'templates', path: '/templates', label: 'Templates' },
  { key: 'policies', path: '/policies', label: 'Policies' },
  { key: 'revocation', path: '/revocation', label: 'Revocation' },
  { key: 'trust', path: '/trust', label: 'Trust' },
  { key: 'decommission', path: '/decommission', label: 'Decommissioning' },
  { key: 'requests', path: '/requests', label: 'Request log' },
  { key: 'audit', path: '/audit', label: 'Audit log' },
  { key: 'jobs', path: '/jobs', label: 'Renewal queues' },
];

const STYLE = `
:root{color-scheme:light;--fg:#1d232a;--muted:#5b6672;--line:#d5dbe1;--bg:#f6f8fa;--accent:#0b5cad;--ok:#1a7f37;--bad:#b42318}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:#fff}
header{background:#14324f;color:#fff;padding:10px 20px;display:flex;gap:20px;align-items:baseline;flex-wrap:wrap}
header .brand{font-weight:600;font-size:16px}
header .who{margin-left:auto;font-size:13px;opacity:.85}
nav{background:var(--bg);border-bottom:1px solid var(--line);padding:0 20px;display:flex;flex-wrap:wrap}
nav a{padding:9px 12px;color:var(--fg);text-decoration:none;border-bottom:3px solid transparent}
nav a.active{border-bottom-color:var(--accent);font-weight:600}
nav a:hover{background:#e9eef3}
main{padding:16px 20px 40px;max-width:1280px}
h1{font-size:22px;margin:4px 0 14px}
h2{font-size:17px;margin:26px 0 8px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;margin:6px 0 12px;width:100%}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--bg);font-weight:600}
table.kv{width:auto}
table.kv th{width:14em}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.when{white-space:nowrap}
td.wrap{overflow-wrap:anywhere}
code,pre,.mono{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12.5px}
pre{background:var(--bg);border:1px solid var(--line);padding:8px;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
form.inline{display:inline;margin:0}
form.box{border:1px solid var(--line);background:var(--bg);padding:10px 12px;margin:8px 0 14px;display:flex;flex-wrap:wrap;gap:10px 14px;align-items:flex-end}
form.box label{display:flex;flex-direction:column;font-size:12.5px;color:var(--muted);gap:2px}
input,select,button{font:inherit;padding:3px 6px}
input[type=text],input[type=email],input[type=password],input[type=search]{min-width:14em}
textarea{font:12.5px ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;min-width:28em}
select[multiple]{min-width:14em;min-height:5.5em}
button{cursor:pointer;border:1px solid #8a96a3;border-radius:3px;background:#fff}
button.primary{background:var(--accent);border-color:var(--accent);color:#fff}
button.danger{color:var(--bad);border-color:var(--bad)}
button.small{padding:1px 6px;font-size:12px}
.notice{padding:8px 12px;margin:0 0 14px;border-radius:3px;border:1px solid}
.notice.ok{background:#e8f5ec;border-color:#8fcca0;color:#0f5323}
.notice.error{background:#fdecea;border-color:#f1a9a0;color:#8a1c12}
.allow,.yes,.alive{color:var(--ok);font-weight:600}
.deny,.no,.stale{color:var(--bad);font-weight:600}
.muted{color:var(--muted)}
.hint{color:var(--muted);font-size:12.5px;margin:4px 0 10px}
.tag{display:inline-block;padding:0 6px;border:1px solid var(--line);border-radius:8px;font-size:12px;background:var(--bg);margin:1px 2px}
.endpoints a{margin-right:10px;white-space:nowrap}
`;

export function layout(p: { title: string; active: string; admin: string; notices?: Notice[]; body: Html }): string {
  const nav = NAV.map((n) => h`<a href="${href(n.path)}" class="${n.key === p.active ? 'active' : ''}">${n.label}</a>`);
  const notices = (p.notices ?? []).map((n) => h`<div class="notice ${n.kind}" role="${n.kind === 'error' ? 'alert' : 'status'}">${n.text}</div>`);
  return h`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${p.title} — OpenRMS administration</title><style>${raw(STYLE)}</style></head>
<body><header><span class="brand">OpenRMS global administration</span><span class="who">signed in as ${p.admin}</span></header>
<nav>${nav}</nav>
<main><h1>${p.title}</h1>${notices}${p.body}</main></body></html>`.html;
}

/** A hidden CSRF field; every POST form carries one. */
export const csrfField = (token: string): Html => h`<input type="hidden" name="csrf" value="${token}">`;

/** A POST form that is one button (remove, switch, archive…). */
export function buttonForm(action: string, token: string, fields: Record<string, string>, label: string, cls = 'small'): Html {
  const hidden = Object.entries(fields).map(([k, v]) => h`<input type="hidden" name="${k}" value="${v}">`);
  return h`<form class="inline" method="post" action="${action}">${csrfField(token)}${hidden}<button type="submit" class="${cls}">${label}</button></form>`;
}

export function options(values: readonly string[], selected?: string, labels?: Record<string, string>): Html[] {
  return values.map((v) => h`<option value="${v}"${v === selected ? raw(' selected') : ''}>${labels?.[v] ?? v}</option>`);
}
