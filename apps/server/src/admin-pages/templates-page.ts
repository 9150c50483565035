import { archiveTemplateIn, listTemplatesIn } from '@openrms/issuance';
import { buttonForm, h, href, when } from './html';
import type { Action, Page } from './page-context';

export const templatesPage: Page = {
  key: 'templates',
  title: 'Rights policy templates',
  async render(ctx) {
    const { store } = ctx.deps;
    const templates = await listTemplatesIn(store);
    const db = store.displayUrl;
    const rows = templates.map(
      (t) => h`<tr><td>${t.name}</td><td>${t.description}</td><td class="mono">${t.id}</td><td class="${t.status === 'published' ? 'yes' : 'muted'}">${t.status}</td>
        <td class="when">${when(t.createdAt)}</td><td>${t.archivedAt ? when(t.archivedAt) : ''}</td>
        <td>${t.status === 'published' ? buttonForm(href('/templates/archive'), ctx.csrf, { template: t.id }, 'Archive', 'small danger') : ''}</td></tr>`,
    );
    return h`
<p class="hint">Published templates are distributed to clients. Archiving stops distributing a template; content already published with it stays licensable.</p>
${templates.length ? h`<table><tr><th>Name</th><th>Description</th><th>GUID</th><th>Status</th><th>Created</th><th>Archived</th><th></th></tr>${rows}</table>` : h`<p class="muted">No templates yet.</p>`}
<h2>Adding a template</h2>
<p>A template is signed with the cluster key, so adding one needs the cluster key password; this page does not ask for it.
Add templates from the command line:</p>
<pre>RMS_KEY_PASSWORD=… pnpm rmsctl templates add "NAME" --database ${db} --key-password-env RMS_KEY_PASSWORD \\
    --grant group@example.com:VIEW,PRINT --description "…" [--validity-days N]</pre>
<p class="hint">New templates reach every member within 5 seconds.</p>`;
  },
};

export const archiveTemplateAction: Action = async (ctx, form) => {
  const t = await archiveTemplateIn(ctx.deps.store, ctx.admin.name, form.one('template', 'the template'));
  try {
    await ctx.deps.runtime.refresh();
  } catch {
    // Converges at the next periodic refresh.
  }
  return { message: `Archived template ${t.name} (${t.id})`, redirect: '/templates' };
};
