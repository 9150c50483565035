import { csrfField, h, type Html, raw } from '../admin-pages/html';

/** Where the set-up page lives; the only path an unprovisioned server answers with a page. */
export const SETUP_PATH = '/_wmcs/setup';

export type SetupPath = 'root' | 'licensing' | 'join';

/** What the server found in the configuration database given at start, shown above the forms. */
export type DatabaseFinding =
  | { state: 'none' }
  | { state: 'empty'; display: string }
  | { state: 'cluster'; display: string; kind: string; clusterId: string; url: string; serviceAccount?: string | undefined }
  | { state: 'unreachable'; display: string; reason: string };

export interface SetupView {
  csrf: string;
  finding: DatabaseFinding;
  /** The --database URL shown (redacted) instead of a field: it is fixed for this process. */
  fixedDatabase?: string | undefined;
  serverName: string;
  /** This server's own URL as the browser reaches it, the default for the join form. */
  selfUrl: string;
  /** The form that failed, its message and what was typed (never passwords). */
  failed?: { path: SetupPath; message: string; draft: Record<string, string> } | undefined;
}

const STYLE = `
:root{color-scheme:light;--fg:#1d232a;--muted:#5b6672;--line:#d5dbe1;--bg:#f6f8fa;--accent:#0b5cad;--bad:#b42318}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:#fff}
header{background:#14324f;color:#fff;padding:10px 20px;font-weight:600;font-size:16px}
main{padding:16px 20px 40px;max-width:1100px}
h1{font-size:22px;margin:4px 0 14px}
h2{font-size:17px;margin:26px 0 8px;padding-bottom:4px;border-bottom:1px solid var(--line)}
code,pre,.mono{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12.5px}
pre{background:var(--bg);border:1px solid var(--line);padding:8px;white-space:pre-wrap;word-break:break-all}
form.box{border:1px solid var(--line);background:var(--bg);padding:10px 12px;margin:8px 0 14px;display:grid;grid-template-columns:repeat(auto-fill,minmax(16em,1fr));gap:10px 14px;align-items:end}
form.box label{display:flex;flex-direction:column;font-size:12.5px;color:var(--muted);gap:2px}
form.box .actions{grid-column:1/-1}
input,button{font:inherit;padding:3px 6px}
button{cursor:pointer;border:1px solid var(--accent);border-radius:3px;background:var(--accent);color:#fff}
.notice{padding:8px 12px;margin:0 0 14px;border-radius:3px;border:1px solid}
.notice.ok{background:#e8f5ec;border-color:#8fcca0;color:#0f5323}
.notice.error{background:#fdecea;border-color:#f1a9a0;color:#8a1c12}
.hint{color:var(--muted);font-size:12.5px;margin:4px 0 10px}
`;

function page(title: string, body: Html): string {
  return h`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} — OpenRMS</title><style>${raw(STYLE)}</style></head>
<body><header>OpenRMS global administration — set-up</header>
<main><h1>${title}</h1>${body}</main></body></html>`.html;
}

/** The short page every refused request gets: it says what to do and shows nothing of the server. */
export function refusalPage(text: string): string {
  return page('Set-up is locked', h`<p>${text}</p>`);
}

function findingText(f: DatabaseFinding): Html {
  switch (f.state) {
    case 'none':
      return h`<p>No configuration database was given when this server started: name one in the form you choose below.</p>`;
    case 'empty':
      return h`<p>The configuration database <code>${f.display}</code> holds no cluster yet: provision the first server of a root or
a licensing-only cluster in it, or add this server to a cluster whose database is elsewhere.</p>`;
    case 'cluster':
      return h`<p>The configuration database <code>${f.display}</code> holds the ${f.kind === 'root' ? 'root certification' : 'licensing-only'} cluster
<code>${f.clusterId}</code> (${f.url}). Add this server to it with the cluster key password.</p>`;
    case 'unreachable':
      return h`<div class="notice error" role="alert">The configuration database <code>${f.display}</code> could not be read: ${f.reason}</div>`;
  }
}

function field(v: SetupView, path: SetupPath, name: string, label: string, opts: { type?: string; value?: string; required?: boolean; placeholder?: string } = {}): Html {
  const type = opts.type ?? 'text';
  // A failed form comes back with what was typed; passwords never come back.
  const drafted = v.failed?.path === path ? v.failed.draft[name] : undefined;
  const value = type === 'password' ? '' : (drafted ?? opts.value ?? '');
  const autocomplete = type === 'password' ? 'new-password' : 'off';
  return h`<label>${label}<input type="${type}" name="${name}" value="${value}" autocomplete="${autocomplete}"${opts.required === false ? '' : raw(' required')}${opts.placeholder ? h` placeholder="${opts.placeholder}"` : ''}></label>`;
}

function databaseField(v: SetupView, path: SetupPath): Html {
  if (v.fixedDatabase !== undefined) {
    return h`<label>Configuration database (given at start)<input type="text" value="${v.fixedDatabase}" readonly></label>`;
  }
  return field(v, path, 'database', 'Configuration database URL', { placeholder: 'postgres://rms@db.example/rms' });
}

