import { DACL_RIGHTS, endpointPath, isRmsError, RmsError, SERVICE_PATHS, WMCS_PREFIX } from '@openrms/domain';
import {
  changeDacl,
  type DaclChangeResult,
  type DaclEntryView,
  effectiveAccess,
  type EffectiveAccess,
  type Identities,
  listDacl,
  resolveDaclEndpoint,
  showDirectoryIn,
} from '@openrms/issuance';
import { buttonForm, csrfField, h, href, type Html, options, when } from './html';
import { type Action, type Page, type PageContext, queryOne } from './page-context';

/** Endpoints as the WSDL spells them, keyed by the stored lower-case form. */
const DISPLAY = new Map(Object.values(SERVICE_PATHS).map((p) => [endpointPath(p), WMCS_PREFIX + p]));
const ENDPOINTS = [...DISPLAY.keys()];
const shown = (ep: string) => DISPLAY.get(ep) ?? ep;
const anchor = (ep: string) => `ep-${ep.replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')}`;
const SOURCES: Record<EffectiveAccess['source'], string> = { local: "this cluster's accounts", ad: 'Active Directory', ldap: 'the LDAP directory' };
const REASONS: Record<string, string> = {
  'allowed-by-entry': 'allowed by an entry',
  'denied-by-entry': 'denied by a deny entry (deny wins)',
  'no-matching-entry': 'no matching entry: no access',
};

interface AuditedEntry {
  principal: string;
  right: string;
  effect: string;
}

function diff(before: unknown, after: unknown): string {
  const key = (e: AuditedEntry) => `${e.effect} ${e.right} for ${e.principal}`;
  const list = (v: unknown) => (Array.isArray(v) ? (v as AuditedEntry[]).map(key) : []);
  const b = new Set(list(before));
  const a = new Set(list(after));
  const added = [...a].filter((x) => !b.has(x)).map((x) => `+ ${x}`);
  const removed = [...b].filter((x) => !a.has(x)).map((x) => `− ${x}`);
  return [...removed, ...added].join('; ') || 'no entry changed';
}

function effectiveTable(e: EffectiveAccess): Html {
  const rows = e.rights.map(
    (r) => h`<tr><td>${r.right}</td><td class="${r.allowed ? 'allow' : 'deny'}">${r.allowed ? 'allowed' : 'denied'}</td><td>${REASONS[r.reason] ?? r.reason}</td>
      <td>${r.decidedBy.map((d) => h`<span class="tag">${d.effect} ${d.right} for ${d.principal}${d.via !== e.principal ? ` (via ${d.via})` : ''}</span>`)}</td></tr>`,
  );
  return h`<section id="effective"><h3>Effective rights of ${e.principal} (${e.principalKind}${e.disabled ? ', disabled' : ''}) on ${shown(e.endpoint)}</h3>
<p class="hint">Answered by ${SOURCES[e.source]}. Evaluated over ${e.principal}${e.memberOf.length ? h` and ${e.memberOf.join(', ')}` : ''}: deny wins, no matching entry is no access.</p>
<table><tr><th>Right</th><th>Result</th><th>Why</th><th>Decided by</th></tr>${rows}</table></section>`;
}

async function principalNames(ctx: PageContext): Promise<string[]> {
  return (await ctx.deps.store.principals.list()).slice(0, 2000).map((p) => p.name);
}

/** Names (lower-cased) of the rows that stand for directory groups and people. */
async function directoryNames(ctx: PageContext): Promise<Set<string>> {
  const { store } = ctx.deps;
  const out = new Set<string>();
  for (const l of await store.directoryLinks.list()) {
    const p = await store.principals.find(l.principalId);
    if (p) out.add(p.name.toLowerCase());
  }
  return out;
}

const outage = (e: unknown): boolean => isRmsError(e, 'AdEntrySearchFailed') || isRmsError(e, 'Unavailable');

/**
 * Asks the directory before a DACL names one of its groups for the first time. An outage refuses
 * the change with a message (the form comes back) rather than taking the name on trust.
 */
function verifyGroupWith(identities: Identities): (nameOrEmail: string) => Promise<boolean> {
  return async (nameOrEmail) => {
    try {
      return (await identities.findGroup(nameOrEmail)) !== undefined;
    } catch (e) {
      if (!outage(e)) throw e;
      throw new RmsError('InvalidInput', `the directory could not be searched for the group "${nameOrEmail}", so nothing was changed; try again (${(e as Error).message})`);
    }
  };
}

