import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { knex, type Knex } from 'knex';
import { MIGRATION_NAMES, MIGRATIONS_TABLE, SCHEMA_VERSION } from './migration-source';
import { parseDatabaseUrl } from './parse-database-url';
import { openStore } from './store';
import { expectRmsError } from './testing/describe-store-contract';

const PG_ADMIN_URL = process.env.RMS_TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A plain knex connection that goes around openStore's checks, to shape and inspect test databases. */
async function raw<T>(url: string, fn: (db: Knex) => Promise<T>): Promise<T> {
  const config = parseDatabaseUrl(url);
  const db = knex({ ...config.knex, pool: { min: 0, max: 1 } });
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

interface Target {
  url: string;
  dispose(): Promise<void>;
}

const targets: [string, () => Promise<Target>][] = [
  [
    'sqlite',
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'openrms-schema-'));
      return { url: `sqlite:${path.join(dir, 'rms.db')}`, dispose: async () => fs.rmSync(dir, { recursive: true, force: true }) };
    },
  ],
  [
    'postgres',
    async () => {
      const name = `openrms_schema_${randomBytes(6).toString('hex')}`;
      await raw(PG_ADMIN_URL, (db) => db.raw(`CREATE DATABASE ${name}`));
      const url = new URL(PG_ADMIN_URL);
      url.pathname = `/${name}`;
      return { url: url.toString(), dispose: () => raw(PG_ADMIN_URL, (db) => db.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined) };
    },
  ],
];

const previous = MIGRATION_NAMES[MIGRATION_NAMES.length - 2]!;
const latest = MIGRATION_NAMES[MIGRATION_NAMES.length - 1]!;

describe.each(targets)('schema versions on %s', (_label, createTarget) => {
  let target: Target;
  beforeEach(async () => {
    target = await createTarget();
  });
  afterEach(() => target.dispose());

  const appliedNames = () =>
    raw(target.url, async (db) => ((await db(MIGRATIONS_TABLE).select('name').orderBy('id')) as { name: string }[]).map((r) => r.name));

  test('a database without OpenRMS tables is NotProvisioned and stays empty', async () => {
    const file = parseDatabaseUrl(target.url).sqliteFile;
    if (file !== undefined) await raw(target.url, (db) => db.schema.createTable('someone_elses', (t) => t.integer('x')));
    const bytes = file === undefined ? undefined : fs.readFileSync(file);
    const e = await expectRmsError(openStore(target.url), 'NotProvisioned');
    expect(e.message).toMatch(/is not an OpenRMS configuration database/);
    await expectRmsError(openStore(target.url, { anySchemaVersion: true }), 'NotProvisioned');
    expect(await raw(target.url, (db) => db.schema.hasTable(MIGRATIONS_TABLE))).toBe(false);
    // Not even switched to WAL: somebody else's file is left byte for byte as it was.
    if (file !== undefined) expect(fs.readFileSync(file).equals(bytes!)).toBe(true);
  });

  test('a database of the previous release is refused with the command to run, until migrated', async () => {
    const setup = await openStore(target.url, { create: true });
    expect(await setup.migrateTo(previous)).toEqual(MIGRATION_NAMES.slice(0, -1));
    await setup.close();

    const e = await expectRmsError(openStore(target.url), 'NotProvisioned');
    expect(e.message).toContain(`schema version ${SCHEMA_VERSION - 1} and this OpenRMS needs ${SCHEMA_VERSION}`);
    expect(e.message).toContain(`pending migrations: ${latest}`);
    expect(e.message).toContain('rmsctl migrate --database ');
    expect(await appliedNames()).toEqual(MIGRATION_NAMES.slice(0, -1));

    const store = await openStore(target.url, { anySchemaVersion: true });
    try {
      expect(await store.schemaStatus()).toEqual({ codeVersion: SCHEMA_VERSION, applied: MIGRATION_NAMES.slice(0, -1), pending: [latest], unknown: [] });
      expect(await store.migrate()).toEqual([latest]);
      expect(await store.schemaVersion()).toBe(SCHEMA_VERSION);
    } finally {
      await store.close();
    }
    const current = await openStore(target.url);
    await current.close();

    // And back again, one migration at a time: migrateTo undoes as well as applies.
    const back = await openStore(target.url, { create: true });
    try {
      expect(await back.migrateTo(MIGRATION_NAMES[0]!)).toEqual(MIGRATION_NAMES.slice(1).reverse());
      expect(await back.schemaVersion()).toBe(1);
      await expectRmsError(back.migrateTo('0999_nope'), 'InvalidInput');
    } finally {
      await back.close();
    }
  });

  test('a database a newer OpenRMS migrated is refused, by open and by migrate, and left as it was', async () => {
    const setup = await openStore(target.url, { migrate: true });
    await setup.close();
    await raw(target.url, (db) => db(MIGRATIONS_TABLE).insert({ name: '9999_from_the_future', batch: 99, migration_time: new Date() }));
    const before = await appliedNames();

    for (const opts of [{}, { anySchemaVersion: true }, { migrate: true }]) {
      const e = await expectRmsError(openStore(target.url, opts), 'NotProvisioned');
      expect(e.message).toMatch(/migrated by a newer OpenRMS.*9999_from_the_future/);
    }
    const store = await openStore(target.url, { create: true });
    try {
      await expectRmsError(store.migrate(), 'NotProvisioned');
      await expectRmsError(store.migrateTo(latest), 'NotProvisioned');
      expect((await store.schemaStatus()).unknown).toEqual(['9999_from_the_future']);
    } finally {
      await store.close();
    }
    expect(await appliedNames()).toEqual(before);
  });
});

