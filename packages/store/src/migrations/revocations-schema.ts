import type { Knex } from 'knex';
import { ISO_TIMESTAMP_LENGTH } from '../column-values';
import type { Migration } from './migration';

/**
 * What an administrator revoked (`rmsctl revoke`, the revocation admin page): one row per revoked
 * RAC, CLC, PL or SLC, named by the one thing the cluster matches it by. Every member enforces the
 * rows on every request, and the cluster's signed revocation list is built from them.
 */
export function revocationsSchemaDdl(knex: Knex): Knex.SchemaBuilder {
  return knex.schema.createTable('revocations', (t) => {
    t.string('id', 64).primary();
    t.string('cluster_id', 64).notNullable().references('id').inTable('clusters').onDelete('CASCADE');
    // RAC | CLC | PL | SLC
    t.string('kind', 8).notNullable();
    // id (certificate ID, or an SLC's server ID) | key (SHA-256 fingerprint of a public key) | content (a PL's content ID)
    t.string('match', 16).notNullable();
    // Normalised: a braced lower-case GUID, a lower-case hex fingerprint, or the content ID as written.
    t.string('value', 255).notNullable();
    // The ID type a content ID or server ID is written with in the list (MS-GUID, ascii-tag, …).
    t.string('id_type', 64).nullable();
    // The public key (PEM) for key revocations, and an SLC's key when it was revoked from its file.
    t.text('public_key_pem').nullable();
    // For people: who the document was for (e-mail address, server name); never published.
    t.string('subject', 255).nullable();
    t.text('reason').nullable();
    t.string('revoked_at', ISO_TIMESTAMP_LENGTH).notNullable();
    t.string('revoked_by', 255).notNullable();
    t.unique(['cluster_id', 'kind', 'match', 'value']);
  });
}

export const revocationsSchema: Migration = {
  name: '0004_revocations',
  up: async (knex) => {
    await revocationsSchemaDdl(knex);
  },
  down: async (knex) => {
    await knex.schema.dropTableIfExists('revocations');
  },
};