function errorFor(v: SetupView, path: SetupPath): Html | string {
  return v.failed?.path === path ? h`<div class="notice error" role="alert">${v.failed.message}</div>` : '';
}

function firstServerFields(v: SetupView, path: SetupPath): Html {
  return h`${databaseField(v, path)}
${field(v, path, 'cluster-url', 'Cluster URL (as clients reach it)', { placeholder: 'https://rms.example.test' })}
${field(v, path, 'service-account', 'Service account', { value: 'rms-service' })}
${field(v, path, 'admin', 'Administrator name', { value: 'admin' })}
${field(v, path, 'admin-email', 'Administrator e-mail (optional)', { type: 'email', required: false })}
${field(v, path, 'admin-password', 'Administrator password', { type: 'password' })}
${field(v, path, 'admin-password-confirm', 'Administrator password again', { type: 'password' })}
${field(v, path, 'key-password', 'Cluster key password', { type: 'password' })}
${field(v, path, 'key-password-confirm', 'Cluster key password again', { type: 'password' })}
${field(v, path, 'server-name', 'Name of this server', { value: v.serverName })}`;
}

export function setupPage(v: SetupView): string {
  const join = h`<section id="join"><h2>Add this server to a cluster</h2>
<p class="hint">Like <code>rmsctl cluster join</code>: this server opens the cluster key with its password and serves the same SLC; no enrollment.</p>
${errorFor(v, 'join')}
<form id="join-form" class="box" method="post" action="${SETUP_PATH}/join">${csrfField(v.csrf)}
${databaseField(v, 'join')}
${field(v, 'join', 'key-password', 'Cluster key password', { type: 'password' })}
${field(v, 'join', 'service-account', 'Service account (optional)', { required: false, value: v.finding.state === 'cluster' ? (v.finding.serviceAccount ?? '') : '', placeholder: 'the one the cluster was provisioned with' })}
${field(v, 'join', 'server-url', 'This server’s URL (as the load balancer reaches it)', { value: v.selfUrl })}
${field(v, 'join', 'server-name', 'Name of this server', { value: v.serverName })}
<div class="actions"><button type="submit">Add this server</button></div></form></section>`;
  const root = h`<section id="root"><h2>Provision a root certification cluster</h2>
<p class="hint">Like <code>rmsctl provision root</code>: a new cluster key (kept only wrapped with the key password), a self-signed SLC valid one year,
the built-in groups, the first administrator and the default DACLs. Keep the key password: without it nobody can open the cluster again.</p>
${errorFor(v, 'root')}
<form id="root-form" class="box" method="post" action="${SETUP_PATH}/root">${csrfField(v.csrf)}
${firstServerFields(v, 'root')}
<div class="actions"><button type="submit">Provision the root cluster</button></div></form></section>`;
  const licensing = h`<section id="licensing"><h2>Provision a licensing-only cluster</h2>
<p class="hint">Like <code>rmsctl provision licensing</code>: the root cluster signs this cluster's SLC through SubEnrollService.asmx (an administrator of the root
must have granted the account Execute on it). The root is asked before anything is written.</p>
${errorFor(v, 'licensing')}
<form id="licensing-form" class="box" method="post" action="${SETUP_PATH}/licensing">${csrfField(v.csrf)}
${field(v, 'licensing', 'root-url', 'Root cluster URL', { placeholder: 'https://root.example.test' })}
${field(v, 'licensing', 'root-user', 'Account on the root (SubEnroll)')}
${field(v, 'licensing', 'root-password', 'Its password', { type: 'password' })}
${firstServerFields(v, 'licensing')}
<div class="actions"><button type="submit">Provision the licensing-only cluster</button></div></form></section>`;
  // A database that already holds a cluster is most likely to be joined: that form comes first.
  const sections = v.finding.state === 'cluster' ? [join, root, licensing] : [root, licensing, join];
  return page(
    'Set up this server',
    h`${findingText(v.finding)}
<p class="hint">This server answers nothing else until it is set up. Once a form succeeds it serves the cluster at once, without a restart, and this page is gone.</p>
${sections}`,
  );
}

export interface SetupDone {
  path: SetupPath;
  clusterId: string;
  kind: string;
  clusterUrl: string;
  adminName?: string | undefined;
  databaseDisplay: string;
  serverName: string;
}

export function donePage(d: SetupDone): string {
  const kind = d.kind === 'root' ? 'root certification' : 'licensing-only';
  const what = d.path === 'join' ? `joined the ${kind} cluster` : `provisioned the ${kind} cluster`;
  const restart = `rmsctl serve --database ${d.databaseDisplay} --key-password-env RMS_KEY_PASSWORD --server-name ${d.serverName}`;
  return page(
    'This server is set up',
    h`<div class="notice ok" role="status">This server ${what} <code id="cluster-id">${d.clusterId}</code> (${d.clusterUrl}) and now serves it.</div>
<p>The set-up link no longer works. Manage the cluster on the <a href="/_wmcs/admin/">global administration pages</a>${d.adminName ? h` (sign in as <code>${d.adminName}</code>)` : ''}.</p>
<p>To start this server again later, with the cluster key password in the environment variable <code>RMS_KEY_PASSWORD</code>:</p>
<pre>${restart}</pre>`,
  );
}