describe('databases that are not there', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'openrms-missing-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a missing SQLite file is NotFound, and neither it nor its folder is created', async () => {
    const file = path.join(dir, 'data', 'nope.db');
    for (const opts of [{}, { anySchemaVersion: true }]) {
      const e = await expectRmsError(openStore(`sqlite:${file}`, opts), 'NotFound');
      expect(e.message).toContain(`no configuration database at sqlite:${file}: the file does not exist`);
    }
    expect(fs.existsSync(path.join(dir, 'data'))).toBe(false);
  });

  test('creating is for provisioning: { create } or { migrate } make the file', async () => {
    const file = path.join(dir, 'new', 'rms.db');
    const store = await openStore(`sqlite:${file}`, { migrate: true });
    await store.close();
    expect(fs.existsSync(file)).toBe(true);
    const again = await openStore(`sqlite:${file}`);
    expect(await again.schemaVersion()).toBe(SCHEMA_VERSION);
    await again.close();
  });

  test('an empty file and a file that is not SQLite are not OpenRMS configuration databases', async () => {
    const empty = path.join(dir, 'empty.db');
    fs.writeFileSync(empty, '');
    await expect(openStore(`sqlite:${empty}`)).rejects.toMatchObject({ code: 'NotProvisioned', message: expect.stringMatching(/not an OpenRMS configuration database/) });
    const text = path.join(dir, 'notes.txt');
    fs.writeFileSync(text, 'these are not the tables you are looking for\n'.repeat(100));
    await expect(openStore(`sqlite:${text}`)).rejects.toMatchObject({ code: 'NotProvisioned', message: expect.stringMatching(/not a SQLite database/) });
    expect(fs.readFileSync(text, 'utf8')).toBe('these are not the tables you are looking for\n'.repeat(100));
  });

  test('a PostgreSQL database that does not exist is NotFound', async () => {
    const url = new URL(PG_ADMIN_URL);
    url.pathname = `/openrms_missing_${randomBytes(6).toString('hex')}`;
    for (const opts of [{}, { migrate: true }]) {
      const e = await expectRmsError(openStore(url.toString(), opts), 'NotFound');
      expect(e.message).toMatch(/the database does not exist/);
    }
  });
});
