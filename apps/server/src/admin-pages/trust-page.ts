import { RmsError } from '@openrms/domain';
import { addUserDomainIn, listPublishingDomainsIn, listUserDomainsIn, removePublishingDomainIn, removeUserDomainIn } from '@openrms/issuance';
import { csrfField, h, href, type Html, when } from './html';
import { type Action, type Page, type PageContext, queryOne } from './page-context';
import { ADMIN_UPLOAD_LIMIT_BYTES } from './upload-form';

/** What a pasted or uploaded SLC chain or export may be at most, as text (the upload limit bounds it too). */
const MAX_FILE_CHARS = ADMIN_UPLOAD_LIMIT_BYTES;

/** Applies a change on this member at once; the others converge at their next refresh. */
async function refreshHere(ctx: PageContext): Promise<void> {
  try {
    await ctx.deps.runtime.refresh();
  } catch {
    // It converges at the next periodic refresh.
  }
}

/** The confirmation of a removal (?confirm=…): what the cluster stops accepting, with the one button that does it. */
async function confirmation(ctx: PageContext): Promise<Html | string> {
  const what = queryOne(ctx.req, 'confirm');
  const cancel = h`<a href="${href('/trust')}">Cancel</a>`;
  if (what === 'remove-user-domain') {
    const fingerprint = queryOne(ctx.req, 'fingerprint') ?? '';
    const d = (await listUserDomainsIn(ctx.deps.store)).find((x) => x.kind === 'imported' && x.fingerprint === fingerprint);
    if (!d) return missing(ctx, 'no imported trusted user domain has that fingerprint');
    return h`<section id="confirm-remove" class="notice error"><h2>Stop trusting user domain ${d.name}?</h2>
<p>Rights account certificates signed with the key <span class="mono">sha256:${d.fingerprint}</span> are refused (UntrustedPersonaCertException) on every member within 5 seconds; its users get no new licences here.</p>
<form class="inline" method="post" action="${href('/trust/user-domains/remove')}" id="confirm-remove-form">${csrfField(ctx.csrf)}<input type="hidden" name="fingerprint" value="${d.fingerprint}"><input type="hidden" name="confirm" value="yes"><button type="submit" class="danger">Remove ${d.name}</button></form> ${cancel}</section>`;
  }
  if (what === 'remove-publishing-domain') {
    const keyId = queryOne(ctx.req, 'key') ?? '';
    const d = (await listPublishingDomainsIn(ctx.deps.store)).find((x) => x.keyId === keyId);
    if (!d) return missing(ctx, 'no trusted publishing domain has that id');
    return h`<section id="confirm-remove" class="notice error"><h2>Remove publishing domain ${d.name}?</h2>
<p>Content published for server <span class="mono">${d.serverGuid}</span> no longer gets use licences from this cluster, within 5 seconds on every member. Its imported key is erased from the configuration database: to license that content again, import its export file again.</p>
<form class="inline" method="post" action="${href('/trust/publishing-domains/remove')}" id="confirm-remove-form">${csrfField(ctx.csrf)}<input type="hidden" name="key" value="${d.keyId}"><input type="hidden" name="confirm" value="yes"><button type="submit" class="danger">Remove ${d.name}</button></form> ${cancel}</section>`;
  }
  return '';
}

function missing(ctx: PageContext, text: string): string {
  ctx.notices.push({ kind: 'error', text });
  ctx.res.status(404);
  return '';
}

/**
 * Trusted user domains (other roots whose RACs this cluster accepts) and trusted publishing domains
 * (other clusters' keys, so their content keeps opening here): what `rmsctl trust … list` shows,
 * with the same add, import and remove, through the same use-cases, audited with the administrator
 * as actor. Uploads are read as text, bounded, and checked completely before anything is written.
 */
