import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { MIGRATION_NAMES, openStore, SCHEMA_VERSION } from '@openrms/store';
import { postgresDatabase, sqliteDatabase, tempDir, type TestDatabase } from './support/databases';
import { background, REPO, rmsctl, TSX_BIN } from './support/processes';
import { sqliteFileOf } from './support/sqlite-row-counts';

const SECRETS = { ADMIN_PW: 'admin-password-1', KEY_PW: 'cluster-key-password-1' };
const PREVIOUS = MIGRATION_NAMES[MIGRATION_NAMES.length - 2]!;
const LATEST = MIGRATION_NAMES[MIGRATION_NAMES.length - 1]!;

function provision(db: TestDatabase): void {
  const r = rmsctl(
    ['provision', 'root', '--database', db.url, '--cluster-url', 'https://rms.example.test', '--service-account', 'rms-svc', '--admin', 'admin', '--admin-password-env', 'ADMIN_PW', '--key-password-env', 'KEY_PW'],
    SECRETS,
  );
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
}

/** SQL straight to the database with its own command-line shell, around the store under test. */
function sql(db: TestDatabase, statement: string): string {
  if (db.dialect === 'sqlite') return execFileSync('sqlite3', ['-cmd', '.timeout 5000', sqliteFileOf(db.url), statement], { encoding: 'utf8' });
  return execFileSync('psql', [db.url, '-v', 'ON_ERROR_STOP=1', '-qAtc', statement], { encoding: 'utf8' });
}

const appliedMigrations = (db: TestDatabase) => sql(db, 'select name from openrms_migrations order by id').trim().split('\n');
const auditRows = (db: TestDatabase) => Number(sql(db, 'select count(*) from audit_log').trim());

const serveArgs = (url: string) => ['serve', '--database', url, '--listen', '127.0.0.1:0', '--key-password-env', 'KEY_PW'];

describe.each([
  ['SQLite', sqliteDatabase],
  ['PostgreSQL', postgresDatabase],
])('schema upgrades on %s', (_label, makeDb) => {
  let db: TestDatabase;
  beforeAll(() => {
    db = makeDb();
    provision(db);
  });
  afterAll(() => db.dispose());

  it('serve, the worker and admin commands refuse a database of the previous release and name rmsctl migrate', async () => {
    // What the previous release left: every migration but the newest (a provisioned cluster, then the newest undone).
    const store = await openStore(db.url, { create: true });
    try {
      expect(await store.migrateTo(PREVIOUS)).toEqual([LATEST]);
    } finally {
      await store.close();
    }
    expect(appliedMigrations(db)).toEqual(MIGRATION_NAMES.slice(0, -1));

    const serve = rmsctl(serveArgs(db.url), SECRETS);
    expect(serve.code).toBe(5);
    expect(serve.stderr).toContain(`has schema version ${SCHEMA_VERSION - 1} and this OpenRMS needs ${SCHEMA_VERSION}`);
    expect(serve.stderr).toContain(`pending migrations: ${LATEST}`);
    expect(serve.stderr).toMatch(/back the database up, then run: rmsctl migrate --database \S+/);
    expect(serve.stdout).not.toMatch(/listening/);

    const worker = rmsctl(['worker', '--database', db.url, '--redis', 'redis://127.0.0.1:6379', '--key-password-env', 'KEY_PW', '--prefix', `schema-${randomBytes(4).toString('hex')}`], SECRETS);
    expect(worker.code).toBe(5);
    expect(worker.stderr).toContain('rmsctl migrate --database');

    const show = rmsctl(['slc', 'show', '--database', db.url]);
    expect(show.code).toBe(5);
    expect(show.stderr).toContain('rmsctl migrate --database');
    expect(appliedMigrations(db)).toEqual(MIGRATION_NAMES.slice(0, -1));
  });

  it('rmsctl migrate --dry-run lists what would run and changes nothing; rmsctl migrate applies it and audits it', async () => {
    const auditBefore = auditRows(db);
    const dry = rmsctl(['migrate', '--database', db.url, '--dry-run']);
    expect(dry.stderr).toBe('');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(new RegExp(`schema version: ${SCHEMA_VERSION - 1} \\(this OpenRMS: ${SCHEMA_VERSION}\\)`));
    expect(dry.stdout).toMatch(new RegExp(`applied: +${MIGRATION_NAMES.slice(0, -1).join(', ')}\\n`));
    expect(dry.stdout).toMatch(new RegExp(`pending: +${LATEST}\\n`));
    expect(dry.stdout).toContain(`dry run: would apply ${LATEST}; nothing was changed`);
    expect(appliedMigrations(db)).toEqual(MIGRATION_NAMES.slice(0, -1));
    expect(auditRows(db)).toBe(auditBefore);

    const run = rmsctl(['migrate', '--database', db.url]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`applied ${LATEST}; schema version is now ${SCHEMA_VERSION}`);
    expect(appliedMigrations(db)).toEqual([...MIGRATION_NAMES]);

    const store = await openStore(db.url);
    try {
      const [entry] = await store.audit.list({ limit: 1 });
      expect(entry).toMatchObject({ actor: 'rmsctl', action: 'schema.migrate', target: (await store.clusters.get()).id, before: { schemaVersion: SCHEMA_VERSION - 1 }, after: { schemaVersion: SCHEMA_VERSION, applied: [LATEST] } });
    } finally {
      await store.close();
    }

    const again = rmsctl(['migrate', '--database', db.url]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('the schema is current; nothing to do');
    expect(auditRows(db)).toBe(auditBefore + 1);
  });

  it('serve then starts', async () => {
    const srv = background(TSX_BIN, [path.join(REPO, 'apps/cli/src/main.ts'), ...serveArgs(db.url)], { env: { KEY_PW: SECRETS.KEY_PW, RMS_LOG_LEVEL: 'warn' } });
    try {
      const [, url] = await srv.waitFor(/listening on (http:\/\/\S+)/);
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
    } finally {
      expect(await srv.stop()).toBe(0);
    }
  });

  it('a database a newer OpenRMS migrated is refused by migrate and serve, unchanged', () => {
    sql(db, "insert into openrms_migrations (name, batch, migration_time) values ('9999_from_the_future', 99, current_timestamp)");
    const before = appliedMigrations(db);
    const auditBefore = auditRows(db);
    for (const args of [['migrate', '--database', db.url], ['migrate', '--database', db.url, '--dry-run'], serveArgs(db.url)]) {
      const r = rmsctl(args, SECRETS);
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/migrated by a newer OpenRMS: .*9999_from_the_future.*nothing was changed/);
      expect(r.stdout).not.toMatch(/listening|applied /);
    }
    expect(appliedMigrations(db)).toEqual(before);
    expect(auditRows(db)).toBe(auditBefore);
  });
});

