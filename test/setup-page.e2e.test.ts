import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ClusterClient } from '@openrms/soap';
import { artifactDir, launchChromium } from './support/browser';
import { postgresDatabase, sqliteDatabase, type TestDatabase } from './support/databases';
import { type Background, background, REPO, rmsctl, TSX_BIN } from './support/processes';

const KEY_PW = 'setup-key-password-1';
const ADMIN_PW = 'setup-admin-password-1';
/** The variable `serve` is told to read the key password from; unset, so the server waits to be set up. */
const KP_VAR = 'RMS_SETUP_TEST_KEY_PW';

interface SetupProcess {
  srv: Background;
  /** http://127.0.0.1:PORT */
  base: string;
  link: string;
  token: string;
}

/** Waits for the one-time link the process prints at start. */
async function linkOf(srv: Background): Promise<SetupProcess> {
  const [, link, base, token] = await srv.waitFor(/Open ((http:\/\/127\.0\.0\.1:\d+)\/_wmcs\/setup\?token=([A-Za-z0-9_-]+)) to set up/, 45_000);
  return { srv, base: base!, link: link!, token: token! };
}

describe('set-up page of `serve --setup` (headless Chromium)', () => {
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const processes: Background[] = [];
  const databases: TestDatabase[] = [];
  const shots = artifactDir('setup');

  async function newPage(): Promise<Page> {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    contexts.push(ctx);
    const page = await ctx.newPage();
    page.setDefaultTimeout(15_000);
    return page;
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });

  /** `rmsctl serve --setup`, as an operator runs it; the key password variable is empty unless given. */
  function start(args: string[], keyPassword = ''): Background {
    const srv = background(TSX_BIN, [path.join(REPO, 'apps/cli/src/main.ts'), 'serve', '--setup', '--listen', '127.0.0.1:0', '--key-password-env', KP_VAR, ...args], {
      env: { [KP_VAR]: keyPassword, RMS_KEY_PASSWORD: '', RMS_DATABASE_URL: '', RMS_CONFIG: '', RMS_LOG_LEVEL: 'info' },
    });
    processes.push(srv);
    return srv;
  }

  beforeAll(async () => {
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    for (const p of processes) await p.stop();
    for (const d of databases) d.dispose();
  });

  it('refuses without the token or with a wrong one, then provisions a root cluster on a new SQLite file and serves it', async () => {
    const db = sqliteDatabase();
    databases.push(db);
    const { srv, base, link, token } = await linkOf(start(['--database', db.url, '--server-name', 'first-1']));
    expect(token.length).toBeGreaterThanOrEqual(22); // 128+ bits in base64url

    // (a) No token: a short explanation and nothing of the set-up page.
    const page = await newPage();
    const bare = await page.goto(`${base}/_wmcs/setup`);
    expect(bare?.status()).toBe(403);
    await expect(page.locator('main').textContent()).resolves.toMatch(/not set up yet.*token/s);
    expect(await page.locator('form, input').count()).toBe(0);
    await shot(page, 'no-token');

    // A wrong token (one character off): refused the same way.
    const wrong = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    const refused = await page.goto(`${base}/_wmcs/setup?token=${wrong}`);
    expect(refused?.status()).toBe(403);
    await expect(page.locator('main').textContent()).resolves.toMatch(/token is wrong/);
    expect(await page.locator('form, input').count()).toBe(0);
    await shot(page, 'wrong-token');

    // Everything else waits: no SOAP endpoint, no admin pages, not ready; a form posted without the cookie is refused.
    expect((await fetch(`${base}/_wmcs/licensing/server.asmx?wsdl`)).status).toBe(404);
    expect((await fetch(`${base}/_wmcs/admin/`)).status).toBe(404);
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    const forged = await fetch(`${base}/_wmcs/setup/root`, { method: 'POST', headers: { origin: base, 'content-type': 'application/x-www-form-urlencoded' }, body: 'cluster-url=x' });
    expect(forged.status).toBe(403);

    // (c) With the token: the link sets a cookie and drops the token from the address.
    const opened = await page.goto(link);
    expect(opened?.status()).toBe(200);
    expect(page.url()).toBe(`${base}/_wmcs/setup`);
    await expect(page.locator('h1').textContent()).resolves.toBe('Set up this server');
    await expect(page.locator('main').textContent()).resolves.toContain('holds no cluster yet');
    await shot(page, 'setup-page');

    // A mistake first: the use-case's own error, escaped, the form filled in again but never a password.
    const form = page.locator('#root-form');
    await form.locator('input[name=cluster-url]').fill(base);
    await form.locator('input[name=service-account]').fill('rms-svc');
    await form.locator('input[name=admin]').fill('<b>boss</b>');
    await form.locator('input[name=admin-password]').fill(ADMIN_PW);
    await form.locator('input[name=admin-password-confirm]').fill(ADMIN_PW);
    await form.locator('input[name=key-password]').fill(KEY_PW);
    await form.locator('input[name=key-password-confirm]').fill(KEY_PW);
    const [bad] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), form.getByRole('button').click()]);
    expect(bad.status()).toBe(400);
    const notice = page.locator('#root .notice.error');
    await expect(notice.textContent()).resolves.toContain('<b>boss</b>');
    expect(await notice.locator('b').count()).toBe(0);
    await expect(page.locator('#root-form input[name=cluster-url]').inputValue()).resolves.toBe(base);
    await expect(page.locator('#root-form input[name=key-password]').inputValue()).resolves.toBe('');
    expect(await page.content()).not.toContain(KEY_PW);
    await shot(page, 'root-error');

    // Mismatched key passwords are refused before anything is made.
    await form.locator('input[name=admin]').fill('admin');
    await form.locator('input[name=admin-password]').fill(ADMIN_PW);
    await form.locator('input[name=admin-password-confirm]').fill(ADMIN_PW);
    await form.locator('input[name=key-password]').fill(KEY_PW);
    await form.locator('input[name=key-password-confirm]').fill(`${KEY_PW}x`);
    await form.getByRole('button').click();
    await expect(page.locator('#root .notice.error').textContent()).resolves.toContain('the two cluster key passwords differ');

    await form.locator('input[name=admin-password]').fill(ADMIN_PW);
    await form.locator('input[name=admin-password-confirm]').fill(ADMIN_PW);
    await form.locator('input[name=key-password]').fill(KEY_PW);
    await form.locator('input[name=key-password-confirm]').fill(KEY_PW);
    const [done] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), form.getByRole('button').click()]);
    expect(done.status()).toBe(200);
    await expect(page.locator('h1').textContent()).resolves.toBe('This server is set up');
    const clusterId = (await page.locator('#cluster-id').textContent())!;
    expect(clusterId).toMatch(/^[0-9a-f-]{36}$/);
    await shot(page, 'root-done');

    // The same process now serves the cluster: ready, and GetLicensorCertificate answers with its SLC.
    await srv.waitFor(/root cluster member listening on/);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { status: string; cluster: { id: string; kind: string } };
    expect(body).toMatchObject({ status: 'ready', cluster: { id: clusterId, kind: 'root' } });
    const chain = await new ClusterClient({ baseUrl: `${base}/_wmcs`, credentials: { name: 'admin', password: ADMIN_PW }, timeoutMs: 10_000 }).getLicensorCertificate();
    expect(chain).toHaveLength(1);
    expect(chain[0]).toContain('<XrML');

    // The set-up page is gone and the link opens nothing; no secret reached the output, the token only its own line.
    expect((await page.goto(link))?.status()).toBe(404);
    const out = srv.output();
    expect(out).not.toContain(KEY_PW);
    expect(out).not.toContain(ADMIN_PW);
    expect(out.split(token).length - 1).toBe(1);

    // Restarted with the same command line and the key password now in the environment: nothing to set up, it serves.
    expect(await srv.stop()).toBe(0);
    const again = start(['--database', db.url, '--server-name', 'first-1'], KEY_PW);
    await again.waitFor(/nothing to set up/);
    const [, url] = await again.waitFor(/root cluster member listening on (http:\/\/\S+)/);
    expect(((await (await fetch(`${url}/readyz`)).json()) as { cluster: { id: string } }).cluster.id).toBe(clusterId);
    expect(again.output()).not.toMatch(/setup\?token=/);
  }, 120_000);

  it('adds a server to an existing PostgreSQL root cluster through the join form, then serves that cluster', async () => {
    const db = postgresDatabase();
    databases.push(db);
    const provisioned = rmsctl(
      ['provision', 'root', '--database', db.url, '--cluster-url', 'https://rms.example.test', '--service-account', 'rms-svc', '--admin', 'alice', '--admin-password-env', 'ADMIN_PW', '--key-password-env', 'KEY_PW', '--server-name', 'root-1'],
      { ADMIN_PW, KEY_PW },
    );
    expect(provisioned.code).toBe(0);
    const clusterId = /provisioned root cluster (\S+)/.exec(provisioned.stdout)![1]!;

    // Started with no database at all: the join form asks for its URL.
    const { srv, base, link } = await linkOf(start(['--server-name', 'member-2']));
    const page = await newPage();
    expect((await page.goto(link))?.status()).toBe(200);
    await expect(page.locator('main').textContent()).resolves.toContain('No configuration database was given');
    const join = page.locator('#join-form');
    await expect(join.locator('input[name=server-name]').inputValue()).resolves.toBe('member-2');
    await expect(join.locator('input[name=server-url]').inputValue()).resolves.toBe(base);

    // A wrong key password: refused, nothing joined.
    await join.locator('input[name=database]').fill(db.url);
    await join.locator('input[name=key-password]').fill('not-the-key-password');
    const [bad] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), join.getByRole('button').click()]);
    expect(bad.status()).toBe(403);
    await expect(page.locator('#join .notice.error').textContent()).resolves.toMatch(/password/);
    await expect(page.locator('#join-form input[name=database]').inputValue()).resolves.toBe(db.url);
    await shot(page, 'join-error');
    expect(rmsctl(['cluster', 'status', '--database', db.url]).stdout).not.toContain('member-2');

    await page.locator('#join-form input[name=key-password]').fill(KEY_PW);
    await shot(page, 'join-form');
    const [done] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.locator('#join-form').getByRole('button').click()]);
    expect(done.status()).toBe(200);
    await expect(page.locator('#cluster-id').textContent()).resolves.toBe(clusterId);
    await shot(page, 'join-done');

    // This process serves the cluster it joined: /readyz and GetLicensorCertificate (the cluster's own SLC).
    await srv.waitFor(/root cluster member listening on/);
    const ready = (await (await fetch(`${base}/readyz`)).json()) as { status: string; cluster: { id: string } };
    expect(ready).toMatchObject({ status: 'ready', cluster: { id: clusterId } });
    const chain = await new ClusterClient({ baseUrl: `${base}/_wmcs`, credentials: { name: 'alice', password: ADMIN_PW }, timeoutMs: 10_000 }).getLicensorCertificate();
    expect(chain).toHaveLength(1);
    expect(chain[0]).toContain(clusterId);

    // Joined as rmsctl cluster join would: under its name, its URL and the cluster's service account.
    const status = rmsctl(['cluster', 'status', '--database', db.url]);
    expect(status.stdout).toMatch(new RegExp(`member-2\\s+${base.replace(/[.]/g, '\\.')}\\s+rms-svc`));
    expect(srv.output()).not.toContain(KEY_PW);
  }, 120_000);
});
