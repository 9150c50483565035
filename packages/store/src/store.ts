import fs from 'node:fs';
import path from 'node:path';
import { knex as createKnex, type Knex } from 'knex';
import { RmsError, isRmsError } from '@openrms/domain';
import { MIGRATIONS, MIGRATIONS_TABLE, migrationSource } from './migration-source';
import { parseDatabaseUrl, type DatabaseConfig, type Dialect } from './parse-database-url';
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

export interface OpenStoreOptions {
  /** Apply pending migrations before returning (default false: migrating is an explicit step). */
  migrate?: boolean;
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
  }

  /** @internal use openStore */
  static fromConfig(config: DatabaseConfig): Store {
    if (config.sqliteFile !== undefined) fs.mkdirSync(path.dirname(config.sqliteFile), { recursive: true });
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

  /** Applies pending migrations; returns the names it applied (empty when up to date). */
  async migrate(): Promise<string[]> {
    this.assertRoot('migrate');
    const [, applied] = (await this.db.migrate.latest(MIGRATOR_CONFIG)) as [number, string[]];
    return applied;
  }

  /** How many of this code's migrations the database has applied; equals SCHEMA_VERSION when current. */
  async schemaVersion(): Promise<number> {
    // Read the table directly: knex's migrate.list() would create it as a side effect.
    if (!(await this.db.schema.hasTable(MIGRATIONS_TABLE))) return 0;
    const rows: { name: string }[] = await this.db(MIGRATIONS_TABLE).select('name');
    const done = new Set(rows.map((r) => r.name));
    return MIGRATIONS.filter((m) => done.has(m.name)).length;
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

/** Opens the database named by `url` (see parseDatabaseUrl) and checks that it answers. */
export async function openStore(url: string, opts: OpenStoreOptions = {}): Promise<Store> {
  const config = parseDatabaseUrl(url);
  let store: Store;
  try {
    store = Store.fromConfig(config);
  } catch (e) {
    throw new RmsError('Unavailable', `cannot open database ${config.display}: ${errorMessage(e)}`, { cause: e });
  }
  try {
    await store.ping();
    if (opts.migrate) await store.migrate();
    return store;
  } catch (e) {
    await store.close().catch(() => undefined);
    if (isRmsError(e)) throw e;
    throw new RmsError('Unavailable', `cannot prepare database ${config.display}: ${errorMessage(e)}`, { cause: e });
  }
}
