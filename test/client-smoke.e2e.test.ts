import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseGrantSpec } from '@openrms/domain';
import { loadServerConfig } from '@openrms/config';
import { addTemplate, addUser, provisionRootCluster } from '@openrms/issuance';
import { startServer, type RunningServer } from '@openrms/server';
import { RmsClient, isRmsClientError } from '@openrms/client';
import { sqliteDatabase, tempDir, type TestDatabase } from './support/databases';
import { REPO } from './support/processes';

/** `pnpm rms …` without a shell; asynchronous, because the server runs in this process. */
async function rms(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)(path.join(REPO, 'node_modules/.bin/tsx'), [path.join(REPO, 'apps/rms/src/main.ts'), ...args], {
      cwd: REPO,
      env: { ...process.env, ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

/**
 * The client against a real root cluster. The cluster URL must be the address the server really
 * listens on, because `open` sends credentials only to the licensing URL of the signed PL when it
 * is on the configured server; so a free port is chosen first and provisioned as the cluster URL.
 */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('OpenRMS client against a root cluster (SQLite)', () => {
  let db: TestDatabase;
  let server: RunningServer;
  let base: string;
  const stateDir = tempDir('client-state');
  const users = {
    alice: { name: 'alice', email: 'alice@example.test', password: 'alice-password-1' },
    bob: { name: 'bob', email: 'bob@example.test', password: 'bob-password-1' },
    carol: { name: 'carol', email: 'carol@example.test', password: 'carol-password-1' },
  };
  const client = (u: { name: string; password: string }, notes: string[] = []) =>
    new RmsClient({ serverUrl: base, user: u.name, password: u.password, stateDir, logger: (m) => notes.push(m) });

  beforeAll(async () => {
    db = sqliteDatabase();
    const port = await freePort();
    const keyPassword = 'cluster-key-password-1';
    await provisionRootCluster({
      databaseUrl: db.url,
      clusterUrl: `http://127.0.0.1:${port}/_wmcs`,
      serviceAccount: 'rms-service',
      admin: { name: 'admin', password: 'admin-password-1', email: 'admin@example.test' },
      keyPassword,
      revocation: { kind: 'standard' },
      serverName: 'client-smoke-1',
    });
    for (const u of Object.values(users)) await addUser(db.url, { ...u, groups: [] });
    await addTemplate(db.url, keyPassword, { name: 'Bob may print', description: 'test template', grants: parseGrantSpec('bob@example.test:VIEW,PRINT') });
    const config = loadServerConfig(
      { database: db.url, listen: `127.0.0.1:${port}`, keyPasswordEnv: 'KP', serverName: 'client-smoke-1' },
      { KP: keyPassword, RMS_LOG_LEVEL: 'silent' },
    );
    server = await startServer(config);
    base = server.url;
  });
  afterAll(async () => {
    await server?.close();
    db?.dispose();
  });

  it('alice protects for bob with VIEW; bob opens it and gets the same bytes; carol is refused', async () => {
    const content = Buffer.from('quarterly figures: up 12 %\n', 'utf8');
    const notes: string[] = [];
    const alice = client(users.alice, notes);
    const file = await alice.protect(content, { grants: parseGrantSpec('bob@example.test:VIEW'), name: 'figures.txt' });
    expect(file.subarray(0, 8).toString('ascii')).toBe('OPENRMS1');
    expect(notes.join('\n')).toMatch(/first use/);

    const info = alice.info(file);
    expect(info).toMatchObject({ publisher: 'alice@example.test', publishedOffline: true, name: 'figures.txt' });
    expect(info.declaredGrants).toEqual([{ grantee: 'bob@example.test', rights: ['VIEW'] }]);

    const opened = await client(users.bob).open(file);
    expect(opened.content.equals(content)).toBe(true);
    expect(opened.rights).toEqual(['VIEW']);

    // The publisher gets OWNER.
    const own = await client(users.alice).open(file);
    expect(own.content.equals(content)).toBe(true);
    expect(own.rights).toEqual(['OWNER']);

    // The content is bound to the header and the key: one flipped byte and nothing is returned.
    const altered = Buffer.from(file);
    altered[altered.length - 20]! ^= 1;
    await expect(client(users.bob).open(altered)).rejects.toMatchObject({ kind: 'format', message: expect.stringMatching(/altered/) });

    // Credentials go only to the configured server: a PL naming another origin is not followed.
    const elsewhere = new RmsClient({ serverUrl: base.replace('127.0.0.1', 'localhost'), user: 'bob', password: users.bob.password, stateDir });
    await expect(elsewhere.open(file)).rejects.toMatchObject({ kind: 'input', message: expect.stringMatching(/licensed by http:\/\/127\.0\.0\.1:\d+\/_wmcs\/licensing/) });

    const refused = await client(users.carol).open(file).catch((e: unknown) => e);
    expect(isRmsClientError(refused, 'fault')).toBe(true);
    expect(refused).toMatchObject({
      faultName: 'Microsoft.DigitalRightsManagement.Licensing.NoRightsForRequestedPrincipalException',
      shortName: 'NoRightsForRequestedPrincipal',
      httpStatus: 500,
    });
  });

  it('online with a template: the server signs the PL and the template decides the rights', async () => {
    const content = Buffer.from('template-protected');
    const alice = client(users.alice);
    const file = await alice.protect(content, { grants: [], template: 'bob may print' });
    const info = alice.info(file);
    expect(info).toMatchObject({ publishedOffline: false, template: 'bob may print', signer: { kind: 'server' } });
    const opened = await client(users.bob).open(file);
    expect(opened.content.equals(content)).toBe(true);
    expect(opened.rights.sort()).toEqual(['PRINT', 'VIEW']);
    await expect(alice.protect(content, { grants: [], template: 'no such template' })).rejects.toMatchObject({ kind: 'input' });
  });

  it('the rms command line: protect, info, a refused open that writes nothing, an open that writes the bytes', async () => {
    const dir = tempDir('client-cli');
    const env = { ALICE_PW: users.alice.password, BOB_PW: users.bob.password, CAROL_PW: users.carol.password, RMS_CLIENT_STATE_DIR: path.join(dir, 'state') };
    const plain = path.join(dir, 'plain.txt');
    writeFileSync(plain, 'for bob only\n');
    const conn = (user: string, pwVar: string) => ['--server', base, '--user', user, '--password-env', pwVar];

    const p = await rms(['protect', plain, '--out', path.join(dir, 'p.rms'), ...conn('alice', 'ALICE_PW'), '--grant', 'bob@example.test:VIEW'], env);
    expect(p).toMatchObject({ code: 0 });
    const i = await rms(['info', path.join(dir, 'p.rms')], {});
    expect(i.code).toBe(0);
    expect(i.stdout).toMatch(/publisher: +alice@example\.test/);
    expect(i.stdout).toMatch(/bob@example\.test: VIEW/);

    const refused = await rms(['open', path.join(dir, 'p.rms'), '--out', path.join(dir, 'carol.txt'), ...conn('carol', 'CAROL_PW')], env);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/^rms open: refused by the server: NoRightsForRequestedPrincipalException: carol@example\.test has no rights/m);
    expect(existsSync(path.join(dir, 'carol.txt'))).toBe(false);

    const ok = await rms(['open', path.join(dir, 'p.rms'), '--out', path.join(dir, 'bob.txt'), ...conn('bob', 'BOB_PW')], env);
    expect(ok).toMatchObject({ code: 0 });
    expect(readFileSync(path.join(dir, 'bob.txt'), 'utf8')).toBe('for bob only\n');
    expect(existsSync(path.join(dir, 'state', `bob@127.0.0.1_${new URL(base).port}`, 'rac-chain.json'))).toBe(true);
  }, 120_000);

  it('a wrong password is reported as such', async () => {
    const e = await client({ name: 'bob', password: 'not-bobs-password' }).open(Buffer.alloc(0)).catch((x: unknown) => x);
    // The file is checked before any server contact.
    expect(isRmsClientError(e, 'format')).toBe(true);
    const other = tempDir('client-state-wrong');
    const c = new RmsClient({ serverUrl: base, user: 'bob', password: 'not-bobs-password', stateDir: other });
    await expect(c.identity()).rejects.toMatchObject({ kind: 'unauthorized', httpStatus: 401 });
  });
});
