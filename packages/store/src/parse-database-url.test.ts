import path from 'node:path';
import { RmsError } from '@openrms/domain';
import { parseDatabaseUrl, redactDatabaseUrl } from './parse-database-url';

function rejection(url: string): RmsError {
  try {
    parseDatabaseUrl(url);
  } catch (e) {
    expect(e).toBeInstanceOf(RmsError);
    expect((e as RmsError).code).toBe('InvalidInput');
    return e as RmsError;
  }
  throw new Error(`${url} was accepted`);
}

describe('parseDatabaseUrl', () => {
  test('sqlite: relative, absolute, triple-slash and in-memory forms', () => {
    const rel = parseDatabaseUrl('sqlite:./data/rms.db');
    expect(rel.dialect).toBe('sqlite');
    expect(rel.sqliteFile).toBe(path.resolve('data/rms.db'));
    expect(rel.knex.connection).toEqual({ filename: path.resolve('data/rms.db') });
    expect(rel.knex.useNullAsDefault).toBe(true);
    expect(typeof rel.knex.pool?.afterCreate).toBe('function');

    expect(parseDatabaseUrl('sqlite:/var/lib/rms/rms.db').sqliteFile).toBe('/var/lib/rms/rms.db');
    expect(parseDatabaseUrl('sqlite:///var/lib/rms/rms.db').sqliteFile).toBe('/var/lib/rms/rms.db');
    const memory = parseDatabaseUrl('sqlite::memory:');
    expect(memory.sqliteFile).toBeUndefined();
    expect(memory.knex.connection).toEqual({ filename: ':memory:' });
    expect(rejection('sqlite:').message).toMatch(/file path/);
  });

  test('sqlite connections get foreign keys, WAL and a busy timeout', () => {
    const pragmas: string[] = [];
    const conn = { pragma: (s: string) => pragmas.push(s) };
    let result: unknown = 'not called';
    (parseDatabaseUrl('sqlite:/tmp/x.db').knex.pool!.afterCreate as (c: unknown, done: (e: unknown) => void) => void)(conn, (e) => (result = e));
    expect(result).toBeNull();
    expect(pragmas).toEqual(expect.arrayContaining(['foreign_keys = ON', 'journal_mode = WAL']));
    expect(pragmas.some((p) => /^busy_timeout = [1-9]\d{3,}$/.test(p))).toBe(true);
  });

  test('postgres and postgresql URLs go to node-postgres as they are', () => {
    const url = 'postgres://rms:s3cret@db.example.test:5433/openrms?sslmode=require';
    const c = parseDatabaseUrl(url);
    expect(c.dialect).toBe('postgres');
    expect(c.knex.client).toBe('pg');
    expect(c.knex.connection).toEqual({ connectionString: url });
    expect(c.display).toBe('postgres://rms:***@db.example.test:5433/openrms?sslmode=require');
    expect(parseDatabaseUrl('postgresql://rms@localhost/openrms').dialect).toBe('postgres');
    expect(rejection('postgres://rms:pw@localhost').message).toMatch(/database name/);
    expect(rejection('postgres://rms:pw@localhost:notaport/db').message).not.toContain('pw');
  });

  test('mssql URLs become tedious settings with decoded credentials and options', () => {
    const c = parseDatabaseUrl('mssql://sa:p%40ss%3Aw0rd@sql.example.test:14330/Open%20RMS?encrypt=false&trustServerCertificate=true&requestTimeout=30000');
    expect(c.dialect).toBe('mssql');
    expect(c.knex.client).toBe('mssql');
    expect(c.knex.connection).toEqual({
      server: 'sql.example.test',
      port: 14330,
      user: 'sa',
      password: 'p@ss:w0rd',
      database: 'Open RMS',
      requestTimeout: 30000,
      options: { encrypt: false, trustServerCertificate: true },
    });
    expect(c.display).not.toContain('p%40ss');
    const defaults = parseDatabaseUrl('mssql://sa:pw@sql/rms').knex.connection as { port: number; options: object };
    expect(defaults.port).toBe(1433);
    expect(defaults.options).toEqual({ encrypt: true, trustServerCertificate: false });
    expect(rejection('mssql://sa:pw@sql/rms?encrypt=yes').message).toMatch(/encrypt.*true or false/);
    expect(rejection('mssql://sa:pw@sql/rms?encrpyt=true').message).toMatch(/unknown parameter 'encrpyt'/);
    expect(rejection('mssql://sa:pw@sql/rms?requestTimeout=-1').message).toMatch(/requestTimeout/);
  });

  test('anything else is InvalidInput, and no message ever shows the password', () => {
    const secret = 'Hunter2-very-secret';
    const bad = [
      `mysql://root:${secret}@localhost/db`,
      `postgres://u:${secret}@/db`,
      `mssql://u:${secret}@host`,
      `postgres://u:${secret}@host:99999999999/db`,
      `mssql://u:${secret}@host/db?encrypt=maybe`,
      `http://u:${secret}@host/db`,
      `${secret}`,
      '',
      'sqlite',
    ];
    for (const url of bad) expect(rejection(url).message).not.toContain(secret);
    expect(rejection(`mysql://root:${secret}@localhost/db`).message).toMatch(/unsupported database URL scheme 'mysql:'/);
  });
});

describe('redactDatabaseUrl', () => {
  test('hides the whole password, even one holding an unescaped @', () => {
    expect(redactDatabaseUrl('postgres://u:p@ss@host/db')).toBe('postgres://u:***@host/db');
    expect(redactDatabaseUrl('postgres://u@host/db')).toBe('postgres://u@host/db');
    expect(redactDatabaseUrl('sqlite:./x.db')).toBe('sqlite:./x.db');
  });
});
