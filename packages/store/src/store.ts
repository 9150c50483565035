import fs from 'node:fs';
import path from 'node:path';
import { knex as createKnex, type Knex } from 'knex';
import { RmsError, isRmsError } from '@openrms/domain';
import { MIGRATIONS, MIGRATIONS_TABLE, migrationSource, SCHEMA_VERSION } from './migration-source';
import { parseDatabaseUrl, SQLITE_BUSY_TIMEOUT_MS, type DatabaseConfig, type Dialect } from './parse-database-url';
import { AuditRepository } from './repositories/audit-repository';
import { ClustersRepository } from './repositories/clusters-repository';
import { DaclRepository } from './repositories/dacl-repository';
import { IssuedRepository } from './repositories/issued-repository';
import { KeysRepository } from './repositories/keys-repository';
import { PrincipalsRepository } from './repositories/principals-repository';
import { RequestLogRepository } from './repositories/request-log-repository';
import { ServersRepository } from './repositories/servers-repository';
import { SettingsRepository } from './repositories/settings-repository';
import { SlcChainsRepository } from './repositories/slc-chains-repository';
import { UserKeysRepository } from './repositories/user-keys-repository';
import { TemplatesRepository } from './repositories/templates-repository';
import { DirectoryLinksRepository } from './repositories/directory-links-repository';
import { RevocationsRepository } from './repositories/revocations-repository';

export interface OpenStoreOptions {
  /**
   * Apply pending migrations before returning; implies `create`. For provisioning, which makes
   * a new database; an existing one is upgraded with `rmsctl migrate` (default false).
   */
  migrate?: boolean;
  /**
   * May the database be missing or empty? With true a missing SQLite file (and its folder) is
   * created and no check is made of what the database holds. With false, the default for every
   * command but provisioning, a missing database is NotFound and one that is not OpenRMS's, or
   * whose schema is not this code's (see `anySchemaVersion`), is NotProvisioned; nothing is created.
   */
  create?: boolean;
  /** Accept an OpenRMS database whose schema is older or newer than this code: for `rmsctl migrate`. */
  anySchemaVersion?: boolean;
}

/** The migrations a database has applied, compared with the ones this code knows. */
export interface SchemaStatus {
  /** SCHEMA_VERSION: how many migrations this code knows. */
  codeVersion: number;
  /** Names recorded in the database, in the order they were applied. */
  applied: string[];
  /** This code's migrations the database has not applied, in the order they would run. */
  pending: string[];
  /** Migrations the database has applied that this code does not know: a newer OpenRMS wrote them. */
  unknown: string[];
}

const MIGRATOR_CONFIG: Knex.MigratorConfig = {
  migrationSource,
  tableName: MIGRATIONS_TABLE,
};

/**
 * knex would print to the console. Its errors, and its warnings about failed connection
 * attempts, also reach our callers as thrown errors, so they are dropped here; other warnings go
 * through Node's warning channel, which the apps route to their log.
 */
const KNEX_LOG: Knex.Config['log'] = {
  warn: (message: unknown) => {
    const text = String(message);
    if (!text.startsWith('Acquire connection error')) process.emitWarning(text, 'KnexWarning');
  },
  deprecate: (method: string, alternative: string) =>
    process.emitWarning(`${method} is deprecated, use ${alternative}`, 'DeprecationWarning'),
  error: () => undefined,
  debug: () => undefined,
};

/**
 * The configuration database: repositories as properties, all bound to one connection pool or,
 * inside `transaction`, to one transaction.
 */
export class Store {
  readonly clusters: ClustersRepository;
  readonly servers: ServersRepository;
  readonly keys: KeysRepository;
  readonly slcChains: SlcChainsRepository;
  readonly issued: IssuedRepository;
  readonly principals: PrincipalsRepository;
  readonly dacl: DaclRepository;
  readonly audit: AuditRepository;
  readonly requestLog: RequestLogRepository;
  readonly settings: SettingsRepository;
  readonly userKeys: UserKeysRepository;
  readonly templates: TemplatesRepository;
  readonly directoryLinks: DirectoryLinksRepository;
  readonly revocations: RevocationsRepository;

  private constructor(
    private readonly db: Knex,
    readonly dialect: Dialect,
    /** The URL without its password, for logs. */
    readonly displayUrl: string,
  ) {
    this.clusters = new ClustersRepository(db);
    this.servers = new ServersRepository(db);
    this.keys = new KeysRepository(db);
    this.slcChains = new SlcChainsRepository(db);
    this.issued = new IssuedRepository(db);
    this.principals = new PrincipalsRepository(db, dialect);
    this.dacl = new DaclRepository(db);
    this.audit = new AuditRepository(db);
    this.requestLog = new RequestLogRepository(db);
    this.settings = new SettingsRepository(db);
    this.userKeys = new UserKeysRepository(db);
    this.templates = new TemplatesRepository(db);
    this.directoryLinks = new DirectoryLinksRepository(db);
    this.revocations = new RevocationsRepository(db);
  }

