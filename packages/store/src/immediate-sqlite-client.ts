import type { Knex } from 'knex';

/*
 * knex's own better-sqlite3 client, changed in two respects:
 * - transactions start with BEGIN IMMEDIATE instead of BEGIN. Several server processes share one
 *   SQLite file; a deferred transaction that reads and then writes fails at once with SQLITE_BUSY
 *   when another process wrote in between (the busy timeout is not consulted for that case),
 *   whereas an immediate one takes the write lock up front and so waits its turn. It waits without
 *   blocking the event loop (see waitForTheLock), and so does a write outside a transaction:
 *   SQLite's own busy handler sleeps in the calling thread, which froze a whole worker process for
 *   as long as another process held the lock;
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
  readonly inTransaction: boolean;
  prepare(sql: string): SqliteStatement;
  exec(sql: string): unknown;
  pragma(source: string, options?: { simple: boolean }): unknown;
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
  async begin(conn: unknown): Promise<unknown> {
    await beginImmediate(conn as SqliteConnection);
    return undefined;
  }
}

const isBusy = (e: unknown) => typeof (e as { code?: unknown })?.code === 'string' && (e as { code: string }).code.startsWith('SQLITE_BUSY');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The longest pause between two attempts at the write lock. */
const MAX_LOCK_RETRY_MS = 8;

/**
 * Runs `attempt` (something that needs the write lock: BEGIN IMMEDIATE, or a write outside a
 * transaction) so that waiting for another process's lock happens on the timer, not in SQLite's
 * busy handler: with the connection's busy timeout at 0 an attempt fails at once with SQLITE_BUSY
 * while the lock is held and is tried again after a short pause (1, 2, 4, 8, 8, … ms) until the
 * connection's own busy timeout has passed, when the last SQLITE_BUSY is thrown as before. A
 * statement that failed with SQLITE_BUSY changed nothing, so trying it again is safe. Meanwhile
 * this process keeps serving (its other queries wait for the pool's one connection, as they would
 * behind any query). The busy handler instead sleeps in the calling thread with growing pauses
 * (up to 100 ms each), the whole event loop standing still, and, polling with long pauses against
 * a process that writes often, could lose the race for hundreds of milliseconds. The busy timeout
 * is set with `pragma()` each time: SQLite applies a PRAGMA setter when it is prepared, so a kept
 * prepared one would not set it again.
 */
async function waitForTheLock<T>(conn: SqliteConnection, attempt: () => T): Promise<T> {
  const timeoutMs = Number(conn.pragma('busy_timeout', { simple: true })) || 0;
  const deadline = performance.now() + timeoutMs;
  conn.pragma('busy_timeout = 0');
  try {
    for (let pause = 1; ; pause = Math.min(pause * 2, MAX_LOCK_RETRY_MS)) {
      try {
        return attempt();
      } catch (e) {
        if (!isBusy(e) || performance.now() >= deadline) throw e;
      }
      await sleep(pause);
    }
  } finally {
    conn.pragma(`busy_timeout = ${timeoutMs}`);
  }
}

/** `BEGIN IMMEDIATE`, waiting for another process's write lock without blocking the event loop. */
export async function beginImmediate(conn: SqliteConnection): Promise<void> {
  await waitForTheLock(conn, () => conn.exec('BEGIN IMMEDIATE'));
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
    // Outside a transaction a write takes the lock itself; inside one, BEGIN IMMEDIATE already has it.
    const response = connection.inTransaction ? statement.run(bindings) : await waitForTheLock(connection, () => statement.run(bindings));
    obj.response = response;
    obj.context = { lastID: response.lastInsertRowid, changes: response.changes };
    return obj;
  }
}
