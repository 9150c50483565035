/**
 * The cluster key kept in a PKCS#11 token (SoftHSM2, a token of this test's own): provisioned by the
 * release rmsctl, served by the release server (supervisor and workers each open the token), the
 * whole client flow through it, a second member on the same token, and the start-up refusals
 * (wrong PIN, missing token or module) before any port is opened. docs/adr/0016-pkcs11-key-protection.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ClusterClient } from '@openrms/soap';
import { openStore } from '@openrms/store';
import { sqliteDatabase, tempDir, type TestDatabase } from './support/databases';
import { background, type Background, REPO } from './support/processes';
import { freePort } from './support/root-cluster';
import { createSoftHsmToken, type SoftHsmToken } from './support/softhsm';
import { ensureBuilt, refusesConnections } from './support/member-processes';

const SERVER = path.join(REPO, 'apps/server/dist/main.js');
const RMSCTL = path.join(REPO, 'apps/cli/dist/main.js');
const RMS = path.join(REPO, 'apps/rms/dist/main.js');
const BUILT = [SERVER, RMSCTL, RMS];

/** Builds when a bundle is missing or older than its sources, one build at a time on this machine. */
function ensureReleaseBuilt(): void {
  ensureBuilt(BUILT);
}

const SECRETS = { ADMIN_PW: 'hsm-admin-password-1', ALICE_PW: 'alice-password-1', BOB_PW: 'bob-password-1', CAROL_PW: 'carol-password-1', WRONG_PIN: 'not-the-pin' };

