import { createHmac } from 'node:crypto';
import path from 'node:path';
import { BUILTIN_GROUPS } from '@openrms/domain';
import { addUser, loadAdminFormSecret, provisionRootCluster, SETTINGS } from '@openrms/issuance';
import { ClusterKey } from '@openrms/keys';
import type { RunningServer } from '@openrms/server';
import { openStore } from '@openrms/store';
import { startMember } from './support/clusters';
import { postgresDatabase, sqliteDatabase, type TestDatabase } from './support/databases';
import { startHaproxy, waitForStatus, type Balancer } from './support/haproxy';
import { background, REPO, rmsctl, TSX_BIN, type Background } from './support/processes';
import { freePort } from './support/root-cluster';

/**
 * The admin pages of a cluster of two members, each its own process, behind a real HAProxy in
 * round-robin: a form rendered by one member is accepted by the other, and the notice after the
 * redirect shows whichever member serves it, because the form secret and the notice come from the
 * cluster (its database and the redirect URL), not from a process.
 */

const SECRETS = { KEY_PW: 'cluster-key-password-1', ADMIN_PW: 'admin-password-1', ADMIN2_PW: 'admin2-password-1', ALICE_PW: 'alice-password-1' };
const ADMIN = { name: 'admin', password: SECRETS.ADMIN_PW };
const ADMIN2 = { name: 'admin2', password: SECRETS.ADMIN2_PW };
const ENDPOINT = '/_wmcs/certification/subenrollservice.asmx';
const TWELVE_HOURS = 12 * 60 * 60 * 1000;

const basic = (p: { name: string; password: string }) => `Basic ${Buffer.from(`${p.name}:${p.password}`).toString('base64')}`;

function member(db: TestDatabase, port: number, name: string): Background {
  return background(TSX_BIN, [path.join(REPO, 'apps/cli/src/main.ts'), 'serve', '--database', db.url, '--listen', `127.0.0.1:${port}`, '--key-password-env', 'KEY_PW', '--server-name', name], {
    env: { KEY_PW: SECRETS.KEY_PW, RMS_LOG_LEVEL: 'warn' },
  });
}

function ok(r: { code: number | null; stderr: string }): void {
  if (r.code !== 0) throw new Error(r.stderr);
}

/**
 * fetch, once more when a kept-alive connection was closed under it (the member's keep-alive
 * timeout racing our next request after a pause, as a browser also retries).
 */
async function send(url: string, init: RequestInit = {}): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (e) {
    // undici's TypeError comes from another realm than jest's: compare names.
    if ((e as Error)?.name !== 'TypeError') throw e;
    return fetch(url, init);
  }
}

/** The form token of the DACL page's add form, as a browser would submit it. */
async function daclToken(base: string, who = ADMIN): Promise<string> {
  const r = await send(`${base}/_wmcs/admin/dacl`, { headers: { authorization: basic(who) } });
  expect(r.status).toBe(200);
  const html = await r.text();
  const m = /<form[^>]*id="add-form"[\s\S]*?name="csrf" value="([^"]+)"/.exec(html) ?? /name="csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error(`no form token on the page:\n${html.slice(0, 2000)}`);
  return m[1]!;
}

/** POSTs a DACL change as a same-origin form of `base` would. */
function postDacl(base: string, fields: Record<string, string>, who = ADMIN): Promise<Response> {
  return send(`${base}/_wmcs/admin/dacl`, {
    method: 'POST',
    redirect: 'manual',
    headers: { authorization: basic(who), 'content-type': 'application/x-www-form-urlencoded', origin: base },
    body: new URLSearchParams(fields).toString(),
  });
}

const grant = (csrf: string, op = 'add') => ({ op, endpoint: ENDPOINT, principal: 'alice', right: 'Execute', effect: 'allow', csrf });

