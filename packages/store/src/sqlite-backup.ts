import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { knex as createKnex, type Knex } from 'knex';
import { RmsError } from '@openrms/domain';
import { MIGRATIONS, MIGRATIONS_TABLE } from './migration-source';
import { parseDatabaseUrl } from './parse-database-url';

/** Where operators are sent for the databases this code does not copy itself. */
export const BACKUP_DOCS = 'docs/operations.md, "Backup and disaster recovery"';

/** A member that beat this recently is taken to be running: replacing its database under it would corrupt it. */
const LIVE_HEARTBEAT_MS = 30_000;

export interface DatabaseSummary {
  clusterId: string;
  clusterKind: string;
  clusterName: string;
  clusterUrl: string;
  /** Migrations applied (SCHEMA_VERSION when current). */
  schemaVersion: number;
  bytes: number;
}

function sqliteFileOf(url: string, what: string): string {
  const config = parseDatabaseUrl(url);
  if (config.dialect !== 'sqlite') {
    const tool = config.dialect === 'postgres' ? 'pg_dump / pg_restore' : 'BACKUP DATABASE / RESTORE DATABASE';
    throw new RmsError('InvalidInput', `rmsctl ${what} copies SQLite databases only; for ${config.dialect} use ${tool} on the whole configuration database (${BACKUP_DOCS})`);
  }
  if (config.sqliteFile === undefined) throw new RmsError('InvalidInput', `an in-memory database cannot be ${what === 'backup' ? 'backed up' : 'restored'}`);
  return config.sqliteFile;
}

/** One connection to a SQLite file, outside any Store (the file may not be a configuration database). */
function openFile(file: string): Knex {
  return createKnex({ ...parseDatabaseUrl(`sqlite:${file}`).knex, pool: { min: 1, max: 1 }, log: { warn() {}, error() {}, deprecate() {}, debug() {} } });
}