export const trustPage: Page = {
  key: 'trust',
  title: 'Trusted domains',
  async render(ctx) {
    const { store } = ctx.deps;
    const d = ctx.draft;
    const confirm = await confirmation(ctx);
    const [userDomains, publishingDomains] = await Promise.all([listUserDomainsIn(store), listPublishingDomainsIn(store)]);
    const userRows = userDomains.map(
      (x) => h`<tr><td>${x.name}${x.kind === 'root' ? h` <span class="tag">root of this cluster</span>` : ''}</td><td class="mono">${x.fingerprint}</td><td class="mono">${x.serverGuid ?? '—'}</td>
        <td class="when">${x.addedAt ? when(x.addedAt) : 'provisioning'}</td>
        <td>${x.kind === 'imported' ? h`<a class="danger" href="${href('/trust', { confirm: 'remove-user-domain', fingerprint: x.fingerprint })}#confirm-remove">Remove…</a>` : h`<span class="muted">kept</span>`}</td></tr>`,
    );
    const publishingRows = publishingDomains.map(
      (x) => h`<tr><td>${x.name}</td><td class="mono wrap">${x.url}</td><td class="mono">${x.publicKeySha256}</td><td class="mono">${x.serverGuid}</td>
        <td class="when">${x.slcValidUntil ? when(x.slcValidUntil) : '—'}</td><td class="when">${when(x.importedAt)}</td>
        <td><a class="danger" href="${href('/trust', { confirm: 'remove-publishing-domain', key: x.keyId })}#confirm-remove">Remove…</a></td></tr>`,
    );
    return h`
${confirm}
<p class="hint">Fingerprints are SHA-256 of the public key (SPKI), as <code>rmsctl slc show</code> prints them. Changes apply on this server at once and on the other members within 5 seconds; each one is audited.</p>
<h2 id="user-domains">Trusted user domains</h2>
<p class="hint">Other root clusters whose rights account certificates this cluster accepts when licensing (by e-mail address), besides its own.</p>
${userRows.length ? h`<table id="trusted-user-domains"><tr><th>Name</th><th>Key fingerprint</th><th>Server</th><th>Added</th><th></th></tr>${userRows}</table>` : h`<p id="trusted-user-domains" class="muted">None.</p>`}
<form class="box" method="post" enctype="multipart/form-data" action="${href('/trust/user-domains')}" id="add-user-domain-form">${csrfField(ctx.csrf)}
<label>Name (optional: the SLC's name)<input type="text" name="name" value="${d.name ?? ''}" maxlength="200"></label>
<label>SLC chain file<input type="file" name="slcFile" accept=".xml,.pem,.json,.txt"></label>
<label>or paste it<textarea name="slcText" rows="4" cols="60" placeholder="-----BEGIN PUBLIC KEY----- … or &lt;XrML …&gt;"></textarea></label>
<button type="submit" class="primary">Trust this user domain</button>
</form>
<p class="hint">Take the other root's <code>rmsctl slc show --pem</code> output, or its SLC chain (XrML documents leaf first, or a JSON array). A chain must verify.</p>
<h2 id="publishing-domains">Trusted publishing domains</h2>
<p class="hint">Other clusters whose published content this cluster licenses with their imported key (after a migration or a decommissioning).</p>
${publishingRows.length ? h`<table id="trusted-publishing-domains"><tr><th>Name</th><th>URL</th><th>Key fingerprint</th><th>Server</th><th>SLC valid until</th><th>Imported</th><th></th></tr>${publishingRows}</table>` : h`<p id="trusted-publishing-domains" class="muted">None.</p>`}
<form class="box" method="post" enctype="multipart/form-data" action="${href('/trust/publishing-domains')}" id="import-publishing-domain-form">${csrfField(ctx.csrf)}
<label>Key export file (<code>rmsctl key export</code> on the other cluster)<input type="file" name="exportFile" required></label>
<label>Its password<input type="password" name="exportPassword" autocomplete="off" required></label>
<button type="submit" class="primary">Import publishing domain</button>
</form>
<p class="hint">The imported key is sealed to this cluster's key; the export password is used once and kept nowhere.</p>`;
  },
};

export const addUserDomainAction: Action = async (ctx, form) => {
  const pasted = form.long('slcText', 'the pasted SLC', MAX_FILE_CHARS).trim();
  const file = form.long('slcFile', 'the SLC file', MAX_FILE_CHARS).trim();
  if (pasted && file) throw new RmsError('InvalidInput', 'give the SLC chain either as a file or pasted, not both');
  const text = pasted || file;
  if (!text) throw new RmsError('InvalidInput', 'choose the SLC chain file or paste the SLC chain');
  const name = form.one('name').trim();
  const r = await addUserDomainIn(ctx.deps.store, { text, ...(name ? { name } : {}), actor: ctx.admin.name });
  await refreshHere(ctx);
  return { message: `Now trusting user domain ${r.name} (sha256:${r.fingerprint})`, redirect: '/trust' };
};

export const removeUserDomainAction: Action = async (ctx, form) => {
  const fingerprint = form.one('fingerprint', 'the fingerprint');
  if (form.one('confirm') !== 'yes') throw new RmsError('InvalidInput', 'confirm the removal on the confirmation form');
  if (!/^[0-9a-f]{64}$/.test(fingerprint)) throw new RmsError('InvalidInput', 'the fingerprint must be the whole SHA-256 in hex');
  const r = await removeUserDomainIn(ctx.deps.store, { which: fingerprint, actor: ctx.admin.name });
  await refreshHere(ctx);
  return { message: `No longer trusting user domain ${r.name}`, redirect: '/trust' };
};

export const importPublishingDomainAction: Action = async (ctx, form) => {
  const exportText = form.long('exportFile', 'the key export file', MAX_FILE_CHARS);
  if (!exportText.trim()) throw new RmsError('InvalidInput', 'choose the key export file');
  const exportPassword = form.one('exportPassword', 'the export file password');
  const r = await ctx.deps.runtime.importPublishingDomain({ exportText, exportPassword, actor: ctx.admin.name });
  return { message: `Imported publishing domain ${r.name} (server ${r.serverGuid}, key sha256:${r.publicKeySha256})`, redirect: '/trust' };
};

export const removePublishingDomainAction: Action = async (ctx, form) => {
  const keyId = form.one('key', 'the publishing domain');
  if (form.one('confirm') !== 'yes') throw new RmsError('InvalidInput', 'confirm the removal on the confirmation form');
  const known = (await listPublishingDomainsIn(ctx.deps.store)).find((x) => x.keyId === keyId);
  if (!known) throw new RmsError('NotFound', 'no trusted publishing domain has that id');
  const r = await removePublishingDomainIn(ctx.deps.store, { which: keyId, actor: ctx.admin.name });
  await refreshHere(ctx);
  return { message: `Removed publishing domain ${r.name} (server ${r.serverGuid})`, redirect: '/trust' };
};
