import { isRmsError, RmsError } from '@openrms/domain';
import {
  addGroupIn,
  addUserIn,
  changeMembershipIn,
  describeUser,
  type DirectorySettingsView,
  listPrincipalsIn,
  MIN_USER_PASSWORD_LENGTH,
  previewGroupRemovalIn,
  previewUserRemovalIn,
  removeGroupIn,
  removeUserIn,
  setUserDisabledIn,
  setUserPasswordIn,
  showDirectoryIn,
  type UserDescription,
} from '@openrms/issuance';
import { buttonForm, csrfField, h, href, type Html, options } from './html';
import { type Action, type Page, type PageContext, queryOne } from './page-context';

const SHOWN = 500;
const SOURCES = { local: "this cluster's accounts", ad: 'Active Directory', ldap: 'the LDAP directory' } as const;
const MAX_LOOKUP = 320;

/** Where people and groups come from; never the bind password. */
function directorySection(d: DirectorySettingsView | undefined): Html {
  if (!d) {
    return h`<section id="directory"><p><strong>Directory:</strong> none. People and groups are this cluster's own accounts (below).</p></section>`;
  }
  return h`<section id="directory"><h2>Directory</h2>
<table class="kv"><tr><th>Kind</th><td>${d.kind === 'ad' ? 'Active Directory' : 'LDAP'}</td></tr>
<tr><th>URL</th><td class="mono">${d.url}${d.startTls ? ' (StartTLS)' : ''}</td></tr>
<tr><th>Base DN</th><td class="mono">${d.baseDn}</td></tr>
<tr><th>Answers cached for</th><td>${d.cacheTtlSeconds} s</td></tr>
${d.serviceGroup ? h`<tr><th>RMS Service Group from</th><td>${d.serviceGroup}</td></tr>` : ''}${d.adminGroup ? h`<tr><th>RMS Administrators from</th><td>${d.adminGroup}</td></tr>` : ''}</table>
<p class="hint">This cluster's own accounts answer first, then the directory. DACL entries may name directory groups by name or e-mail; <code>rmsctl directory</code> changes the connection.</p></section>`;
}

function describedUser(u: UserDescription): Html {
  const groups = u.groups.map(
    (g) => h`<tr><td>${g.name}</td><td>${g.email ?? ''}</td><td>${g.path.length > 1 ? `via ${g.path.join(' > ')}` : h`<span class="muted">direct</span>`}</td></tr>`,
  );
  return h`<section id="lookup-result"><h3>${u.name}${u.displayName ? ` (${u.displayName})` : ''}</h3>
<table class="kv"><tr><th>Answered by</th><td>${SOURCES[u.source]}</td></tr>
<tr><th>Row in this cluster</th><td>${u.principalName}</td></tr>
<tr><th>E-mail</th><td>${u.email ?? h`<span class="muted">none: no RAC can be issued</span>`}</td></tr>
<tr><th>Aliases</th><td>${u.aliases.length ? u.aliases.map((a) => h`<span class="tag">${a}</span>`) : h`<span class="muted">none</span>`}</td></tr>
${u.userPrincipalName ? h`<tr><th>UPN</th><td>${u.userPrincipalName}</td></tr>` : ''}${u.dn ? h`<tr><th>DN</th><td class="mono wrap">${u.dn}</td></tr>` : ''}${u.sid ? h`<tr><th>SID</th><td class="mono">${u.sid}</td></tr>` : ''}
<tr><th>State</th><td>${u.disabled ? h`<span class="no">disabled</span> (no sign-on, no RAC, no licence)` : h`<span class="yes">enabled</span>`}</td></tr>
<tr><th>Built-in groups</th><td>${u.builtinGroups.length ? u.builtinGroups.map((g) => h`<span class="tag">${g}</span>`) : h`<span class="muted">none</span>`}</td></tr></table>
${u.groups.length ? h`<table><tr><th>Group</th><th>E-mail</th><th>How</th></tr>${groups}</table>` : h`<p class="muted">In no group.</p>`}</section>`;
}

