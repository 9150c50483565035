import type { Knex } from 'knex';
import { RmsError } from '@openrms/domain';
import { fromIso, fromJson, toBool, toIso, toJson } from '../column-values';
import { guarded } from '../translate-db-error';

export interface SlcChainRow {
  id: string;
  clusterId: string;
  keyId: string;
  /** XrML certificates, leaf (this cluster's SLC) first. */
  chain: string[];
  subject: string;
  issuer: string;
  validFrom: Date;
  validUntil: Date;
  createdAt: Date;
  active: boolean;
}

export type NewSlcChain = SlcChainRow;

export function slcChainFromRow(r: Record<string, unknown>): SlcChainRow {
  return {
    id: String(r.id),
    clusterId: String(r.cluster_id),
    keyId: String(r.key_id),
    chain: fromJson(r.chain) as string[],
    subject: String(r.subject),
    issuer: String(r.issuer),
    validFrom: fromIso(r.valid_from),
    validUntil: fromIso(r.valid_until),
    createdAt: fromIso(r.created_at),
    active: toBool(r.active),
  };
}

export const slcChainQueries = {
  /**
   * Taken before changing which chain is active so concurrent activations of one cluster queue
   * up instead of tripping the one-active index (row lock on postgres and SQL Server; SQLite
   * transactions already start IMMEDIATE, and knex drops FOR UPDATE there).
   */
  lockCluster: (db: Knex, clusterId: string) => db('clusters').select('id').where({ id: clusterId }).forUpdate(),
  active: (db: Knex, clusterId: string) => db('slc_chains').where({ cluster_id: clusterId, active: true }).first(),
  deactivateAll: (db: Knex, clusterId: string) =>
    db('slc_chains').where({ cluster_id: clusterId, active: true }).update({ active: false }),
  activate: (db: Knex, id: string) => db('slc_chains').where({ id }).update({ active: true }),
};

export class SlcChainsRepository {
  constructor(private readonly db: Knex) {}

  /** Stores a chain; an active one replaces the cluster's current active chain atomically. */
  async insert(c: NewSlcChain): Promise<SlcChainRow> {
    if (!Array.isArray(c.chain) || c.chain.length === 0 || !c.chain.every((x) => typeof x === 'string')) {
      throw new RmsError('InvalidInput', 'an SLC chain is a non-empty array of XrML strings, leaf first');
    }
    const row = {
      id: c.id,
      cluster_id: c.clusterId,
      key_id: c.keyId,
      chain: toJson(c.chain, 'chain'),
      subject: c.subject,
      issuer: c.issuer,
      valid_from: toIso(c.validFrom, 'validFrom'),
      valid_until: toIso(c.validUntil, 'validUntil'),
      created_at: toIso(c.createdAt, 'createdAt'),
      active: c.active,
    };
    await guarded(
      { exists: `SLC chain ${c.id} already exists`, reference: `cluster ${c.clusterId} or key ${c.keyId} does not exist` },
      () =>
        this.db.transaction(async (t) => {
          if (c.active) {
            await slcChainQueries.lockCluster(t, c.clusterId);
            await slcChainQueries.deactivateAll(t, c.clusterId);
          }
          await t('slc_chains').insert(row);
        }),
    );
    return this.get(c.id);
  }

  async getActive(clusterId: string): Promise<SlcChainRow> {
    const row = await slcChainQueries.active(this.db, clusterId);
    if (!row) throw new RmsError('NotFound', `cluster ${clusterId} has no active SLC chain`);
    return slcChainFromRow(row);
  }

  /**
   * Inside a transaction: takes the cluster's activation lock, then reads the active chain, so a
   * compare-and-swap (renewal: "replace the chain only if it is still the one I renewed") holds
   * until commit. Concurrent callers queue on the lock and then see the winner's chain. Outside a
   * transaction the lock ends with the statement and this is just getActive.
   */
  async getActiveForUpdate(clusterId: string): Promise<SlcChainRow> {
    await slcChainQueries.lockCluster(this.db, clusterId);
    return this.getActive(clusterId);
  }

  async find(id: string): Promise<SlcChainRow | undefined> {
    const row = await this.db('slc_chains').where({ id }).first();
    return row ? slcChainFromRow(row) : undefined;
  }

  async get(id: string): Promise<SlcChainRow> {
    const c = await this.find(id);
    if (!c) throw new RmsError('NotFound', `SLC chain ${id} not found`);
    return c;
  }

  /**
   * Makes this chain the cluster's only active one. Two statements (deactivate, then activate)
   * because the one-active unique index is checked row by row on postgres.
   */
  async activate(id: string): Promise<void> {
    await this.db.transaction(async (t) => {
      const row = await t('slc_chains').where({ id }).first();
      if (!row) throw new RmsError('NotFound', `SLC chain ${id} not found`);
      await slcChainQueries.lockCluster(t, String(row.cluster_id));
      await slcChainQueries.deactivateAll(t, String(row.cluster_id));
      const n = await slcChainQueries.activate(t, id);
      if (n !== 1) throw new RmsError('NotFound', `SLC chain ${id} not found`);
    });
  }

  /** Newest first. */
  async list(clusterId: string): Promise<SlcChainRow[]> {
    const rows = await this.db('slc_chains')
      .where({ cluster_id: clusterId })
      .orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]);
    return rows.map(slcChainFromRow);
  }
}
