import type { Knex } from 'knex';

/*
 * knex's own better-sqlite3 client, changed in one respect: transactions start with
 * BEGIN IMMEDIATE instead of BEGIN. Several server processes share one SQLite file; a deferred
 * transaction that reads and then writes fails at once with SQLITE_BUSY when another process
 * wrote in between (the busy timeout is not consulted for that case), whereas an immediate one
 * takes the write lock up front and so waits its turn under busy_timeout.
 * knex publishes no typings for its dialect classes, hence the require and the narrow shapes;
 * the sqlite test that runs several writer processes fails if this stops working after an upgrade.
 */

interface TransactionBase {
  query(conn: unknown, sql: string): Promise<unknown>;
}
type TransactionClass = new (...args: unknown[]) => TransactionBase;
type ClientClass = new (config: Knex.Config) => object;

const BetterSqlite3Client = require('knex/lib/dialects/better-sqlite3') as ClientClass;
const SqliteTransaction = require('knex/lib/dialects/sqlite3/execution/sqlite-transaction') as TransactionClass;

class ImmediateTransaction extends SqliteTransaction {
  begin(conn: unknown): Promise<unknown> {
    return this.query(conn, 'BEGIN IMMEDIATE;');
  }
}

export class ImmediateSqliteClient extends BetterSqlite3Client {
  transaction(...args: unknown[]): TransactionBase {
    return new ImmediateTransaction(this, ...args);
  }
}
