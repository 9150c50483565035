import { RmsError } from '@openrms/domain';
import { listRevocationsIn, readPublishedRevocationList, revocationListUrl, revokeIn, type RevokeTarget, unrevokeIn } from '@openrms/issuance';
import { csrfField, h, href, options, when } from './html';
import type { Action, Page, PageContext } from './page-context';

const KINDS = ['RAC', 'CLC', 'PL', 'SLC'] as const;
const KIND_LABELS: Record<string, string> = {
  RAC: 'RAC (rights account certificate)',
  CLC: 'CLC (client licensor certificate)',
  PL: 'PL (all licences for a content ID)',
  SLC: 'SLC (a licensing cluster or trusted domain)',
};

/** Revocation (PROTOCOL.md §6.6): what the cluster refuses, its signed list, and the forms to revoke and lift. */
export const revocationPage: Page = {
  key: 'revocation',
  title: 'Revocation',
  async render(ctx) {
    const { store, runtime } = ctx.deps;
    const d = ctx.draft;
    const rows = await listRevocationsIn(store);
    const list = (await readPublishedRevocationList(store)) ?? runtime.revocationList;
    const url = revocationListUrl(runtime.cluster);
    const table = rows.map(
      (r) => h`<tr><td class="mono">${r.id}</td><td>${r.kind}</td><td>${r.match}</td><td class="mono wrap">${r.value}</td><td>${r.subject ?? ''}</td><td>${r.reason ?? ''}</td><td class="when">${when(r.revokedAt)}</td><td>${r.revokedBy}</td>
<td><form class="inline" method="post" action="${href('/revocation/remove')}">${csrfField(ctx.csrf)}<input type="hidden" name="id" value="${r.id}">
<label class="muted"><input type="checkbox" name="confirm" value="yes" required> sure</label> <button type="submit" class="small">Lift</button></form></td></tr>`,
    );
    return h`
<h2>Signed revocation list</h2>
<table class="kv">
<tr><th>Published at</th><td><a href="${url}">${url}</a></td></tr>
<tr><th>Issued</th><td>${list ? when(list.issuedAt) : 'not yet (a member publishes one within seconds)'}</td></tr>
<tr><th>Next update by</th><td>${list ? when(list.nextUpdate) : '—'}</td></tr>
<tr><th>Entries</th><td>${list ? list.entries : '—'}</td></tr>
</table>
<p class="hint">The list is signed with the cluster key and named in the revocation condition of the SLCs this cluster issues or renews. Members refuse what is revoked from their next refresh (within 5 seconds); the list is signed again at once and every day.</p>

<h2>Revoked</h2>
${rows.length ? h`<table><tr><th>Id</th><th>What</th><th>By</th><th>Value</th><th>For</th><th>Reason</th><th>When</th><th>Who</th><th></th></tr>${table}</table>` : h`<p class="muted">Nothing is revoked.</p>`}

<h2>Revoke</h2>
<form class="box" method="post" action="${href('/revocation')}" id="revoke-form">${csrfField(ctx.csrf)}
<label>What<select name="kind">${options(KINDS, d.kind, KIND_LABELS)}</select></label>
<label>ID (certificate ID, content ID or server ID)<input type="text" name="id" value="${d.id ?? ''}" placeholder="{GUID}"></label>
<label>…or the document (XrML) or public key (PEM)<textarea name="document" rows="3" cols="50">${d.document ?? ''}</textarea></label>
<label><span><input type="checkbox" name="byKey" value="yes"${d.byKey === 'yes' ? h` checked` : ''}> RAC/CLC document: revoke its key (every certificate with it)</span></label>
<label>Reason<input type="text" name="reason" value="${d.reason ?? ''}"></label>
<label><span><input type="checkbox" name="confirm" value="yes" required> I understand every member refuses it within seconds</span></label>
<button type="submit" class="danger">Revoke</button>
</form>
<p class="hint">The same from the command line: <code>pnpm rmsctl revoke rac|clc|pl|slc --database ${store.displayUrl} …</code>; <code>revoke list</code>, <code>revoke remove ID</code>.</p>`;
  },
};

function confirmed(form: Parameters<Action>[1]): void {
  if (form.one('confirm') !== 'yes') throw new RmsError('InvalidInput', 'tick the confirmation box to go ahead');
}

async function applied(ctx: PageContext): Promise<void> {
  try {
    // This member enforces it and signs the new list at once; the others at their next refresh.
    await ctx.deps.runtime.refresh();
  } catch {
    // Converges at the next periodic refresh.
  }
}

export const revokeAction: Action = async (ctx, form) => {
  confirmed(form);
  const kind = form.one('kind', 'what to revoke');
  const id = form.one('id').trim() || undefined;
  const doc = form.one('document').trim() || undefined;
  const isKey = doc !== undefined && /-----BEGIN (RSA )?PUBLIC KEY-----/.test(doc);
  let target: RevokeTarget;
  switch (kind) {
    case 'RAC':
    case 'CLC':
      target = { kind, id, ...(isKey ? { keyPem: doc } : { file: doc }), byKey: form.one('byKey') === 'yes' };
      break;
    case 'PL':
      target = { kind, contentId: id, file: doc };
      break;
    case 'SLC':
      target = { kind, serverId: id, file: doc };
      break;
    default:
      throw new RmsError('InvalidInput', 'choose RAC, CLC, PL or SLC');
  }
  const r = await revokeIn(ctx.deps.store, ctx.admin.name, { target, reason: form.one('reason') });
  await applied(ctx);
  return { message: `Revoked ${r.kind} by ${r.match} ${r.value} (revocation ${r.id})`, redirect: '/revocation' };
};

export const liftRevocationAction: Action = async (ctx, form) => {
  confirmed(form);
  const r = await unrevokeIn(ctx.deps.store, ctx.admin.name, form.one('id', 'the revocation id'));
  await applied(ctx);
  return { message: `Lifted the revocation of ${r.kind} ${r.match} ${r.value}`, redirect: '/revocation' };
};
