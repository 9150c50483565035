import path from 'node:path';
import type { Knex } from 'knex';
import { RmsError } from '@openrms/domain';
import { ImmediateSqliteClient } from './immediate-sqlite-client';

export type Dialect = 'sqlite' | 'postgres' | 'mssql';

export interface DatabaseConfig {
  dialect: Dialect;
  /** Ready to hand to `knex()`; holds the password, so never log it. */
  knex: Knex.Config;
  /** The URL with any password replaced by `***`, for logs and error messages. */
  display: string;
  /** Absolute path of the SQLite file; undefined for `:memory:` and server databases. */
  sqliteFile?: string;
}

/** How long a SQLite connection waits for another process's write lock before failing. */
export const SQLITE_BUSY_TIMEOUT_MS = 10_000;

/** Only the mssql URL parameters we understand; an unknown one is most likely a typo. */
const MSSQL_BOOLEAN_PARAMS = ['encrypt', 'trustServerCertificate'] as const;
const MSSQL_PARAMS = new Set<string>([...MSSQL_BOOLEAN_PARAMS, 'instanceName', 'connectTimeout', 'requestTimeout']);

interface PragmaConnection {
  pragma(source: string): unknown;
}

/**
 * Replaces the password of `scheme://user:password@host` URLs with `***`. Works on strings that
 * are not valid URLs too, because those are exactly the ones that end up in error messages.
 * Greedy up to the last `@` so a password holding an unescaped `@` is hidden whole.
 */
export function redactDatabaseUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@]*:).*@/i, '$1***@');
}

/**
 * Turns a database URL into knex settings:
 * `sqlite:<path>` (relative to the working directory or absolute; `sqlite::memory:`),
 * `postgres://user:pass@host:port/db` (or `postgresql://`),
 * `mssql://user:pass@host:port/db?encrypt=true&trustServerCertificate=true`.
 */
export function parseDatabaseUrl(url: string): DatabaseConfig {
  const trimmed = url.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(trimmed)?.[1]?.toLowerCase();
  if (scheme === 'sqlite') return parseSqlite(trimmed);
  if (scheme === 'postgres' || scheme === 'postgresql') return parsePostgres(trimmed);
  if (scheme === 'mssql') return parseMssql(trimmed);
  throw new RmsError(
    'InvalidInput',
    scheme === undefined
      ? 'database URL must start with sqlite:, postgres://, postgresql:// or mssql://'
      : `unsupported database URL scheme '${scheme}:' (use sqlite:, postgres://, postgresql:// or mssql://)`,
  );
}

function parseSqlite(url: string): DatabaseConfig {
  // `sqlite:///abs/file.db` is a common spelling of `sqlite:/abs/file.db`; accept both.
  let file = url.slice('sqlite:'.length);
  if (file.startsWith('//')) file = file.slice(2);
  if (file === '') throw new RmsError('InvalidInput', 'sqlite: database URL needs a file path, e.g. sqlite:./data/rms.db');
  const memory = file === ':memory:';
  const filename = memory ? ':memory:' : path.resolve(file);
  return {
    dialect: 'sqlite',
    display: `sqlite:${filename}`,
    ...(memory ? {} : { sqliteFile: filename }),
    knex: {
      client: ImmediateSqliteClient as unknown as typeof Knex.Client,
      connection: { filename },
      useNullAsDefault: true,
      pool: {
        // Every connection needs these: SQLite keeps pragmas per connection, not per file.
        afterCreate(conn: PragmaConnection, done: (err: Error | null, conn: PragmaConnection) => void) {
          try {
            conn.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
            conn.pragma('foreign_keys = ON');
            // WAL lets the other server processes read while one writes; not available in memory.
            if (!memory) conn.pragma('journal_mode = WAL');
            done(null, conn);
          } catch (e) {
            done(e as Error, conn);
          }
        },
      },
    },
  };
}

function parseServerUrl(url: string, label: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new RmsError('InvalidInput', `${label} database URL is not a valid URL: ${redactDatabaseUrl(url)}`);
  }
  if (u.hostname === '') throw new RmsError('InvalidInput', `${label} database URL needs a host: ${redactDatabaseUrl(url)}`);
  if (databaseName(u) === '') {
    throw new RmsError('InvalidInput', `${label} database URL needs a database name after the host: ${redactDatabaseUrl(url)}`);
  }
  if (u.port !== '' && !/^\d+$/.test(u.port)) {
    throw new RmsError('InvalidInput', `${label} database URL has an invalid port: ${redactDatabaseUrl(url)}`);
  }
  return u;
}

function databaseName(u: URL): string {
  return decodeURIComponent(u.pathname.replace(/^\//, ''));
}

function parsePostgres(url: string): DatabaseConfig {
  parseServerUrl(url, 'postgres');
  return {
    dialect: 'postgres',
    display: redactDatabaseUrl(url),
    // node-postgres understands the URL itself, including sslmode and friends.
    knex: { client: 'pg', connection: { connectionString: url }, pool: { min: 0, max: 10 } },
  };
}

function parseMssql(url: string): DatabaseConfig {
  const u = parseServerUrl(url, 'mssql');
  const options: Record<string, string | boolean | number> = { encrypt: true, trustServerCertificate: false };
  const settings: Record<string, number> = {};
  for (const [name, value] of u.searchParams) {
    if (!MSSQL_PARAMS.has(name)) {
      throw new RmsError(
        'InvalidInput',
        `mssql database URL has an unknown parameter '${name}' (known: ${[...MSSQL_PARAMS].join(', ')})`,
      );
    }
    if ((MSSQL_BOOLEAN_PARAMS as readonly string[]).includes(name)) {
      if (value !== 'true' && value !== 'false') {
        throw new RmsError('InvalidInput', `mssql database URL parameter '${name}' must be true or false`);
      }
      options[name] = value === 'true';
    } else if (name === 'instanceName') {
      options.instanceName = value;
    } else {
      const ms = Number(value);
      if (!Number.isInteger(ms) || ms < 0) {
        throw new RmsError('InvalidInput', `mssql database URL parameter '${name}' must be a whole number of milliseconds`);
      }
      settings[name === 'connectTimeout' ? 'connectionTimeout' : name] = ms;
    }
  }
  return {
    dialect: 'mssql',
    display: redactDatabaseUrl(url),
    knex: {
      client: 'mssql',
      connection: {
        server: u.hostname,
        port: u.port === '' ? 1433 : Number(u.port),
        user: decodeURIComponent(u.username),
        password: decodeURIComponent(u.password),
        database: databaseName(u),
        ...settings,
        options,
      },
      pool: { min: 0, max: 10 },
    },
  };
}
