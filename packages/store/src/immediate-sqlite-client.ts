import type { Knex } from 'knex';

/*
 * knex's own better-sqlite3 client, changed in two respects:
 * - transactions start with BEGIN IMMEDIATE instead of BEGIN. Several server processes share one
 *   SQLite file; a deferred transaction that reads and then writes fails at once with SQLITE_BUSY
 *   when another process wrote in between (the busy timeout is not consulted for that case),
 *   whereas an immediate one takes the write lock up front and so waits its turn under busy_timeout;
 * - statements are prepared once per connection and SQL text and reused (see StatementCache):
 *   knex prepares every query afresh, which was most of what a request's database reads cost.
 * knex publishes no typings for its dialect classes, hence the require and the narrow shapes;
 * the sqlite tests (several writer processes; statement reuse across schema changes) fail if this
 * stops working after an upgrade.
 */

interface TransactionBase {
  query(conn: unknown, sql: string): Promise<unknown>;
}
type TransactionClass = new (...args: unknown[]) => TransactionBase;

/** The parts of a better-sqlite3 Database and Statement this file uses. */
interface SqliteStatement {
  readonly reader: boolean;
  all(bindings: unknown[]): unknown[];
  run(bindings: unknown[]): { changes: number; lastInsertRowid: number | bigint };
}
interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
}
interface QueryObject {
  sql?: string;
  bindings?: unknown[];
  options?: unknown;
  response?: unknown;
  context?: { lastID: number | bigint; changes: number };
}
interface BetterSqlite3ClientBase {
  _query(connection: SqliteConnection, obj: QueryObject): Promise<QueryObject>;
  _formatBindings(bindings: unknown[] | undefined): unknown[];
  _optSafeIntegers(options: unknown): boolean | undefined;
}
type ClientClass = new (config: Knex.Config) => BetterSqlite3ClientBase;

const BetterSqlite3Client = require('knex/lib/dialects/better-sqlite3') as ClientClass;
const SqliteTransaction = require('knex/lib/dialects/sqlite3/execution/sqlite-transaction') as TransactionClass;

class ImmediateTransaction extends SqliteTransaction {
  begin(conn: unknown): Promise<unknown> {
    return this.query(conn, 'BEGIN IMMEDIATE;');
  }
}

/** Statements worth keeping: the repositories' queries. DDL, PRAGMA and transaction control are not. */
const REUSABLE = /^\s*(select|insert|update|delete|with|replace)\b/i;
/** After these the schema may differ: every kept statement of the connection is dropped. */
const SCHEMA_CHANGE = /^\s*(create|alter|drop)\b/i;
/** Distinct SQL texts kept per connection (the repositories issue a few hundred at most). */
const MAX_STATEMENTS = 500;

/**
 * Prepared statements of one connection, by SQL text, least recently used evicted first. A
 * better-sqlite3 statement runs synchronously to completion (all/run), so one statement object
 * is never in use twice at once; SQLite re-prepares a kept statement itself if the schema changed
 * underneath (another process migrating), and this process's own DDL clears the cache.
 */
class StatementCache {
  readonly #statements = new Map<string, SqliteStatement>();
  constructor(private readonly connection: SqliteConnection) {}

  get(sql: string): SqliteStatement {
    let statement = this.#statements.get(sql);
    if (statement) {
      this.#statements.delete(sql);
    } else {
      statement = this.connection.prepare(sql);
      if (this.#statements.size >= MAX_STATEMENTS) this.#statements.delete(this.#statements.keys().next().value as string);
    }
    this.#statements.set(sql, statement);
    return statement;
  }

  clear(): void {
    this.#statements.clear();
  }

  get size(): number {
    return this.#statements.size;
  }
}

const caches = new WeakMap<object, StatementCache>();

function cacheOf(connection: SqliteConnection): StatementCache {
  let cache = caches.get(connection);
  if (!cache) {
    cache = new StatementCache(connection);
    caches.set(connection, cache);
  }
  return cache;
}

/** How many statements a connection keeps prepared (for tests). */
export function preparedStatementCount(connection: object): number {
  return caches.get(connection)?.size ?? 0;
}

export class ImmediateSqliteClient extends BetterSqlite3Client {
  transaction(...args: unknown[]): TransactionBase {
    return new ImmediateTransaction(this, ...args);
  }

  /** knex's `_query`, with the prepared statement taken from the connection's cache when it may be. */
  override async _query(connection: SqliteConnection, obj: QueryObject): Promise<QueryObject> {
    const sql = obj.sql;
    // A statement with its own safeIntegers setting would change the kept statement for everyone.
    if (!sql || !connection || !REUSABLE.test(sql) || this._optSafeIntegers(obj.options) !== undefined) {
      if (sql && connection && SCHEMA_CHANGE.test(sql)) cacheOf(connection).clear();
      return super._query(connection, obj);
    }
    const statement = cacheOf(connection).get(sql);
    const bindings = this._formatBindings(obj.bindings);
    if (statement.reader) {
      obj.response = statement.all(bindings);
      return obj;
    }
    const response = statement.run(bindings);
    obj.response = response;
    obj.context = { lastID: response.lastInsertRowid, changes: response.changes };
    return obj;
  }
}
