import type { Knex } from 'knex';
import { isUniqueViolation } from './translate-db-error';

/**
 * Inserts a row unless one with the same unique key exists; true when it inserted.
 * The insert runs in a savepoint because on postgres a failed statement otherwise poisons the
 * surrounding transaction. (knex has no onConflict for mssql, so this is the portable form.)
 */
export async function insertIfAbsent(db: Knex, table: string, row: Record<string, unknown>): Promise<boolean> {
  try {
    await db.transaction(async (t) => {
      await t(table).insert(row);
    });
    return true;
  } catch (e) {
    if (isUniqueViolation(e)) return false;
    throw e;
  }
}

/**
 * Update-else-insert on a key. A concurrent writer that inserts between our update and insert
 * makes the insert hit the unique key; we then update the row it created.
 */
export async function upsertRow(
  db: Knex,
  table: string,
  key: Record<string, unknown>,
  insert: Record<string, unknown>,
  update: Record<string, unknown>,
): Promise<void> {
  await db.transaction(async (t) => {
    if ((await t(table).where(key).update(update)) > 0) return;
    if (await insertIfAbsent(t, table, insert)) return;
    await t(table).where(key).update(update);
  });
}
