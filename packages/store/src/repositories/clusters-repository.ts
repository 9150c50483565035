import type { Knex } from 'knex';
import { RmsError, type ClusterKind } from '@openrms/domain';
import { fromIso, fromJson, toBool, toIso, toJson } from '../column-values';
import { guarded } from '../translate-db-error';

export interface ClusterRow {
  id: string;
  kind: ClusterKind;
  name: string;
  url: string;
  createdAt: Date;
  decommissioned: boolean;
  settings: Record<string, unknown>;
}

export interface NewCluster {
  id: string;
  kind: ClusterKind;
  name: string;
  url: string;
  createdAt: Date;
  settings?: Record<string, unknown>;
}

export interface ClusterPatch {
  name?: string;
  url?: string;
  decommissioned?: boolean;
  settings?: Record<string, unknown>;
}

const CLUSTER_KINDS: readonly ClusterKind[] = ['root', 'licensing'];

export function clusterFromRow(r: Record<string, unknown>): ClusterRow {
  return {
    id: String(r.id),
    kind: r.kind as ClusterKind,
    name: String(r.name),
    url: String(r.url),
    createdAt: fromIso(r.created_at),
    decommissioned: toBool(r.decommissioned),
    settings: fromJson(r.settings) as Record<string, unknown>,
  };
}

/** Query builders, separate so tests can compile them for a dialect without a connection. */
export const clusterQueries = {
  /** One database holds one cluster; the oldest row wins should a second ever appear. */
  first: (db: Knex) => db('clusters').select('*').orderBy('created_at').first(),
  insert: (db: Knex, c: NewCluster) =>
    db('clusters').insert({
      id: c.id,
      kind: c.kind,
      name: c.name,
      url: c.url,
      created_at: toIso(c.createdAt, 'createdAt'),
      decommissioned: false,
      settings: toJson(c.settings ?? {}, 'settings'),
    }),
};

export class ClustersRepository {
  constructor(private readonly db: Knex) {}

  /** Records this database's cluster; a database holds exactly one. */
  async create(c: NewCluster): Promise<ClusterRow> {
    if (!CLUSTER_KINDS.includes(c.kind)) throw new RmsError('InvalidInput', `cluster kind must be root or licensing`);
    await guarded({ exists: `cluster ${c.id} already exists` }, () =>
      this.db.transaction(async (t) => {
        const existing = await clusterQueries.first(t);
        if (existing) {
          throw new RmsError('AlreadyExists', `this database already holds cluster '${String(existing.name)}' (${String(existing.id)})`);
        }
        await clusterQueries.insert(t, c);
      }),
    );
    return this.get();
  }

  async find(): Promise<ClusterRow | undefined> {
    const row = await clusterQueries.first(this.db);
    return row ? clusterFromRow(row) : undefined;
  }

  async get(): Promise<ClusterRow> {
    const c = await this.find();
    if (!c) throw new RmsError('NotProvisioned', 'this database holds no cluster yet; provision the first server');
    return c;
  }

  async update(id: string, patch: ClusterPatch): Promise<ClusterRow> {
    const changes: Record<string, unknown> = {};
    if (patch.name !== undefined) changes.name = patch.name;
    if (patch.url !== undefined) changes.url = patch.url;
    if (patch.decommissioned !== undefined) changes.decommissioned = patch.decommissioned;
    if (patch.settings !== undefined) changes.settings = toJson(patch.settings, 'settings');
    if (Object.keys(changes).length > 0) {
      const n = await this.db('clusters').where({ id }).update(changes);
      if (n === 0) throw new RmsError('NotFound', `cluster ${id} not found`);
    }
    const row = await this.db('clusters').where({ id }).first();
    if (!row) throw new RmsError('NotFound', `cluster ${id} not found`);
    return clusterFromRow(row);
  }
}
