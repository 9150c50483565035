import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { BUILTIN_GROUPS, isRmsError, parseGrantSpec } from '@openrms/domain';
import { addGroupIn, addTemplate, changeMembershipIn, listDacl } from '@openrms/issuance';
import type { RunningServer } from '@openrms/server';
import { openStore } from '@openrms/store';
import { artifactDir, launchChromium } from './support/browser';
import { addPeople, freePort, KEY_PASSWORD, person, provisionLicensing, provisionRoot, startMember } from './support/clusters';
import { sqliteDatabase, type TestDatabase } from './support/databases';

/** The administrator provisionRoot creates. */
const ADMIN = { name: 'root-admin', password: 'root-admin-password' };
const SUBENROLL = '/_wmcs/certification/subenrollservice.asmx';
const CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";

const basic = (name: string, password: string) => `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`;

describe('global administration pages (headless Chromium)', () => {
  let rootDb: TestDatabase;
  let licDb: TestDatabase;
  let root: RunningServer;
  let rootBase: string;
  let licPort: number;
  let browser: Browser;
  let adminContext: BrowserContext;
  let page: Page;
  const shots = artifactDir('admin-pages');
  const enroller = person('enroller');
  const alice = person('alice');
  const secondAdmin = person('second-admin');
  const admin = (p: string) => `${root.url}/_wmcs/admin${p}`;

  async function subEnrollDacl(): Promise<string> {
    const store = await openStore(rootDb.url);
    try {
      return JSON.stringify((await listDacl(store, SUBENROLL)).map((e) => [e.principal, e.right, e.effect]));
    } finally {
      await store.close();
    }
  }

  async function shot(name: string): Promise<void> {
    await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  }

  beforeAll(async () => {
    rootDb = sqliteDatabase();
    licDb = sqliteDatabase();
    const rootPort = await freePort();
    licPort = await freePort();
    rootBase = await provisionRoot(rootDb, rootPort);
    await addPeople(rootDb, [enroller, alice]);
    await addPeople(rootDb, [secondAdmin], [BUILTIN_GROUPS.administrators]);
    await addTemplate(rootDb.url, KEY_PASSWORD, { name: 'Confidential', description: 'Company confidential', grants: parseGrantSpec('alice@example.test:VIEW') }, 'test');
    root = await startMember(rootDb, rootPort, 'root-1');
    browser = await launchChromium();
    adminContext = await browser.newContext({ httpCredentials: { username: ADMIN.name, password: ADMIN.password }, viewport: { width: 1280, height: 900 } });
    page = await adminContext.newPage();
    page.setDefaultTimeout(10_000);
  }, 60_000);

  afterAll(async () => {
    await adminContext?.close();
    await browser?.close();
    await root?.close();
    rootDb?.dispose();
    licDb?.dispose();
  });

  it('lets an administrator grant SubEnroll through the DACL page, after which a refused licensing server provisions', async () => {
    const refused = await provisionLicensing(licDb, licPort, rootBase, enroller).catch((e: unknown) => e);
    expect(isRmsError(refused, 'AccessDenied')).toBe(true);

    const opened = await page.goto(admin('/dacl'));
    expect(opened?.status()).toBe(200);
    await expect(page.locator('h1').textContent()).resolves.toBe('DACLs');

    // First the check: the enrolling account is denied Execute on SubEnrollService.asmx.
    const check = page.locator('#check-form');
    await check.locator('select[name=endpoint]').selectOption(SUBENROLL);
    await check.locator('input[name=principal]').fill(enroller.name);
    await check.getByRole('button', { name: 'Check effective rights' }).click();
    const execute = page.locator('#effective tr', { hasText: 'Execute' });
    await expect(execute.locator('td').nth(1).textContent()).resolves.toBe('denied');
    await expect(execute.textContent()).resolves.toContain('no matching entry');
    await shot('dacl-check');

    // The add form comes prefilled with what was checked.
    const add = page.locator('#add-form');
    await expect(add.locator('select[name=endpoint]').inputValue()).resolves.toBe(SUBENROLL);
    await expect(add.locator('input[name=principal]').inputValue()).resolves.toBe(enroller.name);
    await add.locator('select[name=right]').selectOption('Execute');
    await add.locator('select[name=effect]').selectOption('allow');
    await add.getByRole('button', { name: 'Save entry' }).click();
    await expect(page.locator('.notice.ok').textContent()).resolves.toMatch(/Granted Execute on \/_wmcs\/certification\/SubEnrollService\.asmx for enroller/);
    expect(await subEnrollDacl()).toContain('["enroller","Execute","allow"]');

    // The check now says allowed, through the new entry.
    await page.goto(admin(`/dacl?check=1&endpoint=${encodeURIComponent(SUBENROLL)}&principal=enroller`));
    await expect(page.locator('#effective tr', { hasText: 'Execute' }).locator('td').nth(1).textContent()).resolves.toBe('allowed');

    // The same provisioning now succeeds (the page refreshed this member; poll in case it had not yet).
    let result: Awaited<ReturnType<typeof provisionLicensing>> | undefined;
    let last: unknown;
    for (const deadline = Date.now() + 8000; !result && Date.now() < deadline; ) {
      try {
        result = await provisionLicensing(licDb, licPort, rootBase, enroller);
      } catch (e) {
        last = e;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    if (!result) throw last;
    expect(result.chainLength).toBe(2);

    // The grant is audited under the administrator's name and listed on the DACL page.
    await page.goto(admin('/dacl'));
    const recent = page.locator('h2:has-text("Recent DACL changes") + table');
    await expect(recent.textContent()).resolves.toMatch(/root-admin.*dacl\.grant.*\+ allow Execute for enroller/s);
    await shot('dacl');
  });

  it('shows every page, applies changes made through the forms and reports mistakes without writing anything', async () => {
    // Overview.
    await page.goto(admin('/'));
    await expect(page.locator('h1').textContent()).resolves.toBe('Global administration');
    const overview = (await page.locator('main').textContent())!;
    expect(overview).toContain('root certification cluster');
    expect(overview).toMatch(/Days left\s*36[45]/);
    expect(overview).toContain('root-1');
    expect(overview).toMatch(/alive/);
    expect(overview).toContain('pnpm rmsctl cluster join');
    expect(overview).toContain(`--database ${rootDb.url}`);
    expect(overview).toContain('--service-account root-svc');
    await shot('overview');

    // A DACL entry for someone who does not exist: a clear error, nothing written.
    const before = await subEnrollDacl();
    await page.goto(admin('/dacl'));
    const add = page.locator('#add-form');
    await add.locator('select[name=endpoint]').selectOption(SUBENROLL);
    await add.locator('input[name=principal]').fill('nobody-here');
    const [refused] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), add.getByRole('button', { name: 'Save entry' }).click()]);
    expect(refused.status()).toBe(400);
    await expect(page.locator('.notice.error').textContent()).resolves.toContain('no user or group named "nobody-here"');
    await expect(page.locator('#add-form input[name=principal]').inputValue()).resolves.toBe('nobody-here');
    expect(await subEnrollDacl()).toBe(before);

    // Users and groups: add a group, a user in it, and a member.
    await page.goto(admin('/principals'));
    await page.locator('#add-group-form input[name=groupName]').fill('Editors');
    await page.locator('#add-group-form input[name=groupEmail]').fill('editors@example.test');
    await page.locator('#add-group-form button').click();
    await expect(page.locator('.notice.ok').textContent()).resolves.toBe('Added group Editors');
    const user = page.locator('#add-user-form');
    await user.locator('input[name=name]').fill('carol');
    await user.locator('input[name=email]').fill('carol@example.test');
    await user.locator('input[name=password]').fill('carol-password-1');
    await user.locator('select[name=groups]').selectOption(['Editors']);
    await user.locator('button').click();
    await expect(page.locator('.notice.ok').textContent()).resolves.toBe('Added user carol <carol@example.test> in Editors');
    await page.locator('#membership-form select[name=group]').selectOption('Editors');
    await page.locator('#membership-form input[name=member]').fill('alice');
    await page.locator('#membership-form button').click();
    await expect(page.locator('.notice.ok').textContent()).resolves.toBe('Added alice to Editors');
    await expect(page.locator('tr', { hasText: 'editors@example.test' }).textContent()).resolves.toMatch(/alice.*carol/);
    // A second user with alice's address: refused, nothing half-written.
    await user.locator('input[name=name]').fill('alice2');
    await user.locator('input[name=email]').fill('alice@example.test');
    await user.locator('input[name=password]').fill('alice2-password-1');
    const [dup] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), user.locator('button').click()]);
    expect(dup.status()).toBe(409);
    await expect(page.locator('.notice.error').textContent()).resolves.toContain('already has the e-mail address alice@example.test');
    await expect(page.locator('main').textContent()).resolves.not.toContain('alice2@');
    await shot('principals');

    // Templates: listed, and archived from the page; adding is left to the CLI.
    await page.goto(admin('/templates'));
    await expect(page.locator('tr', { hasText: 'Confidential' }).textContent()).resolves.toContain('published');
    await expect(page.locator('main').textContent()).resolves.toContain('pnpm rmsctl templates add');
    await page.locator('tr', { hasText: 'Confidential' }).getByRole('button', { name: 'Archive' }).click();
    await expect(page.locator('.notice.ok').textContent()).resolves.toMatch(/^Archived template Confidential/);
    await expect(page.locator('tr', { hasText: 'Confidential' }).textContent()).resolves.toContain('archived');
    await shot('templates');

    // Policies: super users with a group, a user excluded by e-mail.
    await page.goto(admin('/policies'));
    await page.locator('#super-users-form select[name=group]').selectOption('Editors');
    await page.locator('#super-users-form button').click();
    await expect(page.locator('.notice.ok').textContent()).resolves.toBe('Super users enabled: members of Editors');
    await page.locator('#exclude-user-form input[name=email]').fill('Mallory@Example.test');
    await page.locator('#exclude-user-form button').click();
    await expect(page.locator('.notice.ok').textContent()).resolves.toBe('Excluded mallory@example.test');
    await expect(page.locator('tr', { hasText: 'mallory@example.test' }).getByRole('button', { name: 'Include again' }).count()).resolves.toBe(1);
    await shot('policies');

    // Request log, filtered to the enrolling account: its refused and its accepted SubEnroll.
    await page.goto(admin('/requests'));
    await page.locator('#request-filter input[name=user]').fill('enroller');
    await page.locator('#request-filter button').click();
    expect(new URL(page.url()).searchParams.get('user')).toBe('enroller');
    const rows = page.locator('main table tr:has(td)');
    for (let i = 0; i < 20 && (await rows.count()) < 2; i++) {
      await new Promise((r) => setTimeout(r, 250));
      await page.reload();
    }
    const logged = await rows.allTextContents();
    expect(logged.length).toBeGreaterThanOrEqual(2);
    expect(logged.every((r) => r.includes('enroller'))).toBe(true);
    expect(logged.some((r) => /subenrollservice\.asmx.*ok/is.test(r))).toBe(true);
    expect(logged.some((r) => /UnauthorizedAccess/.test(r))).toBe(true);
    await page.locator('#request-filter select[name=result]').selectOption('error');
    await page.locator('#request-filter button').click();
    const refusedOnly = await rows.allTextContents();
    expect(refusedOnly.length).toBeGreaterThanOrEqual(1);
    expect(refusedOnly.every((r) => /UnauthorizedAccess/.test(r))).toBe(true);
    await shot('requests');
    // The time range (datetime-local values, read as UTC).
    const local = (ms: number) => new Date(ms).toISOString().slice(0, 19);
    await page.goto(admin(`/requests?user=enroller&from=${local(Date.now() - 3_600_000)}&to=${local(Date.now() + 60_000)}`));
    expect(await rows.count()).toBe(logged.length);
    await page.goto(admin(`/requests?user=enroller&from=${local(Date.now() + 3_600_000)}`));
    expect(await rows.count()).toBe(0);
    await expect(page.locator('main').textContent()).resolves.toContain('0 matching request(s)');
    // What callers put in a request is shown as text, never as markup.
    const hostile = await fetch(`${root.url}/_wmcs/licensing/license.asmx`, { method: 'POST', headers: { soapaction: '<img src=x onerror=alert(1) id=injected>' } });
    expect(hostile.status).toBe(401);
    await page.goto(admin('/requests?operation=onerror'));
    for (let i = 0; i < 20 && (await rows.count()) < 1; i++) {
      await new Promise((r) => setTimeout(r, 250));
      await page.reload();
    }
    await expect(page.locator('main table').textContent()).resolves.toContain('<img src=x onerror=alert(1) id=injected>');
    expect(await page.locator('#injected').count()).toBe(0);
    const badRange = await page.goto(admin('/requests?from=yesterday'));
    expect(badRange?.status()).toBe(400);
    await expect(page.locator('.notice.error').textContent()).resolves.toContain('From must be a date and time');

    // Audit log: every change above, under the administrator's name.
    await page.goto(admin('/audit'));
    const audit = (await page.locator('main table').textContent())!;
    for (const action of ['dacl.grant', 'group.add', 'user.add', 'group.member.add', 'template.archive', 'policy.update']) {
      expect(audit).toMatch(new RegExp(`root-admin\\s*${action.replace(/\./g, '\\.')}`));
    }
    await shot('audit');

    // Renewal queues: no Redis here, so jobs run in-process; no run recorded yet.
    await page.goto(admin('/jobs'));
    const jobs = (await page.locator('main').textContent())!;
    expect(jobs).toMatch(/Last SLC renewal\s*slc\.lastRenewal\s*never/);
    expect(jobs).toContain('run inside each server');
    await expect(page.locator('a[href="/_wmcs/admin/queues"]').count()).resolves.toBeGreaterThan(0);
    await shot('jobs');
    await page.locator('a[href="/_wmcs/admin/queues"]').first().click();
    await expect(page.locator('body').textContent()).resolves.toContain('no Redis configured');
    await shot('queues');
  });

  it('looks a person up through the Directory port, with groups and their nesting, and says which source answered', async () => {
    const store = await openStore(rootDb.url);
    try {
      await addGroupIn(store, 'test', { name: 'Staff' });
      await changeMembershipIn(store, 'test', { action: 'add', group: 'Staff', member: 'Editors' });
    } finally {
      await store.close();
    }
    await page.goto(admin('/principals'));
    await expect(page.locator('#directory').textContent()).resolves.toContain('Directory: none');
    await page.locator('#lookup-form input[name=lookup]').fill('carol@example.test');
    await page.locator('#lookup-form button').click();
    expect(new URL(page.url()).searchParams.get('lookup')).toBe('carol@example.test');
    const found = (await page.locator('#lookup-result').textContent())!;
    expect(found).toMatch(/Answered by\s*this cluster's accounts/);
    expect(found).toMatch(/E-mail\s*carol@example\.test/);
    expect(found).toMatch(/State\s*enabled/);
    await expect(page.locator('#lookup-result tr', { hasText: 'Staff' }).textContent()).resolves.toContain('via Editors > Staff');
    await shot('principals-lookup');

    const unknown = await page.goto(admin(`/principals?lookup=${encodeURIComponent('<b id="injected">ghost</b>')}`));
    expect(unknown?.status()).toBe(404);
    await expect(page.locator('.notice.error').textContent()).resolves.toContain('no user "<b id="injected">ghost</b>"');
    expect(await page.locator('#injected').count()).toBe(0);
    expect(await page.locator('#lookup-result').count()).toBe(0);
  });

  it('refuses non-administrators, and any change without a valid token from this origin', async () => {
    // Unauthenticated: a Basic challenge.
    const anon = await fetch(admin('/'));
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toMatch(/^Basic /);

    // The security headers of a page.
    const ok = await fetch(admin('/dacl'), { headers: { authorization: basic(ADMIN.name, ADMIN.password) } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-security-policy')).toBe(CSP);
    expect(ok.headers.get('x-content-type-options')).toBe('nosniff');
    expect(ok.headers.get('referrer-policy')).toBe('same-origin');

    // A signed-in user who is not an administrator sees no admin page.
    const userContext = await browser.newContext({ httpCredentials: { username: alice.name, password: alice.password } });
    try {
      const userPage = await userContext.newPage();
      for (const p of ['/', '/dacl', '/principals', '/audit']) {
        const r = await userPage.goto(admin(p));
        expect(r?.status()).toBe(403);
        expect(await userPage.locator('nav, form, table').count()).toBe(0);
      }
      await userPage.screenshot({ path: path.join(shots, 'forbidden.png') });
    } finally {
      await userContext.close();
    }

    // A token copied from the administrator's page.
    await page.goto(admin('/dacl'));
    const token = (await page.locator('#add-form input[name=csrf]').getAttribute('value'))!;
    expect(token).toMatch(/^\d+\./);
    const grantAlice = { op: 'add', endpoint: SUBENROLL, principal: 'alice', right: 'Execute', effect: 'allow' };
    const post = (auth: string, fields: Record<string, string>, headers: Record<string, string> = { origin: root.url }) =>
      fetch(admin('/dacl'), {
        method: 'POST',
        redirect: 'manual',
        headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(fields).toString(),
      });
    const before = await subEnrollDacl();
    const refusals: [string, Promise<Response>][] = [
      ['non-admin with the admin token', post(basic(alice.name, alice.password), { ...grantAlice, csrf: token })],
      ['another admin with the first admin token', post(basic(secondAdmin.name, secondAdmin.password), { ...grantAlice, csrf: token })],
      ['no token', post(basic(ADMIN.name, ADMIN.password), grantAlice)],
      ['a forged token', post(basic(ADMIN.name, ADMIN.password), { ...grantAlice, csrf: `${Date.now()}.${'A'.repeat(43)}` })],
      ['a foreign Origin', post(basic(ADMIN.name, ADMIN.password), { ...grantAlice, csrf: token }, { origin: 'http://evil.example' })],
      ['a foreign Referer and no Origin', post(basic(ADMIN.name, ADMIN.password), { ...grantAlice, csrf: token }, { referer: 'http://evil.example/page' })],
      ['neither Origin nor Referer', post(basic(ADMIN.name, ADMIN.password), { ...grantAlice, csrf: token }, {})],
      ['a cross-site fetch', post(basic(ADMIN.name, ADMIN.password), { ...grantAlice, csrf: token }, { origin: root.url, 'sec-fetch-site': 'cross-site' })],
    ];
    for (const [what, response] of refusals) {
      const r = await response;
      expect([what, r.status]).toEqual([what, 403]);
    }
    expect(await subEnrollDacl()).toBe(before);

    // The same request, properly made, does change the DACL (so the refusals above were for cause).
    const accepted = await post(basic(ADMIN.name, ADMIN.password), { ...grantAlice, csrf: token });
    expect(accepted.status).toBe(303);
    expect(accepted.headers.get('location')).toMatch(/^\/_wmcs\/admin\/dacl\?endpoint=.*&flash=/);
    expect(await subEnrollDacl()).toContain('["alice","Execute","allow"]');
    const revoked = await post(basic(ADMIN.name, ADMIN.password), { ...grantAlice, op: 'revoke', csrf: token });
    expect(revoked.status).toBe(303);
    expect(await subEnrollDacl()).toBe(before);
  });

  it('disables a user through the page (refused at sign-on), enables them, and removes them after a confirmation', async () => {
    const signOn = async () => (await fetch(`${root.url}/_wmcs/licensing/license.asmx`, { method: 'POST', headers: { authorization: basic('carol', 'carol-password-1') }, body: '' })).status;
    expect(await signOn()).not.toBe(401);
    await page.goto(admin('/principals'));
    const carol = page.locator('#users tr[data-user="carol"]');
    await carol.getByRole('button', { name: 'Disable' }).click();
    await expect(page.locator('.notice.ok').textContent()).resolves.toBe('Disabled carol');
    await expect(carol.textContent()).resolves.toContain('disabled');
    expect(await signOn()).toBe(401);
    await shot('principals-disabled');
    await carol.getByRole('button', { name: 'Enable' }).click();
    await expect(page.locator('.notice.ok').textContent()).resolves.toBe('Enabled carol');
    expect(await signOn()).not.toBe(401);

    // Removing is two steps: the link shows what goes, and only the confirmation's button removes.
    await carol.getByRole('link', { name: 'Remove…' }).click();
    const confirm = page.locator('#confirm-remove');
    await expect(confirm.locator('h2').textContent()).resolves.toBe('Remove user carol?');
    await expect(confirm.textContent()).resolves.toMatch(/1 group membership\(s\) \(Editors\).*cannot be undone/s);
    await shot('principals-confirm-remove');
    await confirm.getByRole('button', { name: 'Remove carol' }).click();
    await expect(page.locator('.notice.ok').textContent()).resolves.toMatch(/^Removed user carol with 1 membership/);
    expect(await page.locator('#users tr[data-user="carol"]').count()).toBe(0);
    expect(await signOn()).toBe(401);

    await page.goto(admin('/audit'));
    const audit = (await page.locator('main table').textContent())!;
    for (const action of ['user.disable', 'user.enable', 'user.remove']) expect(audit).toMatch(new RegExp(`root-admin\\s*${action.replace('.', '\\.')}\\s*carol`));
  });
});