describe('the cluster key in a PKCS#11 token (SoftHSM2), release build', () => {
  let token: SoftHsmToken;
  let db: TestDatabase;
  let dir: string;
  let port: number;
  let base: string;
  let member: Background;
  let env: Record<string, string>;

  const node = (file: string, args: string[], extra: Record<string, string> = {}) =>
    spawnSync(process.execPath, [file, ...args], { cwd: REPO, encoding: 'utf8', timeout: 180_000, env: { ...process.env, ...env, RMS_LOG_LEVEL: 'warn', ...extra } });
  const rms = (args: string[], server: string, user: string, extra: Record<string, string> = {}) =>
    node(RMS, [...args, '--server', server, '--user', user, '--password-env', `${user.toUpperCase()}_PW`], extra);
  const serve = (p: number, name: string, extra: Record<string, string> = {}) =>
    background(process.execPath, [SERVER, '--database', db.url, '--listen', `127.0.0.1:${p}`, '--pkcs11-pin-env', 'HSM_PIN', '--server-name', name, '--state-dir', path.join(dir, `state-${name}`)], {
      env: { ...env, RMS_LOG_LEVEL: 'warn', ...extra },
    });
  const admin = { authorization: `Basic ${Buffer.from(`admin:${SECRETS.ADMIN_PW}`).toString('base64')}` };

  beforeAll(async () => {
    ensureReleaseBuilt();
    token = createSoftHsmToken({ label: 'openrms-e2e' });
    db = sqliteDatabase();
    dir = tempDir('hsm-e2e');
    // Every process that opens the key sees this token (SOFTHSM2_CONF) and gets the PIN from HSM_PIN.
    env = { ...SECRETS, ...token.env, HSM_PIN: token.pinEnvValue, RMS_CLIENT_STATE_DIR: path.join(dir, 'client') };
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const prov = node(RMSCTL, ['provision', 'root', '--database', db.url, '--cluster-url', base, '--service-account', 'rms-svc', '--admin', 'admin', '--admin-password-env', 'ADMIN_PW',
      '--key-protection', 'pkcs11', '--pkcs11-module', token.module, '--pkcs11-token', token.label, '--pkcs11-pin-env', 'HSM_PIN', '--server-name', 'member-1']);
    expect(prov.stderr).toBe('');
    expect(prov.status).toBe(0);
    for (const u of ['alice', 'bob', 'carol']) {
      const r = node(RMSCTL, ['users', 'add', u, '--database', db.url, '--email', `${u}@example.test`, '--password-env', `${u.toUpperCase()}_PW`]);
      expect(r.stderr).toBe('');
    }
    member = serve(port, 'member-1');
    await member.waitFor(/listening on http/, 180_000);
  }, 600_000);

  afterAll(async () => {
    await member?.stop();
    db?.dispose();
    token?.dispose();
  });

  it('keeps only where the key is in the database: module, token and label, never the PIN', async () => {
    const s = await openStore(db.url);
    try {
      const cluster = await s.clusters.get();
      const stored = (await s.keys.getActive(cluster.id, 'cluster')).wrappedPrivateKey;
      expect(JSON.parse(stored)).toMatchObject({ format: 'openrms-pkcs11-v1', module: token.module, token: token.label, label: `openrms-cluster-${cluster.id}` });
      expect(stored).not.toContain(token.pinEnvValue);
      const audit = (await s.audit.list({ limit: 50 })).find((a) => a.action === 'cluster.provision');
      expect(audit?.after).toMatchObject({ keyProtection: { kind: 'pkcs11', token: token.label } });
      expect(JSON.stringify(audit)).not.toContain(token.pinEnvValue);
    } finally {
      await s.close();
    }
    const show = node(RMSCTL, ['slc', 'show', '--database', db.url]);
    expect(show.stdout).toMatch(new RegExp(`protection: +PKCS#11 token "${token.label}", key label "openrms-cluster-[0-9a-f-]+" \\(id [0-9a-f]{32}\\), module ${token.module}`));
  });

  it('runs the whole client flow with the key in the token: protect, open, refuse', () => {
    const plain = path.join(dir, 'minutes.txt');
    const protectedFile = path.join(dir, 'minutes.rms');
    writeFileSync(plain, 'The key never left the token.\n');
    const p = rms(['protect', plain, '--out', protectedFile, '--grant', 'bob@example.test:VIEW'], base, 'alice');
    expect(p.stderr).toMatch(/^(rms: note: trusting the server key [0-9a-f]{64} of http\S+ from now on \(first use\)\n)?$/);
    expect(p.status).toBe(0);
    const o = rms(['open', protectedFile, '--out', path.join(dir, 'bob.txt')], base, 'bob');
    expect(o.stderr).toMatch(/^(rms: note: trusting the server key [0-9a-f]{64} of http\S+ from now on \(first use\)\n)?$/);
    expect(o.status).toBe(0);
    expect(readFileSync(path.join(dir, 'bob.txt'))).toEqual(readFileSync(plain));
    const refused = rms(['open', protectedFile, '--out', path.join(dir, 'carol.txt')], base, 'carol');
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/NoRightsForRequestedPrincipalException/);
    expect(existsSync(path.join(dir, 'carol.txt'))).toBe(false);
  });

  it('shows the HSM status on the admin overview and in /readyz, without the PIN', async () => {
    const page = await (await fetch(`${base}/_wmcs/admin/`, { headers: admin })).text();
    const status = page.slice(page.indexOf('id="hsm-status"'), page.indexOf('</table>', page.indexOf('id="hsm-status"')));
    expect(status).toContain('PKCS#11 token (HSM)');
    expect(status).toContain(token.module);
    expect(status).toContain(`<td class="mono">${token.label}</td>`);
    expect(status).toMatch(/<td class="mono">openrms-cluster-[0-9a-f-]+<\/td>/);
    expect(status).toMatch(/id="key-reachable" class="yes">yes: a test signature/);
    expect(page).not.toContain(token.pinEnvValue);
    expect(page).toContain('--pkcs11-pin-env RMS_PKCS11_PIN');
    const ready = (await (await fetch(`${base}/readyz`)).json()) as { checks: Record<string, string> };
    expect(ready.checks.key).toBe('ok');
  });

  it('a second member opens the same token and signs with the same key', async () => {
    const port2 = await freePort();
    const second = serve(port2, 'member-2');
    try {
      await second.waitFor(/listening on http/, 180_000);
      const url2 = `http://127.0.0.1:${port2}`;
      const chain = await new ClusterClient({ baseUrl: `${base}/_wmcs`, credentials: { name: 'bob', password: SECRETS.BOB_PW }, timeoutMs: 10_000 }).getLicensorCertificate();
      expect(await new ClusterClient({ baseUrl: `${url2}/_wmcs`, credentials: { name: 'bob', password: SECRETS.BOB_PW }, timeoutMs: 10_000 }).getLicensorCertificate()).toEqual(chain);
      // Certification and a licensor certificate signed through member 2's own token session.
      const p = rms(['protect', path.join(dir, 'minutes.txt'), '--out', path.join(dir, 'second.rms'), '--grant', 'bob@example.test:VIEW'], url2, 'alice', { RMS_CLIENT_STATE_DIR: path.join(dir, 'client-2') });
      expect(p.status).toBe(0);
      const o = rms(['open', path.join(dir, 'second.rms'), '--out', path.join(dir, 'bob-2.txt')], base, 'bob');
      expect(o.status).toBe(0);
      expect(readFileSync(path.join(dir, 'bob-2.txt'), 'utf8')).toBe('The key never left the token.\n');
      const page = await (await fetch(`${url2}/_wmcs/admin/`, { headers: admin })).text();
      expect(page).toMatch(/id="key-reachable" class="yes"/);
    } finally {
      expect(await second.stop()).toBe(0);
    }
  }, 300_000);

  it('refuses a wrong PIN at start with exit code 4 and one line, never opening the port', async () => {
    for (const cmd of [[SERVER], [RMSCTL, 'serve']]) {
      const p = await freePort();
      const r = spawnSync(process.execPath, [...cmd, '--database', db.url, '--listen', `127.0.0.1:${p}`, '--pkcs11-pin-env', 'WRONG_PIN', '--server-name', 'wrong-pin', '--state-dir', path.join(dir, 'state-wrong')], {
        cwd: REPO,
        encoding: 'utf8',
        timeout: 180_000,
        env: { ...process.env, ...env, RMS_LOG_LEVEL: 'warn' },
      });
      expect(r.status).toBe(4);
      expect(r.stderr).toMatch(new RegExp(`^(openrms server|rmsctl): the PIN of the PKCS#11 token "${token.label}" is wrong\\n$`));
      expect(r.stdout).not.toMatch(/listening/);
      expect(await refusesConnections(p)).toBe(true);
    }
  }, 400_000);

  it('refuses a token or module that is not there at start (exit 5 and 2), and provisioning into one', async () => {
    // The same module, but a SoftHSM configuration whose folder holds another token only.
    const elsewhere = createSoftHsmToken({ label: 'another-token' });
    try {
      const p = await freePort();
      const r = spawnSync(process.execPath, [SERVER, '--database', db.url, '--listen', `127.0.0.1:${p}`, '--pkcs11-pin-env', 'HSM_PIN', '--server-name', 'no-token', '--state-dir', path.join(dir, 'state-no-token')], {
        cwd: REPO,
        encoding: 'utf8',
        timeout: 180_000,
        env: { ...process.env, ...env, ...elsewhere.env, RMS_LOG_LEVEL: 'warn' },
      });
      expect(r.status).toBe(5);
      expect(r.stderr).toBe(`openrms server: no token labelled "${token.label}" in the PKCS#11 module ${token.module} (it has "another-token")\n`);
      expect(await refusesConnections(p)).toBe(true);
    } finally {
      elsewhere.dispose();
    }
    const fresh = sqliteDatabase();
    try {
      const provision = (extra: string[], pinVar = 'HSM_PIN') =>
        node(RMSCTL, ['provision', 'root', '--database', fresh.url, '--cluster-url', 'http://127.0.0.1:1', '--service-account', 'svc', '--admin', 'admin', '--admin-password-env', 'ADMIN_PW',
          '--key-protection', 'pkcs11', '--pkcs11-pin-env', pinVar, ...extra]);
      const noModule = provision(['--pkcs11-module', '/nonexistent/libpkcs11.so', '--pkcs11-token', token.label]);
      expect(noModule.status).toBe(2);
      expect(noModule.stderr).toBe('rmsctl provision root: cannot load the PKCS#11 module /nonexistent/libpkcs11.so: cannot open shared object file: No such file or directory\n');
      const noToken = provision(['--pkcs11-module', token.module, '--pkcs11-token', 'no-such-token']);
      expect(noToken.status).toBe(5);
      expect(noToken.stderr).toMatch(/no token labelled "no-such-token"/);
      const wrongPin = provision(['--pkcs11-module', token.module, '--pkcs11-token', token.label], 'WRONG_PIN');
      expect(wrongPin.status).toBe(4);
      const mixed = node(RMSCTL, ['provision', 'root', '--database', fresh.url, '--cluster-url', 'http://127.0.0.1:1', '--service-account', 'svc', '--admin', 'admin', '--admin-password-env', 'ADMIN_PW', '--pkcs11-token', token.label]);
      expect(mixed.status).toBe(2);
      expect(mixed.stderr).toMatch(/--pkcs11-token only goes with --key-protection pkcs11/);
      // Nothing was provisioned by any of them.
      expect(node(RMSCTL, ['slc', 'show', '--database', fresh.url]).status).toBe(5);
    } finally {
      fresh.dispose();
    }
  }, 400_000);

  it('refuses to export the key or change a password it does not have, saying why', () => {
    const exported = node(RMSCTL, ['key', 'export', '--database', db.url, '--key-password-env', 'HSM_PIN', '--out', path.join(dir, 'export.pem'), '--password-env', 'ADMIN_PW']);
    expect(exported.status).toBe(2);
    expect(exported.stderr).toMatch(new RegExp(`^rmsctl key export: the cluster key is kept in the PKCS#11 token "${token.label}" .*cannot be exported; back the token up with its own tools`));
    expect(existsSync(path.join(dir, 'export.pem'))).toBe(false);
    const changed = node(RMSCTL, ['key', 'change-password', '--database', db.url, '--key-password-env', 'HSM_PIN', '--new-password-env', 'ADMIN_PW']);
    expect(changed.status).toBe(2);
    expect(changed.stderr).toMatch(/has no password; change the token's user PIN with its own tools/);
  });
});
