import type { Knex } from 'knex';
import { ISO_TIMESTAMP_LENGTH } from '../column-values';
import type { Migration } from './migration';

/** Rights policy templates, signed by the cluster's SLC; archived ones still govern licensing. */
export function templatesSchemaDdl(knex: Knex): Knex.SchemaBuilder {
  return knex.schema.createTable('templates', (t) => {
    t.string('id', 64).primary();
    t.string('cluster_id', 64).notNullable().references('id').inTable('clusters').onDelete('CASCADE');
    t.string('name', 255).notNullable();
    t.string('name_key', 255).notNullable();
    t.text('description').notNullable();
    t.text('xml').notNullable();
    t.string('hash', 128).notNullable();
    t.string('status', 16).notNullable();
    t.string('created_at', ISO_TIMESTAMP_LENGTH).notNullable();
    t.string('archived_at', ISO_TIMESTAMP_LENGTH).nullable();
    t.unique(['cluster_id', 'name_key']);
  });
}

export const templatesSchema: Migration = {
  name: '0002_templates',
  up: async (knex) => {
    await templatesSchemaDdl(knex);
  },
  down: async (knex) => {
    await knex.schema.dropTableIfExists('templates');
  },
};
