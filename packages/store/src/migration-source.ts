import type { Knex } from 'knex';
import type { Migration } from './migrations/migration';
import { initialSchema } from './migrations/initial-schema';
import { templatesSchema } from './migrations/templates-schema';
import { directoryLinksSchema } from './migrations/directory-links-schema';
import { revocationsSchema } from './migrations/revocations-schema';

/** Every migration, oldest first. Append only. */
export const MIGRATIONS: readonly Migration[] = [initialSchema, templatesSchema, directoryLinksSchema, revocationsSchema];

/** The schema version this code expects: the number of migrations it knows. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** The names of this code's migrations, oldest first, as `rmsctl migrate` prints them. */
export const MIGRATION_NAMES: readonly string[] = MIGRATIONS.map((m) => m.name);

export const MIGRATIONS_TABLE = 'openrms_migrations';

export const migrationSource: Knex.MigrationSource<Migration> = {
  getMigrations: async () => [...MIGRATIONS],
  getMigrationName: (m) => m.name,
  getMigration: async (m) => ({ up: (knex: Knex) => m.up(knex), down: (knex: Knex) => m.down(knex) }),
};
