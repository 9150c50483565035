import { type Clock, systemClock } from '@openrms/domain';
import { openStore, type SchemaStatus } from '@openrms/store';

export interface MigrateSchemaResult {
  /** The database URL without its password. */
  database: string;
  /** The status before anything ran. */
  before: SchemaStatus;
  /** The migrations applied now, oldest first; empty on a dry run or when the schema was current. */
  ran: string[];
  dryRun: boolean;
  /** The cluster the database holds, when it holds one (the migration is audited there). */
  clusterId?: string;
}

/**
 * `rmsctl migrate`: brings an OpenRMS configuration database to this code's schema. A database
 * that is missing, not OpenRMS's, or migrated by a newer OpenRMS is refused unchanged (openStore
 * and Store.migrate); a dry run only reports. What ran is audited when the cluster exists.
 */
export async function migrateSchema(databaseUrl: string, opts: { dryRun?: boolean; actor?: string; clock?: Clock } = {}): Promise<MigrateSchemaResult> {
  const clock = opts.clock ?? systemClock;
  const dryRun = opts.dryRun === true;
  const store = await openStore(databaseUrl, { anySchemaVersion: true });
  try {
    const before = await store.assertSchema(true);
    const ran = dryRun || before.pending.length === 0 ? [] : await store.migrate();
    const cluster = await store.clusters.find();
    if (cluster && ran.length > 0) {
      await store.audit.append({
        at: clock.now(),
        actor: opts.actor ?? 'rmsctl',
        action: 'schema.migrate',
        target: cluster.id,
        before: { schemaVersion: before.codeVersion - before.pending.length },
        after: { schemaVersion: await store.schemaVersion(), applied: ran },
      });
    }
    return { database: store.displayUrl, before, ran, dryRun, ...(cluster ? { clusterId: cluster.id } : {}) };
  } finally {
    await store.close();
  }
}
