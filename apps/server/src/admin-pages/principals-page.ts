import { RmsError } from '@openrms/domain';
import { addGroupIn, addUserIn, changeMembershipIn, listPrincipalsIn, MIN_USER_PASSWORD_LENGTH } from '@openrms/issuance';
import { csrfField, h, href, options } from './html';
import { type Action, type Page, queryOne } from './page-context';

const SHOWN = 500;

export const principalsPage: Page = {
  key: 'principals',
  title: 'Users and groups',
  async render(ctx) {
    const d = ctx.draft;
    const { users, groups } = await listPrincipalsIn(ctx.deps.store);
    const q = (queryOne(ctx.req, 'q') ?? '').trim().toLowerCase();
    const matching = q ? users.filter((u) => u.name.toLowerCase().includes(q) || (u.email ?? '').toLowerCase().includes(q)) : users;
    const editable = groups.filter((g) => !g.implicit).map((g) => g.name);
    const chosen = new Set(d.groups ? [d.groups] : []);
    const userRows = matching.slice(0, SHOWN).map(
      (u) => h`<tr><td>${u.name}</td><td>${u.email ?? '—'}</td><td>${u.displayName ?? ''}</td><td>${u.groups.map((g) => h`<span class="tag">${g}</span>`)}</td>
        <td>${u.builtin ? h`<span class="tag">built-in</span>` : ''}${u.disabled ? h`<span class="tag deny">disabled</span>` : ''}</td></tr>`,
    );
    const groupRows = groups.map(
      (g) => h`<tr><td>${g.name}</td><td>${g.email ?? ''}</td><td>${g.implicit ? h`<span class="muted">implicit: ${g.name === 'Everyone' ? 'every caller' : 'every authenticated user'}</span>` : g.members.map((m) => h`<span class="tag">${m}</span>`)}</td>
        <td>${g.builtin ? h`<span class="tag">built-in</span>` : ''}</td></tr>`,
    );
    const action = (p: string) => href(p);
    return h`
<datalist id="principal-names">${[...users.map((u) => u.name), ...editable].slice(0, 2000).map((n) => h`<option value="${n}">`)}</datalist>
<h2>Add a user</h2>
<form class="box" method="post" action="${action('/principals/users')}" id="add-user-form">${csrfField(ctx.csrf)}
<label>Name<input type="text" name="name" value="${d.name ?? ''}" required maxlength="128" autocomplete="off"></label>
<label>E-mail<input type="email" name="email" value="${d.email ?? ''}" required autocomplete="off"></label>
<label>Display name (optional)<input type="text" name="displayName" value="${d.displayName ?? ''}" autocomplete="off"></label>
<label>Password (${MIN_USER_PASSWORD_LENGTH}+ characters)<input type="password" name="password" required minlength="${MIN_USER_PASSWORD_LENGTH}" autocomplete="new-password"></label>
<label>Groups<select name="groups" multiple>${editable.map((g) => h`<option value="${g}"${chosen.has(g) ? h` selected` : ''}>${g}</option>`)}</select></label>
<button type="submit" class="primary">Add user</button>
</form>

<h2>Add a group</h2>
<form class="box" method="post" action="${action('/principals/groups')}" id="add-group-form">${csrfField(ctx.csrf)}
<label>Name<input type="text" name="groupName" value="${d.groupName ?? ''}" required maxlength="128" autocomplete="off"></label>
<label>E-mail (optional; what templates and licences name)<input type="email" name="groupEmail" value="${d.groupEmail ?? ''}" autocomplete="off"></label>
<button type="submit" class="primary">Add group</button>
</form>

<h2>Membership</h2>
<form class="box" method="post" action="${action('/principals/members')}" id="membership-form">${csrfField(ctx.csrf)}
<label>Group<select name="group">${options(editable, d.group)}</select></label>
<label>Member (user or group)<input type="text" name="member" list="principal-names" value="${d.member ?? ''}" required></label>
<label>Change<select name="action">${options(['add', 'remove'], d.action ?? 'add', { add: 'add to the group', remove: 'remove from the group' })}</select></label>
<button type="submit" class="primary">Apply</button>
</form>
<p class="hint">Membership decides DACL access and super-user rights; members of RMS Administrators can use these pages.</p>

<h2>Users (${users.length})</h2>
<form method="get" action="${href('/principals')}"><label>Find <input type="search" name="q" value="${q}"></label> <button type="submit">Filter</button></form>
${matching.length > SHOWN ? h`<p class="hint">Showing the first ${SHOWN} of ${matching.length}; filter to narrow down.</p>` : ''}
<table><tr><th>Name</th><th>E-mail</th><th>Display name</th><th>Groups (direct)</th><th></th></tr>${userRows}</table>

<h2>Groups (${groups.length})</h2>
<table><tr><th>Name</th><th>E-mail</th><th>Members (direct)</th><th></th></tr>${groupRows}</table>`;
  },
};

export const addUserAction: Action = async (ctx, form) => {
  const name = form.one('name', 'the user name').trim();
  const u = await addUserIn(ctx.deps.store, ctx.admin.name, {
    name,
    email: form.one('email', 'the e-mail address'),
    password: form.one('password', 'the password'),
    displayName: form.one('displayName') || undefined,
    groups: form.many('groups'),
  });
  return { message: `Added user ${u.name} <${u.email}>${u.groups.length ? ` in ${u.groups.join(', ')}` : ''}`, redirect: '/principals' };
};

export const addGroupAction: Action = async (ctx, form) => {
  const g = await addGroupIn(ctx.deps.store, ctx.admin.name, { name: form.one('groupName', 'the group name'), email: form.one('groupEmail') || undefined });
  return { message: `Added group ${g.name}`, redirect: '/principals' };
};

export const membershipAction: Action = async (ctx, form) => {
  const action = form.one('action', 'the change');
  if (action !== 'add' && action !== 'remove') throw new RmsError('InvalidInput', 'the membership change is add or remove');
  const group = form.one('group', 'the group');
  const member = form.one('member', 'the member');
  const r = await changeMembershipIn(ctx.deps.store, ctx.admin.name, { action, group, member });
  try {
    // Membership decides access: apply it on this member at once.
    await ctx.deps.runtime.refresh();
  } catch {
    // It converges at the next periodic refresh.
  }
  const message = !r.changed ? `${member} is already a member of ${group}: nothing changed` : action === 'add' ? `Added ${member} to ${group}` : `Removed ${member} from ${group}`;
  return { message, redirect: '/principals' };
};
