import { RmsError } from '@openrms/domain';
import { changePolicyIn, listPrincipalsIn, readPolicies } from '@openrms/issuance';
import { buttonForm, csrfField, h, href, options } from './html';
import type { Action, Page } from './page-context';

export const policiesPage: Page = {
  key: 'policies',
  title: 'Super users and exclusion policies',
  async render(ctx) {
    const { store } = ctx.deps;
    const d = ctx.draft;
    const p = await readPolicies(store);
    const groups = (await listPrincipalsIn(store)).groups.filter((g) => !g.implicit).map((g) => g.name);
    const excludedRows = p.excludedUsers.map((x) => {
      const fields: Record<string, string> = x.email !== undefined ? { email: x.email } : { keyFingerprint: x.keyFingerprint ?? '' };
      return h`<tr><td>${x.email ?? ''}</td><td class="mono">${x.keyFingerprint ?? ''}</td><td>${buttonForm(href('/policies/include-user'), ctx.csrf, fields, 'Include again')}</td></tr>`;
    });
    const apps = p.excludedApplications.map((a) => h`<tr><td>${a.name}</td><td>${a.min}</td><td>${a.max}</td></tr>`);
    return h`
<h2>Super users</h2>
<p>Super users get every right to all content this cluster licenses. Status:
${p.superUsers.enabled ? h`<strong class="yes">enabled</strong>, group <strong>${p.superUsers.group}</strong>` : h`<strong class="no">disabled</strong>${p.superUsers.group ? h` (last group: ${p.superUsers.group})` : ''}`}</p>
<form class="box" method="post" action="${href('/policies/super-users')}" id="super-users-form">${csrfField(ctx.csrf)}
<input type="hidden" name="enabled" value="true">
<label>Super users group<select name="group">${options(groups, d.group ?? p.superUsers.group ?? undefined)}</select></label>
<button type="submit" class="primary">Enable super users with this group</button>
</form>
${p.superUsers.enabled ? buttonForm(href('/policies/super-users'), ctx.csrf, { enabled: 'false' }, 'Disable super users', 'danger') : ''}

<h2>Excluded users</h2>
<p class="hint">Excluded users get no new client licensor certificates or use licences from this cluster.</p>
${p.excludedUsers.length ? h`<table><tr><th>E-mail</th><th>RAC key fingerprint</th><th></th></tr>${excludedRows}</table>` : h`<p class="muted">Nobody is excluded.</p>`}
<form class="box" method="post" action="${href('/policies/exclude-user')}" id="exclude-user-form">${csrfField(ctx.csrf)}
<label>E-mail address<input type="email" name="email" value="${d.email ?? ''}" required></label>
<button type="submit" class="primary">Exclude user</button>
</form>
<p class="hint">To exclude by RAC key: <code>pnpm rmsctl policy exclude-user --database ${store.displayUrl} --rac-key FILE.pem</code></p>

<h2>Excluded applications</h2>
${p.excludedApplications.length ? h`<table><tr><th>Application</th><th>From version</th><th>To version</th></tr>${apps}</table>` : h`<p class="muted">No application is excluded.</p>`}
<p class="hint">Change with <code>pnpm rmsctl policy exclude-app</code> / <code>include-app</code>.</p>

<h2>Other policies</h2>
<table class="kv">
<tr><th>Minimum lockbox version</th><td>${p.lockboxMinVersion ?? 'none'}</td></tr>
<tr><th>Online publishing</th><td>${p.onlinePublishing ? 'enabled' : 'disabled (rmsctl policy online-publishing --enable)'}</td></tr>
<tr><th>Self-issued machine certificates</th><td>${p.spcTrust.allowSelfIssued ? 'accepted' : 'refused'}</td></tr>
<tr><th>Machine-certificate CA keys</th><td>${p.spcTrust.caKeysPem.length}</td></tr>
</table>
<p class="hint">Change with <code>pnpm rmsctl policy lockbox</code>. Policy changes reach every member within 5 seconds; each one is audited.</p>`;
  },
};

async function applied(ctx: Parameters<Action>[0]): Promise<void> {
  try {
    await ctx.deps.runtime.refresh();
  } catch {
    // Converges at the next periodic refresh.
  }
}

export const superUsersAction: Action = async (ctx, form) => {
  const enabled = form.one('enabled');
  if (enabled !== 'true' && enabled !== 'false') throw new RmsError('InvalidInput', 'say whether super users are enabled');
  const p = await changePolicyIn(ctx.deps.store, ctx.admin.name, { kind: 'super-users', enabled: enabled === 'true', group: form.one('group') || undefined });
  await applied(ctx);
  return { message: p.superUsers.enabled ? `Super users enabled: members of ${p.superUsers.group}` : 'Super users disabled', redirect: '/policies' };
};

export const excludeUserAction: Action = async (ctx, form) => {
  const email = form.one('email', 'the e-mail address');
  await changePolicyIn(ctx.deps.store, ctx.admin.name, { kind: 'exclude-user', email });
  await applied(ctx);
  return { message: `Excluded ${email.trim().toLowerCase()}`, redirect: '/policies' };
};

export const includeUserAction: Action = async (ctx, form) => {
  const email = form.one('email') || undefined;
  const keyFingerprint = form.one('keyFingerprint') || undefined;
  await changePolicyIn(ctx.deps.store, ctx.admin.name, { kind: 'include-user', email, keyFingerprint });
  await applied(ctx);
  return { message: `${email ?? keyFingerprint} is no longer excluded`, redirect: '/policies' };
};