/** The ok notices of the page at `location` (a path) on `base`. */
async function noticesAt(base: string, location: string, who = ADMIN): Promise<string[]> {
  const r = await send(`${base}${location}`, { headers: { authorization: basic(who) } });
  expect(r.status).toBe(200);
  return [...(await r.text()).matchAll(/<div class="notice ok" role="status">([\s\S]*?)<\/div>/g)].map((m) => m[1]!);
}

/** Per-server response counts from HAProxy's CSV statistics. */
async function responsesByServer(b: Balancer): Promise<Record<string, { '2xx': number; '3xx': number }>> {
  const lines = (await (await fetch(`${b.statsUrl};csv`)).text()).split('\n');
  const header = lines[0]!.replace(/^# /, '').split(',');
  const col = (n: string) => header.indexOf(n);
  const out: Record<string, { '2xx': number; '3xx': number }> = {};
  for (const line of lines.slice(1)) {
    const c = line.split(',');
    // The server rows of the backend, whatever the configuration names it.
    if (c[1] === 'm1' || c[1] === 'm2') out[c[1]] = { '2xx': Number(c[col('hrsp_2xx')]), '3xx': Number(c[col('hrsp_3xx')]) };
  }
  return out;
}

describe('admin forms on a cluster of two members behind a real HAProxy', () => {
  let db: TestDatabase;
  let otherDb: TestDatabase;
  let other: RunningServer | undefined;
  const procs: Background[] = [];
  let balancer: Balancer | undefined;
  const ports: Record<string, number> = {};
  let m1 = '';
  let m2 = '';
  let otherBase = '';
  let clusterId = '';

  beforeAll(async () => {
    for (const k of ['lb', 'stats', 'm1', 'm2', 'other']) ports[k] = await freePort();
    db = postgresDatabase();
    m1 = `http://127.0.0.1:${ports.m1}`;
    m2 = `http://127.0.0.1:${ports.m2}`;
    ok(rmsctl(['provision', 'root', '--database', db.url, '--cluster-url', `http://127.0.0.1:${ports.lb}`, '--service-account', 'root-svc', '--admin', ADMIN.name, '--admin-password-env', 'ADMIN_PW', '--key-password-env', 'KEY_PW', '--server-name', 'm1'], SECRETS));
    ok(rmsctl(['users', 'add', 'alice', '--database', db.url, '--email', 'alice@example.test', '--password-env', 'ALICE_PW'], SECRETS));
    await addUser(db.url, { name: ADMIN2.name, email: 'admin2@example.test', password: ADMIN2.password, groups: [BUILTIN_GROUPS.administrators] });
    ok(rmsctl(['cluster', 'join', '--database', db.url, '--service-account', 'root-svc', '--key-password-env', 'KEY_PW', '--server-url', m2, '--server-name', 'm2'], SECRETS));
    const store = await openStore(db.url);
    clusterId = (await store.clusters.get()).id;
    // As a database made before the cluster kept a form secret: the members make one on first use.
    expect(await store.settings.get(SETTINGS.adminFormSecret)).toBeUndefined();
    await store.close();
    // Both start at once, so both race to create the secret; they must agree on one.
    for (const n of ['m1', 'm2']) procs.push(member(db, ports[n]!, n));
    await Promise.all(procs.map((p) => p.waitFor(/listening on/, 60_000)));
    balancer = await startHaproxy({ port: ports.lb!, statsPort: ports.stats!, clusterId, servers: [{ name: 'm1', port: ports.m1! }, { name: 'm2', port: ports.m2! }] });
    await waitForStatus(balancer, { m1: 'UP', m2: 'UP' });

    // Another cluster whose administrator has the same name: its tokens must be useless here.
    otherDb = sqliteDatabase();
    otherBase = `http://127.0.0.1:${ports.other}`;
    await provisionRootCluster({
      databaseUrl: otherDb.url,
      clusterUrl: otherBase,
      serviceAccount: 'other-svc',
      admin: { name: ADMIN.name, password: ADMIN.password, email: 'admin@other.example.test' },
      keyPassword: SECRETS.KEY_PW,
      revocation: { kind: 'standard' },
      serverName: 'other-1',
    });
    other = await startMember(otherDb, ports.other!, 'other-1');
  }, 180_000);

  afterAll(async () => {
    await balancer?.stop();
    for (const p of procs) await p.stop();
    await other?.close();
    otherDb?.dispose();
    db?.dispose();
  });

  it('keeps one form secret for the cluster, sealed in its database', async () => {
    const store = await openStore(db.url);
    try {
      const stored = (await store.settings.get(SETTINGS.adminFormSecret)) as { sealed: string; createdAt: string };
      expect(typeof stored.sealed).toBe('string');
      expect(typeof stored.createdAt).toBe('string');
      // Sealed to the cluster key: the database never holds the secret in the clear.
      expect(Buffer.from(stored.sealed, 'base64').length).toBeGreaterThan(256);
    } finally {
      await store.close();
    }
  });

  it('accepts a form loaded from member 1 and posted to member 2, and shows the notice on either member', async () => {
    const token = await daclToken(m1);
    const r = await postDacl(m2, grant(token));
    expect(r.status).toBe(303);
    const location = r.headers.get('location')!;
    expect(location).toMatch(/^\/_wmcs\/admin\/dacl\?endpoint=.*&flash=/);
    for (const base of [m1, m2]) {
      expect(await noticesAt(base, location)).toEqual([expect.stringMatching(/^Granted Execute on \/_wmcs\/certification\/SubEnrollService\.asmx for alice/)]);
    }
    // And the other way round: member 2's form, posted to member 1.
    const back = await postDacl(m1, grant(await daclToken(m2), 'revoke'));
    expect(back.status).toBe(303);
    expect(await noticesAt(m2, back.headers.get('location')!)).toEqual([expect.stringMatching(/^Removed the allow entry for/)]);
  });

  it('works through the balancer in round-robin, each member serving pages and taking posts', async () => {
    const lb = balancer!.url;
    const before = await responsesByServer(balancer!);
    for (let i = 0; i < 6; i++) {
      const token = await daclToken(lb);
      const op = i % 2 === 0 ? 'add' : 'revoke';
      const r = await postDacl(lb, grant(token, op));
      expect([i, r.status]).toEqual([i, 303]);
      const notices = await noticesAt(lb, r.headers.get('location')!);
      expect([i, notices]).toEqual([i, [expect.stringMatching(op === 'add' ? /^Granted Execute/ : /^Removed the allow entry/)]]);
    }
    const after = await responsesByServer(balancer!);
    for (const s of ['m1', 'm2']) {
      // Pages (200) and accepted posts (303) on both members: the forms crossed between them.
      expect([s, after[s]!['2xx'] - before[s]!['2xx'] > 0]).toEqual([s, true]);
      expect([s, after[s]!['3xx'] - before[s]!['3xx'] > 0]).toEqual([s, true]);
    }
  });

  it('refuses a token of another cluster, a tampered token, an expired token and a token of another administrator', async () => {
    const store = await openStore(db.url);
    let secret: Buffer;
    try {
      const keyRow = await store.keys.getActive(clusterId, 'cluster');
      secret = (await loadAdminFormSecret(store, ClusterKey.unwrap(keyRow.wrappedPrivateKey, SECRETS.KEY_PW))).secret;
    } finally {
      await store.close();
    }
    // The token format of csrf.ts, made here with the cluster's own secret.
    const forge = (name: string, at: number) => `${at}.${createHmac('sha256', secret).update(`openrms-admin-form\n${name}\n${at}`).digest('base64url')}`;
    const good = await daclToken(m1);
    // One character of the MAC changed (the middle one: every bit of it counts).
    const i = good.indexOf('.') + 20;
    const tampered = `${good.slice(0, i)}${good[i] === 'x' ? 'y' : 'x'}${good.slice(i + 1)}`;
    const refused: [string, string, typeof ADMIN][] = [
      ['another cluster', await daclToken(otherBase), ADMIN],
      ['tampered MAC', tampered, ADMIN],
      ['MAC respelled in its spare bits', `${good.slice(0, -1)}${String.fromCharCode(good.charCodeAt(good.length - 1) ^ 1)}`, ADMIN],
      ['tampered time', good.replace(/^\d+/, (t) => String(Number(t) - 1)), ADMIN],
      ['expired', forge(ADMIN.name, Date.now() - TWELVE_HOURS - 60_000), ADMIN],
      ['from the future', forge(ADMIN.name, Date.now() + 10 * 60_000), ADMIN],
      ['another administrator', await daclToken(m1, ADMIN2), ADMIN],
      ['this administrator, used by another', good, ADMIN2],
    ];
    for (const base of [m1, m2, balancer!.url]) {
      for (const [what, token, who] of refused) {
        const r = await postDacl(base, grant(token), who);
        expect([what, base, r.status, await r.text()]).toEqual([what, base, 403, expect.stringMatching(/form token is missing, expired or not yours/)]);
      }
    }
    // The forger is right about the format: a fresh token made the same way is accepted.
    const control = await postDacl(m2, grant(forge(ADMIN.name, Date.now())));
    expect(control.status).toBe(303);
  });

  it('shows only notices this cluster made for this administrator, escaped', async () => {
    const r = await postDacl(m1, grant(await daclToken(m2)));
    expect(r.status).toBe(303);
    const location = r.headers.get('location')!;
    const flash = new URL(location, m1).searchParams.get('flash')!;
    const [at, , mac] = flash.split('.');
    const evil = Buffer.from('<script>alert(1)</script>Granted everything').toString('base64url');
    const page = (f: string, who = ADMIN) => noticesAt(m2, `/_wmcs/admin/dacl?flash=${encodeURIComponent(f)}`, who);
    expect(await page(flash)).toHaveLength(1);
    // Words an outsider chose, with or without the MAC of another notice, are never shown.
    expect(await page(`${at}.${evil}.${mac}`)).toEqual([]);
    expect(await page(`${at}.${evil}.${'A'.repeat(43)}`)).toEqual([]);
    // Nor is a notice of another administrator, or of another cluster.
    expect(await page(flash, ADMIN2)).toEqual([]);
    const otherPost = await postDacl(otherBase, grant(await daclToken(otherBase)));
    const otherFlash = new URL(otherPost.headers.get('location')!, otherBase).searchParams.get('flash')!;
    expect(await page(otherFlash)).toEqual([]);
    // What is shown is escaped like every other value.
    const html = await (await send(`${m2}/_wmcs/admin/dacl?flash=${encodeURIComponent(`${at}.${evil}.${mac}`)}`, { headers: { authorization: basic(ADMIN) } })).text();
    expect(html).not.toContain('<script>alert(1)</script>');
  });

  it('voids every open form on every member when the secret is rotated', async () => {
    const old = await daclToken(balancer!.url);
    const rotated = rmsctl(['admin', 'rotate-form-secret', '--database', db.url, '--actor', 'test']);
    ok(rotated);
    expect(rotated.stdout).toMatch(/new admin form secret/);
    // Each member re-reads the secret with the rest of the configuration (every 5 s).
    const refusedBy = async (base: string) => (await postDacl(base, grant(old, 'revoke'))).status === 403;
    const end = Date.now() + 15_000;
    while (!((await refusedBy(m1)) && (await refusedBy(m2))) && Date.now() < end) await new Promise((r) => setTimeout(r, 500));
    expect(await refusedBy(m1)).toBe(true);
    expect(await refusedBy(m2)).toBe(true);
    // A reloaded page works again, across members.
    const fresh = await postDacl(m2, grant(await daclToken(m1)));
    expect(fresh.status).toBe(303);
    const store = await openStore(db.url);
    try {
      const audit = await store.audit.list({ limit: 50 });
      const entry = audit.find((e) => e.action === 'admin.form-secret.rotate');
      expect(entry?.actor).toBe('test');
      // The audit says when, never what.
      expect(JSON.stringify(entry)).not.toMatch(/sealed/);
    } finally {
      await store.close();
    }
  }, 60_000);
});
