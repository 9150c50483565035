import type { Knex } from 'knex';

/** A schema change written in code (not a file glob), so it runs the same under tsc, ts-jest and tsx. */
export interface Migration {
  /** Sortable and never renamed once released: knex records it in openrms_migrations. */
  name: string;
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}
