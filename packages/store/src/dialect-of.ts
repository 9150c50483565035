import type { Knex } from 'knex';
import type { Dialect } from './parse-database-url';

/** Which of our three dialects a knex instance (or transaction) talks to. */
export function dialectOf(db: Knex): Dialect {
  // The client class's dialect, not config.client: our SQLite client is passed as a class.
  const dialect: unknown = (db.client as { dialect?: unknown }).dialect;
  if (dialect === 'postgresql') return 'postgres';
  if (dialect === 'mssql') return 'mssql';
  if (dialect === 'sqlite3') return 'sqlite';
  throw new Error(`unsupported knex dialect ${String(dialect)}`);
}
