import { type Clock, systemClock } from '@openrms/domain';
import { backupSqliteDatabase, type DatabaseSummary, openStore, restoreSqliteDatabase } from '@openrms/store';

/**
 * `rmsctl backup`: a consistent SQLite snapshot (see @openrms/store sqlite-backup.ts), audited in
 * the source database as `database.backup`. PostgreSQL and SQL Server are refused with a pointer
 * to their own tools (docs/operations.md).
 */
export async function backupConfigurationDatabase(input: { databaseUrl: string; outFile: string; force?: boolean; actor?: string; clock?: Clock }): Promise<DatabaseSummary & { file: string }> {
  const clock = input.clock ?? systemClock;
  const result = await backupSqliteDatabase(input.databaseUrl, input.outFile, { force: input.force ?? false });
  const store = await openStore(input.databaseUrl, { anySchemaVersion: true });
  try {
    await store.audit.append({ at: clock.now(), actor: input.actor ?? 'rmsctl', action: 'database.backup', target: result.clusterId, after: { file: result.file, bytes: result.bytes, schemaVersion: result.schemaVersion } });
  } finally {
    await store.close();
  }
  return result;
}

/**
 * `rmsctl restore`: replaces a SQLite configuration database with a checked backup, then records
 * `database.restore` in the restored database (its own log would otherwise end at the backup).
 */
export async function restoreConfigurationDatabase(input: {
  inFile: string;
  databaseUrl: string;
  force?: boolean;
  actor?: string;
  clock?: Clock;
}): Promise<DatabaseSummary & { file: string; replaced: boolean }> {
  const clock = input.clock ?? systemClock;
  const result = await restoreSqliteDatabase(input.inFile, input.databaseUrl, { force: input.force ?? false, now: clock.now() });
  const store = await openStore(input.databaseUrl, { anySchemaVersion: true });
  try {
    await store.audit.append({ at: clock.now(), actor: input.actor ?? 'rmsctl', action: 'database.restore', target: result.clusterId, after: { from: input.inFile, replaced: result.replaced, schemaVersion: result.schemaVersion } });
  } finally {
    await store.close();
  }
  return result;
}