  /** @internal use openStore */
  static fromConfig(config: DatabaseConfig, create = true): Store {
    if (config.sqliteFile !== undefined && create) fs.mkdirSync(path.dirname(config.sqliteFile), { recursive: true });
    return new Store(createKnex({ ...config.knex, log: KNEX_LOG }), config.dialect, config.display);
  }

  get inTransaction(): boolean {
    return this.db.isTransaction === true;
  }

  /**
   * Runs `fn` with a Store bound to one transaction: committed when `fn` resolves, rolled back
   * when it throws. Nested calls use savepoints. On SQLite the pool has one connection, so
   * inside `fn` use only `tx`, never the outer store.
   */
  async transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    return this.db.transaction((trx) => fn(new Store(trx, this.dialect, this.displayUrl)));
  }

  /**
   * Applies pending migrations; returns the names it applied (empty when up to date). A database
   * a newer OpenRMS has migrated is refused (NotProvisioned) unchanged.
   */
  async migrate(): Promise<string[]> {
    this.assertRoot('migrate');
    this.assertNotNewer(await this.schemaStatus());
    const [, applied] = (await this.db.migrate.latest(MIGRATOR_CONFIG)) as [number, string[]];
    return applied;
  }

  /**
   * Brings the schema to exactly this code's migrations up to and including `name`, applying or
   * undoing one at a time; returns the names applied or undone. For tests and tools that need the
   * schema of an earlier release; the apps never call it.
   */
  async migrateTo(name: string): Promise<string[]> {
    this.assertRoot('migrate');
    const target = MIGRATIONS.findIndex((m) => m.name === name);
    if (target < 0) throw new RmsError('InvalidInput', `unknown migration ${name}`);
    this.assertNotNewer(await this.schemaStatus());
    const wanted = new Set(MIGRATIONS.slice(0, target + 1).map((m) => m.name));
    const changed: string[] = [];
    for (;;) {
      const status = await this.schemaStatus();
      const last = status.applied[status.applied.length - 1];
      if (last !== undefined && !wanted.has(last)) {
        await this.db.migrate.down({ ...MIGRATOR_CONFIG, name: last });
        changed.push(last);
      } else if (status.pending.some((p) => wanted.has(p))) {
        const [, ran] = (await this.db.migrate.up(MIGRATOR_CONFIG)) as [number, string[]];
        changed.push(...ran);
      } else {
        return changed;
      }
    }
  }

  /** How many of this code's migrations the database has applied; equals SCHEMA_VERSION when current. */
  async schemaVersion(): Promise<number> {
    const { applied } = await this.schemaStatus();
    const done = new Set(applied);
    return MIGRATIONS.filter((m) => done.has(m.name)).length;
  }

  /** What the database has applied against what this code knows; changes nothing. */
  async schemaStatus(): Promise<SchemaStatus> {
    // Read the table directly: knex's migrate.list() would create it as a side effect.
    const applied: string[] = (await this.db.schema.hasTable(MIGRATIONS_TABLE))
      ? ((await this.db(MIGRATIONS_TABLE).select('name').orderBy('id')) as { name: string }[]).map((r) => r.name)
      : [];
    const done = new Set(applied);
    const known = new Set(MIGRATIONS.map((m) => m.name));
    return {
      codeVersion: SCHEMA_VERSION,
      applied,
      pending: MIGRATIONS.filter((m) => !done.has(m.name)).map((m) => m.name),
      unknown: applied.filter((n) => !known.has(n)),
    };
  }

  /**
   * Refuses (NotProvisioned) a database that holds no OpenRMS schema or, unless `anyVersion`,
   * one whose schema is older or newer than this code's; the message says what to run.
   */
  async assertSchema(anyVersion = false): Promise<SchemaStatus> {
    const status = await this.schemaStatus();
    if (status.applied.length === 0) {
      throw new RmsError(
        'NotProvisioned',
        `${this.displayUrl} is not an OpenRMS configuration database (it has no OpenRMS tables); check --database, or create a cluster in it with \`rmsctl provision root\` or \`rmsctl provision licensing\``,
      );
    }
    this.assertNotNewer(status);
    if (!anyVersion && status.pending.length > 0) {
      throw new RmsError(
        'NotProvisioned',
        `the configuration database ${this.displayUrl} has schema version ${status.codeVersion - status.pending.length} and this OpenRMS needs ${status.codeVersion} ` +
          `(pending migrations: ${status.pending.join(', ')}); stop every member and worker, back the database up, then run: rmsctl migrate --database ${this.displayUrl}`,
      );
    }
    return status;
  }

  private assertNotNewer(status: SchemaStatus): void {
    if (status.unknown.length === 0) return;
    throw new RmsError(
      'NotProvisioned',
      `the configuration database ${this.displayUrl} was migrated by a newer OpenRMS: it has migrations this version (schema version ${status.codeVersion}) does not know (${status.unknown.join(', ')}); ` +
        'run the newer OpenRMS, or restore the backup taken before the upgrade; nothing was changed',
    );
  }

  /** A cheap round trip for readiness probes; throws Unavailable when the database does not answer. */
  async ping(): Promise<void> {
    try {
      await this.db.raw('select 1 as ok');
    } catch (e) {
      throw new RmsError('Unavailable', `database ${this.displayUrl} is not answering: ${errorMessage(e)}`, { cause: e });
    }
  }

  async close(): Promise<void> {
    this.assertRoot('close');
    await this.db.destroy();
  }

  private assertRoot(what: string): void {
    if (this.inTransaction) throw new RmsError('InvalidOperation', `cannot ${what} from inside a transaction`);
  }
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The driver's "this database does not exist" (postgres 3D000, SQL Server 4060), or SQLite's "not a database". */
function missingOrForeign(e: unknown): 'missing' | 'not-sqlite' | undefined {
  for (let c: unknown = e, depth = 0; c !== null && typeof c === 'object' && depth < 4; c = (c as { cause?: unknown }).cause, depth++) {
    const err = c as { code?: unknown; number?: unknown; originalError?: { number?: unknown; info?: { number?: unknown } } };
    if (err.code === '3D000') return 'missing';
    if (err.code === 'SQLITE_NOTADB') return 'not-sqlite';
    const n = err.number ?? err.originalError?.number ?? err.originalError?.info?.number;
    if (n === 4060) return 'missing';
  }
  return undefined;
}

