import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { sqliteDatabase, tempDir, type TestDatabase } from './support/databases';
import { background, REPO, rmsctl, TSX_BIN } from './support/processes';
import { freePort } from './support/root-cluster';

// Each case starts rmsctl processes (tsx) several times: slow on a busy machine.
jest.setTimeout(240_000);

const SECRETS = { ADMIN_PW: 'admin-password-1', KEY_PW: 'cluster-key-password-1' };

/** `rmsctl serve …` in the background; resolves with the URL it says it listens on, and a stop. */
async function serve(args: string[], env: Record<string, string>): Promise<{ url: string; stop: () => Promise<number | null> }> {
  const srv = background(TSX_BIN, [path.join(REPO, 'apps/cli/src/main.ts'), 'serve', ...args], { env: { RMS_LOG_LEVEL: 'warn', ...env } });
  try {
    const [, url] = await srv.waitFor(/listening on (https?:\/\/\S+)/);
    return { url: url!, stop: () => srv.stop() };
  } catch (e) {
    await srv.stop();
    throw e;
  }
}

describe('member configuration file', () => {
  let db: TestDatabase;
  let dir: string;
  let good: string;

  beforeAll(() => {
    db = sqliteDatabase();
    dir = tempDir('config');
    const r = rmsctl(
      ['provision', 'root', '--cluster-url', 'https://rms.example.test', '--service-account', 'rms-svc', '--admin', 'admin', '--admin-password-env', 'ADMIN_PW', '--key-password-env', 'KEY_PW'],
      // The database from the environment: admin commands read RMS_DATABASE_URL too.
      { ...SECRETS, RMS_DATABASE_URL: db.url },
    );
    expect(r).toMatchObject({ code: 0 });
    good = path.join(dir, 'openrms.yaml');
  });

  afterAll(() => db.dispose());

  function writeConfig(text: string, name = 'openrms.yaml'): string {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  }

  it('config check prints the effective settings of a good file, secrets as "from $VAR"', () => {
    writeConfig(`database: ${db.url}\nlisten: 127.0.0.1:18080\nkey-password-env: KEY_PW\nredis: redis://127.0.0.1:6379\nslc-warn-days: [30, 7]\n`);
    const r = rmsctl(['config', 'check', good], { KEY_PW: SECRETS.KEY_PW, RMS_SERVER_NAME: 'member-9' });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${good}: valid`);
    expect(r.stdout).toMatch(/^key-password-env +from \$KEY_PW +\S*openrms\.yaml$/m);
    expect(r.stdout).toMatch(/^listen +127\.0\.0\.1:18080 +\S*openrms\.yaml$/m);
    expect(r.stdout).toMatch(/^server-name +member-9 +RMS_SERVER_NAME$/m);
    expect(r.stdout).toMatch(/^slc-warn-days +30,7 /m);
    expect(r.stdout).toMatch(/^max-body +1m +default$/m);
    expect(r.stdout + r.stderr).not.toContain(SECRETS.KEY_PW);
  });

  it('config check exits 2 with the file and key of a bad file', () => {
    const bad = writeConfig('listen: x\n', 'bad.yaml');
    const r = rmsctl(['config', 'check', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`rmsctl config check: ${bad}: listen: must be HOST:PORT (e.g. 127.0.0.1:8080), got "x"`);
    const secret = writeConfig('key-password: hunter2hunter2\n', 'secret.yaml');
    const s = rmsctl(['config', 'check', secret]);
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/secret\.yaml: key-password: the cluster key password never goes in a configuration file; set key-password-env/);
    expect(s.stderr).not.toContain('hunter2');
    const unknown = rmsctl(['config', 'check', writeConfig('tls_cert: c.pem\n', 'unknown.yaml')]);
    expect(unknown).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown.yaml: tls_cert: unknown setting (did you mean tls-cert?)') });
    expect(rmsctl(['config', 'check', path.join(dir, 'missing.yaml')])).toMatchObject({ code: 2, stderr: expect.stringContaining('cannot read the configuration file') });
  });

  it('serve and worker refuse a bad file before starting anything', () => {
    const bad = writeConfig('listen: x\n', 'bad.yaml');
    for (const cmd of ['serve', 'worker']) {
      const r = rmsctl([cmd, '--config', bad], SECRETS);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`rmsctl ${cmd}: ${bad}: listen: must be HOST:PORT`);
    }
    // RMS_CONFIG names the file the same way.
    const r = rmsctl(['serve'], { ...SECRETS, RMS_CONFIG: bad });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${bad}: listen: must be HOST:PORT`);
  });

  it('admin commands find the database in --config, RMS_CONFIG or RMS_DATABASE_URL', () => {
    const file = writeConfig(`database: ${db.url}\n`, 'admin.yaml');
    for (const [args, env] of [
      [['slc', 'show', '--config', file], {}],
      [['slc', 'show'], { RMS_CONFIG: file }],
      [['slc', 'show'], { RMS_DATABASE_URL: db.url }],
      [['slc', 'show', '--database', db.url], { RMS_DATABASE_URL: 'sqlite:/nonexistent/x.db' }],
    ] as [string[], Record<string, string>][]) {
      const r = rmsctl(args, env);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^subject: /m);
    }
    const none = rmsctl(['slc', 'show']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--database is required (or set RMS_DATABASE_URL, or put database: in the --config file)');
  });

  it('serve --config starts with the file, the environment overrides the file and a flag the environment', async () => {
    const [fromFile, fromEnv, fromFlag] = [await freePort(), await freePort(), await freePort()];
    const file = writeConfig(`database: ${db.url}\nlisten: 127.0.0.1:${fromFile}\nkey-password-env: MY_KEY_PW\n`, 'member.yaml');
    const env = { MY_KEY_PW: SECRETS.KEY_PW };

    let s = await serve(['--config', file], env);
    try {
      expect(s.url).toBe(`http://127.0.0.1:${fromFile}`);
      expect((await fetch(`${s.url}/readyz`)).status).toBe(200);
    } finally {
      expect(await s.stop()).toBe(0);
    }

    s = await serve(['--config', file], { ...env, RMS_LISTEN: `127.0.0.1:${fromEnv}` });
    try {
      expect(s.url).toBe(`http://127.0.0.1:${fromEnv}`);
    } finally {
      await s.stop();
    }

    // RMS_CONFIG instead of --config; the flag wins over RMS_LISTEN.
    s = await serve(['--listen', `127.0.0.1:${fromFlag}`], { ...env, RMS_CONFIG: file, RMS_LISTEN: `127.0.0.1:${fromEnv}` });
    try {
      expect(s.url).toBe(`http://127.0.0.1:${fromFlag}`);
    } finally {
      await s.stop();
    }
  });
});
