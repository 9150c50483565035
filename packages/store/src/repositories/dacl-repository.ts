import type { Knex } from 'knex';
import { RmsError } from '@openrms/domain';
import { fromIso, toIso } from '../column-values';
import { guarded } from '../translate-db-error';
import { insertIfAbsent } from '../upsert-row';
import type { PrincipalKind } from './principals-repository';

export type DaclRight = 'Read' | 'Execute' | 'FullControl';
export type DaclEffect = 'allow' | 'deny';

export const DACL_RIGHTS: readonly DaclRight[] = ['Read', 'Execute', 'FullControl'];
export const DACL_EFFECTS: readonly DaclEffect[] = ['allow', 'deny'];

export interface NewDaclEntry {
  id: string;
  /** Path of the endpoint, e.g. /_wmcs/certification/subenrollservice.asmx; stored lower-cased. */
  endpoint: string;
  principalId: string;
  right: DaclRight;
  effect: DaclEffect;
  createdAt: Date;
  createdBy: string;
}

export interface DaclEntryRow extends NewDaclEntry {
  principalName: string;
  principalKind: PrincipalKind;
}

/** Endpoints are matched case-insensitively, like the IIS paths they imitate. */
export function daclEndpointKey(endpoint: string): string {
  return endpoint.trim().toLowerCase();
}

export function daclEntryFromRow(r: Record<string, unknown>): DaclEntryRow {
  return {
    id: String(r.id),
    endpoint: String(r.endpoint),
    principalId: String(r.principal_id),
    principalName: String(r.principal_name),
    principalKind: r.principal_kind as PrincipalKind,
    right: r.right as DaclRight,
    effect: r.effect as DaclEffect,
    createdAt: fromIso(r.created_at),
    createdBy: String(r.created_by),
  };
}

export const daclQueries = {
  /** Entries with their principal's name and kind, in one join: read on every request. */
  list: (db: Knex, where: { endpoint?: string; id?: string; key?: Omit<NewDaclEntry, 'id' | 'createdAt' | 'createdBy'> }) => {
    const q = db('dacl_entries as d')
      .select('d.*', 'p.name as principal_name', 'p.kind as principal_kind')
      .join('principals as p', 'p.id', 'd.principal_id')
      .orderBy([{ column: 'd.endpoint' }, { column: 'p.name_key' }, { column: 'd.right' }, { column: 'd.effect' }]);
    if (where.endpoint !== undefined) q.where('d.endpoint', daclEndpointKey(where.endpoint));
    if (where.id !== undefined) q.where('d.id', where.id);
    if (where.key !== undefined) {
      q.where({
        'd.endpoint': daclEndpointKey(where.key.endpoint),
        'd.principal_id': where.key.principalId,
        'd.right': where.key.right,
        'd.effect': where.key.effect,
      });
    }
    return q;
  },
};

export class DaclRepository {
  constructor(private readonly db: Knex) {}

  /** Adds an entry; when the same endpoint/principal/right/effect exists, returns that one instead. */
  async add(e: NewDaclEntry): Promise<DaclEntryRow> {
    if (!DACL_RIGHTS.includes(e.right)) throw new RmsError('InvalidInput', `DACL right must be one of ${DACL_RIGHTS.join(', ')}`);
    if (!DACL_EFFECTS.includes(e.effect)) throw new RmsError('InvalidInput', `DACL effect must be allow or deny`);
    const endpoint = daclEndpointKey(e.endpoint);
    if (!endpoint.startsWith('/') || endpoint.length > 255) {
      throw new RmsError('InvalidInput', `DACL endpoint must be a path starting with '/', at most 255 characters`);
    }
    return guarded({ exists: `DACL entry ${e.id} already exists`, reference: `principal ${e.principalId} not found` }, () =>
      this.db.transaction(async (t) => {
        await insertIfAbsent(t, 'dacl_entries', {
          id: e.id,
          endpoint,
          principal_id: e.principalId,
          right: e.right,
          effect: e.effect,
          created_at: toIso(e.createdAt, 'createdAt'),
          created_by: e.createdBy,
        });
        const rows = await daclQueries.list(t, { key: e });
        const row = rows[0];
        // Absent only when the clash was on the id alone, i.e. a different entry owns that id.
        if (!row) throw new RmsError('AlreadyExists', `DACL entry ${e.id} already exists`);
        return daclEntryFromRow(row);
      }),
    );
  }

  async remove(id: string): Promise<void> {
    const n = await this.db('dacl_entries').where({ id }).del();
    if (n === 0) throw new RmsError('NotFound', `DACL entry ${id} not found`);
  }

  async list(endpoint?: string): Promise<DaclEntryRow[]> {
    const rows = await daclQueries.list(this.db, endpoint === undefined ? {} : { endpoint });
    return rows.map(daclEntryFromRow);
  }
}