function fsyncPath(p: string, flags = 'r'): void {
  const fd = fs.openSync(p, flags);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function tempBeside(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
}

function removeQuietly(...files: string[]): void {
  for (const f of files) fs.rmSync(f, { force: true });
}

/**
 * Checks that `file` is an OpenRMS configuration database this code can run: it passes SQLite's
 * quick_check, its migrations are ours and not newer than this code, it holds a cluster with an
 * active cluster key and SLC chain. Throws InvalidInput naming what is wrong.
 */
async function inspectConfigurationDatabase(db: Knex, file: string): Promise<DatabaseSummary> {
  const bad = (why: string): never => {
    throw new RmsError('InvalidInput', `${file} is not a usable OpenRMS configuration database: ${why}`);
  };
  let check: { quick_check?: string }[];
  try {
    check = (await db.raw('PRAGMA quick_check')) as { quick_check?: string }[];
  } catch (e) {
    return bad(`SQLite cannot read it (${(e as Error).message})`);
  }
  if (check[0]?.quick_check !== 'ok') bad(`SQLite's integrity check fails (${String(check[0]?.quick_check)})`);
  if (!(await db.schema.hasTable(MIGRATIONS_TABLE))) bad('it has no OpenRMS schema');
  const applied = ((await db(MIGRATIONS_TABLE).select('name')) as { name: string }[]).map((r) => r.name);
  const known = new Set(MIGRATIONS.map((m) => m.name));
  const unknown = applied.filter((n) => !known.has(n));
  if (unknown.length) bad(`it was made by a newer OpenRMS (unknown migrations ${unknown.join(', ')})`);
  const cluster = (await db('clusters').select('*').orderBy('created_at').first()) as Record<string, unknown> | undefined;
  if (!cluster) bad('it holds no cluster');
  const id = String(cluster!.id);
  if (!(await db('keys').where({ cluster_id: id, purpose: 'cluster', active: true }).first())) bad('it holds no active cluster key');
  if (!(await db('slc_chains').where({ cluster_id: id, active: true }).first())) bad('it holds no active SLC chain');
  return {
    clusterId: id,
    clusterKind: String(cluster!.kind),
    clusterName: String(cluster!.name),
    clusterUrl: String(cluster!.url),
    schemaVersion: applied.length,
    bytes: fs.statSync(file).size,
  };
}

/**
 * `rmsctl backup`: a consistent snapshot of a SQLite configuration database (VACUUM INTO, which
 * reads inside one transaction while members keep serving), written beside `outFile` with mode
 * 0600, checked, fsynced and renamed into place, so `outFile` is either absent or a whole backup.
 * PostgreSQL and SQL Server are refused with a pointer to their own tools.
 */
export async function backupSqliteDatabase(url: string, outFile: string, opts: { force?: boolean } = {}): Promise<DatabaseSummary & { file: string }> {
  const source = sqliteFileOf(url, 'backup');
  const out = path.resolve(outFile);
  if (!fs.existsSync(source)) throw new RmsError('NotFound', `no database at ${source}`);
  if (out === source) throw new RmsError('InvalidInput', 'the backup file cannot be the database itself');
  if (fs.existsSync(out) && !opts.force) throw new RmsError('AlreadyExists', `${out} exists; pass --force to replace it`);
  const tmp = tempBeside(out);
  // Created empty and private first: VACUUM INTO accepts an empty file and keeps its mode.
  fs.closeSync(fs.openSync(tmp, 'wx', 0o600));
  try {
    const db = openFile(source);
    try {
      await inspectConfigurationDatabase(db, source);
      await db.raw('VACUUM INTO ?', [tmp]);
    } finally {
      await db.destroy();
    }
    const snapshot = openFile(tmp);
    let summary: DatabaseSummary;
    try {
      summary = await inspectConfigurationDatabase(snapshot, tmp);
    } finally {
      await snapshot.destroy();
    }
    removeQuietly(`${tmp}-wal`, `${tmp}-shm`);
    fs.chmodSync(tmp, 0o600);
    fsyncPath(tmp, 'r+');
    fs.renameSync(tmp, out);
    fsyncPath(path.dirname(out));
    return { ...summary, bytes: fs.statSync(out).size, file: out };
  } catch (e) {
    removeQuietly(tmp, `${tmp}-wal`, `${tmp}-shm`);
    throw e;
  }
}

/**
 * `rmsctl restore`: checks that `inFile` is a configuration database (see inspect above) on a
 * private copy beside the target, then renames the copy over the target. An existing target is
 * replaced only with `force`, and never while a member still heartbeats into it.
 */
export async function restoreSqliteDatabase(inFile: string, url: string, opts: { force?: boolean; now?: Date } = {}): Promise<DatabaseSummary & { file: string; replaced: boolean }> {
  const target = sqliteFileOf(url, 'restore');
  const from = path.resolve(inFile);
  if (!fs.existsSync(from)) throw new RmsError('NotFound', `no backup at ${from}`);
  if (from === target) throw new RmsError('InvalidInput', 'the backup file cannot be the database itself');
  const replaced = fs.existsSync(target);
  if (replaced) {
    if (!opts.force) throw new RmsError('AlreadyExists', `${target} exists; stop every member of the cluster and pass --force to replace it`);
    await refuseLiveMembers(target, opts.now ?? new Date());
  }
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = tempBeside(target);
  try {
    await pipeline(fs.createReadStream(from), fs.createWriteStream(tmp, { flags: 'wx', mode: 0o600 }));
    const db = openFile(tmp);
    let summary: DatabaseSummary;
    try {
      summary = await inspectConfigurationDatabase(db, from);
    } finally {
      await db.destroy();
    }
    removeQuietly(`${tmp}-wal`, `${tmp}-shm`);
    fsyncPath(tmp, 'r+');
    // A WAL left by the old database would be replayed into the restored one.
    removeQuietly(`${target}-wal`, `${target}-shm`, `${target}-journal`);
    fs.renameSync(tmp, target);
    fsyncPath(path.dirname(target));
    return { ...summary, bytes: fs.statSync(target).size, file: target, replaced };
  } catch (e) {
    removeQuietly(tmp, `${tmp}-wal`, `${tmp}-shm`);
    throw e;
  }
}

async function refuseLiveMembers(target: string, now: Date): Promise<void> {
  let last: string | undefined;
  const db = openFile(target);
  try {
    if (await db.schema.hasTable('servers')) {
      const row = (await db('servers').max({ at: 'last_heartbeat_at' }).first()) as { at?: string | null } | undefined;
      last = row?.at ?? undefined;
    }
  } catch {
    // A damaged database (the usual reason to restore) has no members to ask.
  } finally {
    await db.destroy().catch(() => undefined);
  }
  if (last && now.getTime() - Date.parse(last) < LIVE_HEARTBEAT_MS) {
    throw new RmsError('Unavailable', `a member still heartbeats into ${target} (last at ${last}); stop every member before restoring`);
  }
}