export const daclPage: Page = {
  key: 'dacl',
  title: 'DACLs',
  async render(ctx) {
    const { store } = ctx.deps;
    const d = ctx.draft;
    const wantedEndpoint = d.endpoint ?? queryOne(ctx.req, 'endpoint');
    const wantedPrincipal = d.principal ?? queryOne(ctx.req, 'principal') ?? '';
    let selected = ENDPOINTS[0]!;
    try {
      if (wantedEndpoint) selected = resolveDaclEndpoint(wantedEndpoint);
    } catch (e) {
      ctx.notices.push({ kind: 'error', text: (e as Error).message });
    }
    let effective: Html | string = '';
    if (queryOne(ctx.req, 'check') !== undefined) {
      try {
        if (!wantedPrincipal.trim()) throw new RmsError('InvalidInput', 'name a user or group to check');
        effective = effectiveTable(await effectiveAccess(store, selected, wantedPrincipal, { identities: ctx.deps.runtime.identities }));
      } catch (e) {
        if (!(e instanceof RmsError)) throw e;
        ctx.notices.push({ kind: 'error', text: outage(e) ? `The directory could not be searched, so the effective rights of "${wantedPrincipal}" are unknown: ${e.message}` : e.message });
        ctx.res.status(outage(e) ? 503 : e.code === 'InvalidInput' ? 400 : 404);
      }
    }
    const entries = await listDacl(store);
    const byEndpoint = new Map<string, DaclEntryView[]>(ENDPOINTS.map((ep) => [ep, []]));
    for (const e of entries) byEndpoint.set(e.endpoint, [...(byEndpoint.get(e.endpoint) ?? []), e]);
    const names = await principalNames(ctx);
    const directory = await showDirectoryIn(store);
    const fromDirectory = directory ? await directoryNames(ctx) : new Set<string>();
    const audit = (await store.audit.list({ limit: 500 })).filter((a) => a.action.startsWith('dacl.')).slice(0, 25);
    const action = href('/dacl');
    const endpointOptions = options(ENDPOINTS, selected, Object.fromEntries(DISPLAY));

    const sections = [...byEndpoint].map(([ep, list]) => {
      const rows = list.map((e) => {
        const fields = { endpoint: e.endpoint, principal: e.principal, right: e.right, effect: e.effect };
        return h`<tr><td>${e.principal}</td><td>${e.principalKind}${fromDirectory.has(e.principal.toLowerCase()) ? h` <span class="tag">directory</span>` : ''}</td><td>${e.right}</td><td class="${e.effect}">${e.effect}</td><td>${e.createdBy}</td><td class="when">${when(e.createdAt)}</td>
          <td>${buttonForm(action, ctx.csrf, { ...fields, op: 'switch' }, e.effect === 'allow' ? 'Switch to deny' : 'Switch to allow')}
          ${buttonForm(action, ctx.csrf, { ...fields, op: 'revoke' }, 'Remove', 'small danger')}</td></tr>`;
      });
      return h`<h3 id="${anchor(ep)}" class="mono">${shown(ep)}</h3>
${list.length ? h`<table><tr><th>Principal</th><th>Kind</th><th>Right</th><th>Effect</th><th>Added by</th><th>Added</th><th>Change</th></tr>${rows}</table>` : h`<p class="muted">No entries: everyone is denied.</p>`}`;
    });

    const auditRows = audit.map((a) => h`<tr><td class="when">${when(a.at)}</td><td>${a.actor}</td><td>${a.action}</td><td class="mono">${shown(a.target ?? '')}</td><td>${diff(a.before, a.after)}</td></tr>`);
    const rightValue = d.right ?? 'Execute';
    return h`
<p class="hint">Every endpoint has a DACL. Deny wins over allow; no matching entry means no access. Changes apply on this server at once and on the other members within 5 seconds; each one is audited.</p>
<p class="endpoints">Jump to: ${ENDPOINTS.map((ep) => h`<a href="#${anchor(ep)}" class="mono">${shown(ep).replace(`${WMCS_PREFIX}/`, '')}</a> `)}</p>
<datalist id="principals">${names.map((n) => h`<option value="${n}">`)}</datalist>

<h2>Check effective rights</h2>
<form class="box" method="get" action="${action}" id="check-form">
<input type="hidden" name="check" value="1">
<label>Endpoint<select name="endpoint">${endpointOptions}</select></label>
<label>User or group<input type="text" name="principal" list="principals" value="${wantedPrincipal}" required></label>
<button type="submit">Check effective rights</button>
</form>
${effective}

<h2>Add an entry</h2>
<form class="box" method="post" action="${action}" id="add-form">${csrfField(ctx.csrf)}
<input type="hidden" name="op" value="add">
<label>Endpoint<select name="endpoint">${endpointOptions}</select></label>
<label>${directory ? 'User, group, or directory group (name or e-mail)' : 'User or group'}<input type="text" name="principal" list="principals" value="${wantedPrincipal}" required></label>
<label>Right<select name="right">${options(DACL_RIGHTS, rightValue)}</select></label>
<label>Effect<select name="effect">${options(['allow', 'deny'], d.effect ?? 'allow', { allow: 'allow (grant)', deny: 'deny' })}</select></label>
<button type="submit" class="primary">Save entry</button>
</form>
${directory ? h`<p class="hint">A name that is not one of this cluster's users or groups is looked up as a group in ${directory.kind === 'ad' ? 'Active Directory' : 'the LDAP directory'}; the entry applies to the people the directory puts in that group, through any nesting.</p>` : ''}

<h2>Entries by endpoint</h2>
${sections}

<h2>Recent DACL changes</h2>
${audit.length ? h`<table><tr><th>When</th><th>Who</th><th>Action</th><th>Endpoint</th><th>Change</th></tr>${auditRows}</table>` : h`<p class="muted">No DACL changes yet.</p>`}
<p><a href="${href('/audit', { action: 'dacl.' })}">All DACL changes in the audit log</a></p>`;
  },
};

function describe(r: DaclChangeResult, verb: string): string {
  return `${verb} ${r.right} on ${shown(r.endpoint)} ${verb.startsWith('Removed') ? 'from' : 'for'} ${r.principal}`;
}

export const daclAction: Action = async (ctx, form) => {
  const { store, runtime, logger } = ctx.deps;
  const actor = ctx.admin.name;
  const op = form.one('op');
  const endpoint = form.one('endpoint', 'the endpoint');
  const principal = form.one('principal', 'the user or group');
  const right = form.one('right', 'the right');
  const effect = form.one('effect', 'the effect');
  if (effect !== 'allow' && effect !== 'deny') throw new RmsError('InvalidInput', 'the effect is allow or deny');
  const change = { endpoint, principal, right };
  let message: string;
  let changed: boolean;
  if (op === 'add') {
    const r = await changeDacl(store, actor, { ...change, action: effect === 'allow' ? 'grant' : 'deny', verifyGroup: verifyGroupWith(runtime.identities) });
    changed = r.changed;
    message = r.changed ? describe(r, effect === 'allow' ? 'Granted' : 'Denied') : `${shown(r.endpoint)} already has that ${effect} entry for ${r.principal}: nothing changed`;
    if (r.directoryGroup?.created) message += ` (the directory group ${r.principal} is now linked)`;
  } else if (op === 'revoke') {
    const r = await changeDacl(store, actor, { ...change, action: 'revoke', effect });
    changed = true;
    message = describe(r, `Removed the ${effect} entry for`);
  } else if (op === 'switch') {
    // Both steps or neither: the savepoints of changeDacl nest inside this transaction.
    const r = await store.transaction(async (tx) => {
      await changeDacl(tx, actor, { ...change, action: 'revoke', effect });
      return changeDacl(tx, actor, { ...change, action: effect === 'allow' ? 'deny' : 'grant' });
    });
    changed = true;
    message = `Switched ${r.right} on ${shown(r.endpoint)} for ${r.principal} from ${effect} to ${effect === 'allow' ? 'deny' : 'allow'}`;
  } else {
    throw new RmsError('InvalidInput', 'unknown DACL operation');
  }
  if (changed) {
    logger.info({ requestId: ctx.res.locals.requestId, actor, op, endpoint, principal, right, effect }, 'DACL changed from the admin pages');
    try {
      await runtime.refresh();
    } catch (err) {
      // Committed; this member still converges at its next periodic refresh.
      logger.warn({ err: (err as Error)?.message }, 'refresh after a DACL change failed');
    }
  }
  const ep = resolveDaclEndpoint(endpoint);
  return { message, redirect: `/dacl?endpoint=${encodeURIComponent(ep)}#${anchor(ep)}` };
};