describe('databases that are not there', () => {
  const ADMIN_COMMANDS: string[][] = [
    ['slc', 'show'],
    ['users', 'list'],
    ['groups', 'add', 'finance'],
    ['cluster', 'status'],
    ['migrate'],
    ['migrate', '--dry-run'],
  ];
  const withDatabase = (cmd: string[], url: string) => (cmd[0] === 'serve' ? serveArgs(url) : [...cmd, '--database', url]);

  it('a mistyped SQLite path is "not found" (exit 5) for admin commands and serve, and no file is created', () => {
    const dir = tempDir('missing');
    const file = path.join(dir, 'data', 'nope.db');
    for (const cmd of [...ADMIN_COMMANDS, ['serve']]) {
      const r = rmsctl(withDatabase(cmd, `sqlite:${file}`), SECRETS);
      expect({ cmd, code: r.code }).toEqual({ cmd, code: 5 });
      expect(r.stderr).toContain(`no configuration database at sqlite:${file}: the file does not exist`);
      expect(r.stderr).not.toMatch(/unexpected error/);
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('an existing SQLite file without OpenRMS tables is "not an OpenRMS configuration database" (exit 5), unchanged', () => {
    const dir = tempDir('foreign');
    const file = path.join(dir, 'other.db');
    execFileSync('sqlite3', [file, 'create table notes (t text); insert into notes values (1);']);
    const bytes = readFileSync(file);
    for (const cmd of [['slc', 'show'], ['migrate'], ['serve']]) {
      const r = rmsctl(withDatabase(cmd, `sqlite:${file}`), SECRETS);
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/is not an OpenRMS configuration database/);
    }
    expect(readFileSync(file).equals(bytes)).toBe(true);
    expect(readdirSync(dir)).toEqual(['other.db']);
  });

  it('a PostgreSQL database that does not exist is "not found" (exit 5)', () => {
    const url = `postgres://postgres@127.0.0.1:5432/openrms_missing_${randomBytes(6).toString('hex')}`;
    for (const cmd of [['slc', 'show'], ['users', 'list'], ['migrate'], ['serve']]) {
      const r = rmsctl(withDatabase(cmd, url), SECRETS);
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/no configuration database at postgres:\/\/\S+: the database does not exist/);
    }
  });

  it('an empty PostgreSQL database is not an OpenRMS configuration database (exit 5), and migrate creates nothing in it', () => {
    const db = postgresDatabase();
    try {
      for (const cmd of [['slc', 'show'], ['migrate']]) {
        const r = rmsctl(withDatabase(cmd, db.url), SECRETS);
        expect(r.code).toBe(5);
        expect(r.stderr).toMatch(/is not an OpenRMS configuration database/);
      }
      expect(sql(db, "select count(*) from information_schema.tables where table_schema = 'public'").trim()).toBe('0');
    } finally {
      db.dispose();
    }
  });
});

describe('the embedded start (pnpm start) on a busy port', () => {
  let busy: Server;
  let port: number;
  beforeAll(async () => {
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    port = (busy.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => busy.close(() => resolve())));

  it('fails before provisioning, naming the port and RMS_LISTEN, and writes nothing', async () => {
    const dir = tempDir('embedded-busy');
    const start = background(TSX_BIN, [path.join(REPO, 'apps/server/src/start-embedded.ts')], {
      env: { RMS_DATA_DIR: dir, RMS_LISTEN: `127.0.0.1:${port}`, RMS_LOG_LEVEL: 'warn' },
    });
    expect(await start.exited()).not.toBe(0);
    expect(start.output()).toContain(`port ${port} is already in use`);
    expect(start.output()).toContain('RMS_LISTEN');
    expect(start.output()).not.toMatch(/Provisioned|EADDRINUSE/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a data folder that does not exist yet is not created either', async () => {
    const dir = path.join(tempDir('embedded-busy'), 'data');
    const start = background(TSX_BIN, [path.join(REPO, 'apps/server/src/start-embedded.ts')], {
      env: { RMS_DATA_DIR: dir, RMS_LISTEN: `127.0.0.1:${port}`, RMS_LOG_LEVEL: 'warn' },
    });
    expect(await start.exited()).not.toBe(0);
    expect(existsSync(dir)).toBe(false);
  });
});