/**
 * Opens the database named by `url` (see parseDatabaseUrl) and checks that it answers. Unless
 * `create` or `migrate` is given, it must already exist and hold this code's OpenRMS schema, and
 * nothing is created when it does not (see OpenStoreOptions).
 */
export async function openStore(url: string, opts: OpenStoreOptions = {}): Promise<Store> {
  const config = parseDatabaseUrl(url);
  const create = opts.create === true || opts.migrate === true;
  if (!create && config.sqliteFile !== undefined) {
    // Checked before the driver runs: better-sqlite3 would create the file.
    if (!fs.existsSync(config.sqliteFile)) throw new RmsError('NotFound', notFoundMessage(config));
    // A read-only look first: the pool's WAL pragma would rewrite the header of a file that is not ours.
    await (await openChecked(readOnlySqlite(config, config.sqliteFile), opts, false)).close();
  }
  return openChecked(config, opts, create);
}

async function openChecked(config: DatabaseConfig, opts: OpenStoreOptions, create: boolean): Promise<Store> {
  let store: Store;
  try {
    store = Store.fromConfig(config, create);
  } catch (e) {
    throw new RmsError('Unavailable', `cannot open database ${config.display}: ${errorMessage(e)}`, { cause: e });
  }
  try {
    await store.ping();
    if (opts.migrate) await store.migrate();
    else if (!create) await store.assertSchema(opts.anySchemaVersion === true);
    return store;
  } catch (e) {
    await store.close().catch(() => undefined);
    const kind = missingOrForeign(e);
    if (kind === 'missing') throw new RmsError('NotFound', notFoundMessage(config));
    if (kind === 'not-sqlite') {
      throw new RmsError('NotProvisioned', `${config.display} is not an OpenRMS configuration database (the file is not a SQLite database); check --database`);
    }
    if (isRmsError(e)) throw e;
    throw new RmsError('Unavailable', `cannot prepare database ${config.display}: ${errorMessage(e)}`, { cause: e });
  }
}

interface PragmaConnection {
  pragma(source: string): unknown;
}

function readOnlySqlite(config: DatabaseConfig, filename: string): DatabaseConfig {
  return {
    ...config,
    knex: {
      ...config.knex,
      connection: { filename, options: { readonly: true } },
      pool: {
        min: 0,
        max: 1,
        afterCreate(conn: PragmaConnection, done: (err: Error | null, conn: PragmaConnection) => void) {
          try {
            conn.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
            done(null, conn);
          } catch (e) {
            done(e as Error, conn);
          }
        },
      },
    },
  };
}

function notFoundMessage(config: DatabaseConfig): string {
  return config.sqliteFile !== undefined
    ? `no configuration database at ${config.display}: the file does not exist; check --database (only \`rmsctl provision root\` or \`rmsctl provision licensing\` create one)`
    : `no configuration database at ${config.display}: the database does not exist; check --database, or create it with the database's own tools and then provision it`;
}
