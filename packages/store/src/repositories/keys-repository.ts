import type { Knex } from 'knex';
import { RmsError } from '@openrms/domain';
import { fromIso, toBool, toIso } from '../column-values';
import { guarded } from '../translate-db-error';

export interface KeyRow {
  id: string;
  clusterId: string;
  /** What the key is for, e.g. 'cluster'. */
  purpose: string;
  publicKeyPem: string;
  /** Opaque to the store: produced and opened only by @openrms/keys. */
  wrappedPrivateKey: string;
  createdAt: Date;
  active: boolean;
}

export type NewKey = KeyRow;

export function keyFromRow(r: Record<string, unknown>): KeyRow {
  return {
    id: String(r.id),
    clusterId: String(r.cluster_id),
    purpose: String(r.purpose),
    publicKeyPem: String(r.public_key_pem),
    wrappedPrivateKey: String(r.wrapped_private_key),
    createdAt: fromIso(r.created_at),
    active: toBool(r.active),
  };
}

export const keyQueries = {
  /** Several active keys of one purpose can overlap during a rollover; the newest is the one to use. */
  active: (db: Knex, clusterId: string, purpose: string) =>
    db('keys')
      .where({ cluster_id: clusterId, purpose, active: true })
      .orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }])
      .first(),
};

export class KeysRepository {
  constructor(private readonly db: Knex) {}

  async insert(k: NewKey): Promise<KeyRow> {
    await guarded({ exists: `key ${k.id} already exists`, reference: `cluster ${k.clusterId} does not exist` }, () =>
      this.db('keys').insert({
        id: k.id,
        cluster_id: k.clusterId,
        purpose: k.purpose,
        public_key_pem: k.publicKeyPem,
        wrapped_private_key: k.wrappedPrivateKey,
        created_at: toIso(k.createdAt, 'createdAt'),
        active: k.active,
      }),
    );
    return this.get(k.id);
  }

  async getActive(clusterId: string, purpose: string): Promise<KeyRow> {
    const row = await keyQueries.active(this.db, clusterId, purpose);
    if (!row) throw new RmsError('NotFound', `no active '${purpose}' key for cluster ${clusterId}`);
    return keyFromRow(row);
  }

  async find(id: string): Promise<KeyRow | undefined> {
    const row = await this.db('keys').where({ id }).first();
    return row ? keyFromRow(row) : undefined;
  }

  async get(id: string): Promise<KeyRow> {
    const k = await this.find(id);
    if (!k) throw new RmsError('NotFound', `key ${id} not found`);
    return k;
  }

  async list(clusterId: string): Promise<KeyRow[]> {
    const rows = await this.db('keys')
      .where({ cluster_id: clusterId })
      .orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]);
    return rows.map(keyFromRow);
  }

  /**
   * Replaces the wrapped private key of one row (a key password change), only if it still holds
   * `expectedWrapped`: false when another change came first. The key itself does not change.
   */
  async replaceWrapped(id: string, expectedWrapped: string, wrappedPrivateKey: string): Promise<boolean> {
    const n = await this.db('keys').where({ id, wrapped_private_key: expectedWrapped }).update({ wrapped_private_key: wrappedPrivateKey });
    return n > 0;
  }

  async setActive(id: string, active: boolean): Promise<void> {
    const n = await this.db('keys').where({ id }).update({ active });
    if (n === 0) throw new RmsError('NotFound', `key ${id} not found`);
  }
}
