import type { Knex } from 'knex';
import { ISO_TIMESTAMP_LENGTH } from '../column-values';
import type { Migration } from './migration';

/**
 * Links between principals rows and the people and groups of an external directory (Active
 * Directory, LDAP). A directory principal gets a row of its own the first time it signs on or an
 * administrator names it (a DACL entry, a local group membership), so RAC keys, DACL entries and
 * audit rows keep one stable id for it; its groups, aliases and disabled state are always read from
 * the directory, never from these rows.
 */
export function directoryLinksSchemaDdl(knex: Knex): Knex.SchemaBuilder {
  return knex.schema.createTable('directory_links', (t) => {
    t.string('principal_id', 64).primary().references('id').inTable('principals').onDelete('CASCADE');
    t.string('source', 16).notNullable();
    // objectGUID / entryUUID: unlike a DN, it survives renames and moves.
    t.string('external_id', 255).notNullable();
    t.text('dn').nullable();
    t.string('linked_at', ISO_TIMESTAMP_LENGTH).notNullable();
    t.unique(['source', 'external_id']);
  });
}

export const directoryLinksSchema: Migration = {
  name: '0003_directory_links',
  up: async (knex) => {
    await directoryLinksSchemaDdl(knex);
  },
  down: async (knex) => {
    await knex.schema.dropTableIfExists('directory_links');
  },
};