/**
 * The confirmation of a removal (?confirm=remove-user|remove-group&name=…): what goes with it,
 * and the one form that does it. Removals are never a single click from the lists.
 */
async function confirmation(ctx: PageContext): Promise<Html | string> {
  const what = queryOne(ctx.req, 'confirm');
  const name = (queryOne(ctx.req, 'name') ?? '').trim();
  if (what !== 'remove-user' && what !== 'remove-group') return '';
  try {
    if (!name || name.length > 128) throw new RmsError('InvalidInput', 'name the user or group to remove');
    const cancel = h`<a href="${href('/principals')}">Cancel</a>`;
    if (what === 'remove-user') {
      const r = await previewUserRemovalIn(ctx.deps.store, name);
      const takes = [
        `${r.groups.length} group membership(s)${r.groups.length ? ` (${r.groups.join(', ')})` : ''}`,
        `${r.daclEntries} DACL entr${r.daclEntries === 1 ? 'y' : 'ies'}`,
        r.racKey ? 'its RAC key pair (certificates issued to it can no longer be used for new licences)' : 'no RAC key pair',
      ];
      return h`<section id="confirm-remove" class="notice error"><h2>Remove user ${r.name}?</h2>
<p>This deletes the account ${r.name}${r.email ? ` <${r.email}>` : ''} with ${takes.join(', ')}. It cannot be undone.${r.source !== 'local' ? ' A directory person\'s row is created again when they next sign on; disable them in the directory to keep them out.' : ''}</p>
<form class="inline" method="post" action="${href('/principals/users/remove')}" id="confirm-remove-form">${csrfField(ctx.csrf)}<input type="hidden" name="name" value="${r.name}"><input type="hidden" name="confirm" value="yes"><button type="submit" class="danger">Remove ${r.name}</button></form> ${cancel}</section>`;
    }
    const r = await previewGroupRemovalIn(ctx.deps.store, name);
    return h`<section id="confirm-remove" class="notice error"><h2>Remove group ${r.name}?</h2>
<p>This deletes the group ${r.name} with its ${r.members.length} membership(s) (the members stay), its place in ${r.memberOf.length ? r.memberOf.join(', ') : 'no other group'} and ${r.daclEntries} DACL entr${r.daclEntries === 1 ? 'y' : 'ies'}. Access it gave ends on every member. It cannot be undone.</p>
<form class="inline" method="post" action="${href('/principals/groups/remove')}" id="confirm-remove-form">${csrfField(ctx.csrf)}<input type="hidden" name="name" value="${r.name}"><input type="hidden" name="confirm" value="yes"><button type="submit" class="danger">Remove ${r.name}</button></form> ${cancel}</section>`;
  } catch (e) {
    if (!isRmsError(e)) throw e;
    ctx.notices.push({ kind: 'error', text: e.message });
    ctx.res.status(e.code === 'NotFound' ? 404 : 400);
    return '';
  }
}

/** The person named in ?lookup=, through the Directory port the servers use; outages are a notice, not a 500. */
async function lookup(ctx: PageContext, name: string): Promise<Html | string> {
  if (!name) return '';
  try {
    if (name.length > MAX_LOOKUP) throw new RmsError('InvalidInput', 'the name to look up is too long');
    return describedUser(await describeUser(ctx.deps.runtime.identities, ctx.deps.store, name));
  } catch (e) {
    if (!isRmsError(e)) throw e;
    if (e.code === 'AdEntrySearchFailed' || e.code === 'Unavailable') {
      ctx.deps.logger.warn({ requestId: ctx.res.locals.requestId, reason: e.message }, 'person lookup: the directory did not answer');
      ctx.notices.push({ kind: 'error', text: `The directory could not be searched, so "${name}" could not be looked up: ${e.message}` });
      ctx.res.status(503);
    } else {
      ctx.notices.push({ kind: 'error', text: e.message });
      ctx.res.status(e.code === 'NotFound' ? 404 : 400);
    }
    return '';
  }
}

