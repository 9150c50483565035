import type { Knex } from 'knex';
import { ISO_TIMESTAMP_LENGTH } from '../column-values';
import { dialectOf } from '../dialect-of';
import type { Migration } from './migration';

/** Ids are UUID strings produced by the application; 64 leaves room for braced or prefixed forms. */
const ID = 64;

function timestamp(t: Knex.CreateTableBuilder, name: string): Knex.ColumnBuilder {
  return t.string(name, ISO_TIMESTAMP_LENGTH);
}

/**
 * The DDL as one schema builder, so tests can compile it for any dialect without a connection.
 * Only column types that exist in all three dialects: string (varchar/nvarchar), text
 * (text/nvarchar(max)) for JSON and PEM, boolean (boolean/bit), integer, bigIncrements.
 * SQL Server refuses two cascading paths to one table, so the second reference in
 * memberships.member_id and slc_chains.key_id are NO ACTION; the repositories delete dependants first.
 */
export function initialSchemaDdl(knex: Knex): Knex.SchemaBuilder {
  // Index predicates cannot take bindings; postgres has no integer = boolean operator.
  const activeIsTrue = dialectOf(knex) === 'postgres' ? 'active = true' : 'active = 1';
  return knex.schema
    .createTable('clusters', (t) => {
      t.string('id', ID).primary();
      t.string('kind', 16).notNullable();
      t.string('name', 255).notNullable();
      t.string('url', 1024).notNullable();
      timestamp(t, 'created_at').notNullable();
      t.boolean('decommissioned').notNullable().defaultTo(false);
      t.text('settings').notNullable();
    })
    .createTable('servers', (t) => {
      t.string('id', ID).primary();
      t.string('cluster_id', ID).notNullable().references('id').inTable('clusters').onDelete('CASCADE');
      t.string('name', 255).notNullable();
      t.string('url', 1024).notNullable();
      t.string('service_account', 255).nullable();
      timestamp(t, 'joined_at').notNullable();
      timestamp(t, 'last_heartbeat_at').nullable();
      t.index(['cluster_id']);
    })
    .createTable('keys', (t) => {
      t.string('id', ID).primary();
      t.string('cluster_id', ID).notNullable().references('id').inTable('clusters').onDelete('CASCADE');
      t.string('purpose', 32).notNullable();
      t.text('public_key_pem').notNullable();
      t.text('wrapped_private_key').notNullable();
      timestamp(t, 'created_at').notNullable();
      t.boolean('active').notNullable().defaultTo(false);
      t.index(['cluster_id', 'purpose']);
    })
    .createTable('slc_chains', (t) => {
      t.string('id', ID).primary();
      t.string('cluster_id', ID).notNullable().references('id').inTable('clusters').onDelete('CASCADE');
      t.string('key_id', ID).notNullable().references('id').inTable('keys');
      t.text('chain').notNullable();
      t.string('subject', 512).notNullable();
      t.string('issuer', 512).notNullable();
      timestamp(t, 'valid_from').notNullable();
      timestamp(t, 'valid_until').notNullable();
      timestamp(t, 'created_at').notNullable();
      t.boolean('active').notNullable().defaultTo(false);
      t.index(['cluster_id', 'created_at']);
      t.index(['key_id']);
      // At most one active chain per cluster, enforced by the database even across processes.
      t.unique(['cluster_id'], {
        indexName: 'slc_chains_one_active',
        useConstraint: false,
        predicate: knex.whereRaw(activeIsTrue),
      });
    })
    .createTable('issued', (t) => {
      t.string('id', ID).primary();
      t.string('cluster_id', ID).notNullable().references('id').inTable('clusters').onDelete('CASCADE');
      t.string('kind', 16).notNullable();
      t.string('subject', 512).notNullable();
      t.string('document_guid', ID).notNullable();
      timestamp(t, 'issued_at').notNullable();
      timestamp(t, 'valid_until').notNullable();
      t.boolean('expired').notNullable().defaultTo(false);
      t.string('document_sha256', 128).notNullable();
      t.index(['valid_until']);
      t.index(['cluster_id', 'kind']);
    })
    .createTable('principals', (t) => {
      t.string('id', ID).primary();
      t.string('kind', 8).notNullable();
      t.string('name', 255).notNullable();
      // Lower-cased name: case-insensitive uniqueness that behaves the same in every dialect.
      t.string('name_key', 255).notNullable().unique();
      t.string('email', 320).nullable();
      t.string('display_name', 255).nullable();
      t.text('password_hash').nullable();
      t.boolean('builtin').notNullable().defaultTo(false);
      timestamp(t, 'created_at').notNullable();
      t.boolean('disabled').notNullable().defaultTo(false);
    })
    .createTable('memberships', (t) => {
      t.string('group_id', ID).notNullable().references('id').inTable('principals').onDelete('CASCADE');
      t.string('member_id', ID).notNullable().references('id').inTable('principals');
      t.primary(['group_id', 'member_id']);
      t.index(['member_id']);
    })
    .createTable('dacl_entries', (t) => {
      t.string('id', ID).primary();
      t.string('endpoint', 255).notNullable();
      t.string('principal_id', ID).notNullable().references('id').inTable('principals').onDelete('CASCADE');
      t.string('right', 16).notNullable();
      t.string('effect', 8).notNullable();
      timestamp(t, 'created_at').notNullable();
      t.string('created_by', 255).notNullable();
      t.unique(['endpoint', 'principal_id', 'right', 'effect']);
      t.index(['principal_id']);
    })
    .createTable('audit_log', (t) => {
      t.bigIncrements('id');
      timestamp(t, 'at').notNullable();
      t.string('actor', 255).notNullable();
      t.string('action', 128).notNullable();
      t.string('target', 1024).nullable();
      t.text('before_json').nullable();
      t.text('after_json').nullable();
      t.string('correlation_id', ID).nullable();
      t.index(['at']);
    })
    .createTable('request_log', (t) => {
      t.bigIncrements('id');
      timestamp(t, 'at').notNullable();
      t.string('operation', 128).notNullable();
      t.string('endpoint', 255).notNullable();
      t.string('principal', 255).nullable();
      t.string('result', 128).notNullable();
      t.integer('duration_ms').notNullable();
      t.string('server_id', ID).nullable();
      t.string('request_id', ID).nullable();
      t.index(['at']);
    })
    .createTable('user_keys', (t) => {
      t.string('principal_id', ID).primary().references('id').inTable('principals').onDelete('CASCADE');
      t.text('public_key_pem').notNullable();
      t.text('wrapped_private_key').notNullable();
      timestamp(t, 'created_at').notNullable();
    })
    .createTable('settings', (t) => {
      t.string('key', 128).primary();
      t.text('value').notNullable();
    });
}

const TABLES_IN_CREATION_ORDER = [
  'clusters',
  'servers',
  'keys',
  'slc_chains',
  'issued',
  'principals',
  'memberships',
  'dacl_entries',
  'audit_log',
  'request_log',
  'user_keys',
  'settings',
];

export const initialSchema: Migration = {
  name: '0001_initial_schema',
  async up(knex) {
    await initialSchemaDdl(knex);
    // Seeded so bumpConfigVersion is a single atomic UPDATE.
    await knex('settings').insert({ key: 'config_version', value: '0' });
  },
  async down(knex) {
    for (const table of [...TABLES_IN_CREATION_ORDER].reverse()) await knex.schema.dropTableIfExists(table);
  },
};