export const principalsPage: Page = {
  key: 'principals',
  title: 'Users and groups',
  async render(ctx) {
    const d = ctx.draft;
    const { users, groups } = await listPrincipalsIn(ctx.deps.store);
    const directory = await showDirectoryIn(ctx.deps.store);
    const linked = new Set((await ctx.deps.store.directoryLinks.list()).map((l) => l.principalId));
    const ids = new Map((await ctx.deps.store.principals.list()).map((p) => [p.name, p.id]));
    const fromDirectory = (name: string) => linked.has(ids.get(name) ?? '');
    const wanted = (queryOne(ctx.req, 'lookup') ?? '').trim();
    const found = await lookup(ctx, wanted);
    const confirm = await confirmation(ctx);
    const q = (queryOne(ctx.req, 'q') ?? '').trim().toLowerCase();
    const matching = q ? users.filter((u) => u.name.toLowerCase().includes(q) || (u.email ?? '').toLowerCase().includes(q)) : users;
    const editable = groups.filter((g) => !g.implicit).map((g) => g.name);
    const chosen = new Set(d.groups ? [d.groups] : []);
    const stateForm = (name: string, disabled: boolean) =>
      buttonForm(href('/principals/users/state'), ctx.csrf, { name, state: disabled ? 'enable' : 'disable' }, disabled ? 'Enable' : 'Disable');
    const removeLink = (kind: 'user' | 'group', name: string) => h`<a class="danger" href="${href('/principals', { confirm: `remove-${kind}`, name })}#confirm-remove">Remove…</a>`;
    const userActions = (u: (typeof users)[number]) =>
      u.builtin
        ? h`<span class="muted">built-in</span>`
        : u.name.toLowerCase() === ctx.admin.name.toLowerCase()
          ? h`<span class="muted">you</span>`
          : h`${fromDirectory(u.name) ? '' : stateForm(u.name, u.disabled)} ${removeLink('user', u.name)}`;
    const userRows = matching.slice(0, SHOWN).map(
      (u) => h`<tr data-user="${u.name}"><td>${u.name}</td><td>${u.email ?? '—'}</td><td>${u.displayName ?? ''}</td><td>${u.groups.map((g) => h`<span class="tag">${g}</span>`)}</td>
        <td>${u.builtin ? h`<span class="tag">built-in</span>` : ''}${fromDirectory(u.name) ? h`<span class="tag">directory person</span>` : ''}${u.disabled ? h`<span class="tag deny">disabled</span>` : ''}</td><td>${userActions(u)}</td></tr>`,
    );
    const groupRows = groups.map(
      (g) => h`<tr data-group="${g.name}"><td>${g.name}</td><td>${g.email ?? ''}</td><td>${g.implicit ? h`<span class="muted">implicit: ${g.name === 'Everyone' ? 'every caller' : 'every authenticated user'}</span>` : g.members.map((m) => h`<span class="tag">${m}</span>`)}</td>
        <td>${g.builtin ? h`<span class="tag">built-in</span>` : ''}${fromDirectory(g.name) ? h`<span class="tag">directory group</span>` : ''}</td><td>${g.builtin ? '' : removeLink('group', g.name)}</td></tr>`,
    );
    const localUsers = users.filter((u) => !fromDirectory(u.name)).map((u) => u.name);
    const action = (p: string) => href(p);
    return h`
${confirm}
${directorySection(directory)}
<h2>Look up a person</h2>
<form class="box" method="get" action="${href('/principals')}" id="lookup-form">
<label>Logon name or e-mail address<input type="search" name="lookup" value="${wanted}" required maxlength="${MAX_LOOKUP}" autocomplete="off"></label>
<button type="submit">Look up</button>
</form>
<p class="hint">Resolves the person as sign-on does (${directory ? "this cluster's accounts, then the directory" : "this cluster's accounts"}): identity, aliases, groups through any nesting, disabled state.</p>
${found}
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

<h2>Set a new password</h2>
<form class="box" method="post" action="${action('/principals/users/password')}" id="password-form">${csrfField(ctx.csrf)}
<label>User<select name="name">${options(localUsers, d.name)}</select></label>
<label>New password (${MIN_USER_PASSWORD_LENGTH}+ characters)<input type="password" name="password" required minlength="${MIN_USER_PASSWORD_LENGTH}" autocomplete="new-password"></label>
<button type="submit" class="primary">Set password</button>
</form>
<p class="hint">Only this cluster's own accounts; people from a directory change their password there. The old password stops working at once.</p>

<h2>Users (${users.length})</h2>
<form method="get" action="${href('/principals')}"><label>Find <input type="search" name="q" value="${q}"></label> <button type="submit">Filter</button></form>
${matching.length > SHOWN ? h`<p class="hint">Showing the first ${SHOWN} of ${matching.length}; filter to narrow down.</p>` : ''}
<table id="users"><tr><th>Name</th><th>E-mail</th><th>Display name</th><th>Groups (direct)</th><th></th><th>Actions</th></tr>${userRows}</table>
<p class="hint">A disabled user cannot sign on, get a RAC or a licence, on any member. Removing asks for confirmation first.</p>

<h2>Groups (${groups.length})</h2>
<table id="groups"><tr><th>Name</th><th>E-mail</th><th>Members (direct)</th><th></th><th>Actions</th></tr>${groupRows}</table>`;
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

/** Applies a change to this member at once; the others converge at their next refresh. */
async function refreshHere(ctx: PageContext): Promise<void> {
  try {
    await ctx.deps.runtime.refresh();
  } catch {
    // It converges at the next periodic refresh.
  }
}

function notYourself(ctx: PageContext, name: string, what: string): void {
  if (name.trim().toLowerCase() === ctx.admin.name.toLowerCase()) {
    throw new RmsError('InvalidInput', `you cannot ${what} the account you are signed in with; ask another administrator`);
  }
}

export const userStateAction: Action = async (ctx, form) => {
  const name = form.one('name', 'the user');
  const state = form.one('state', 'the change');
  if (state !== 'disable' && state !== 'enable') throw new RmsError('InvalidInput', 'the change is disable or enable');
  if (state === 'disable') notYourself(ctx, name, 'disable');
  const r = await setUserDisabledIn(ctx.deps.store, ctx.admin.name, name, state === 'disable');
  await refreshHere(ctx);
  return { message: r.changed ? `${state === 'disable' ? 'Disabled' : 'Enabled'} ${r.name}` : `${r.name} is already ${state}d: nothing changed`, redirect: '/principals' };
};

export const userPasswordAction: Action = async (ctx, form) => {
  const r = await setUserPasswordIn(ctx.deps.store, ctx.admin.name, form.one('name', 'the user'), form.one('password', 'the new password'));
  return { message: `Set a new password for ${r.name}`, redirect: '/principals' };
};

export const removeUserAction: Action = async (ctx, form) => {
  const name = form.one('name', 'the user');
  if (form.one('confirm') !== 'yes') throw new RmsError('InvalidInput', 'confirm the removal on the confirmation form');
  notYourself(ctx, name, 'remove');
  const r = await removeUserIn(ctx.deps.store, ctx.admin.name, name);
  await refreshHere(ctx);
  return { message: `Removed user ${r.name} with ${r.groups.length} membership(s), ${r.daclEntries} DACL entr${r.daclEntries === 1 ? 'y' : 'ies'}${r.racKey ? ' and its RAC key pair' : ''}`, redirect: '/principals' };
};

export const removeGroupAction: Action = async (ctx, form) => {
  const name = form.one('name', 'the group');
  if (form.one('confirm') !== 'yes') throw new RmsError('InvalidInput', 'confirm the removal on the confirmation form');
  const r = await removeGroupIn(ctx.deps.store, ctx.admin.name, name);
  await refreshHere(ctx);
  return { message: `Removed group ${r.name} with ${r.members.length} membership(s) and ${r.daclEntries} DACL entr${r.daclEntries === 1 ? 'y' : 'ies'}`, redirect: '/principals' };
};
