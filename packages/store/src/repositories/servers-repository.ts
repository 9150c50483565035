import type { Knex } from 'knex';
import { RmsError } from '@openrms/domain';
import { fromIso, fromIsoOrNull, toIso } from '../column-values';
import { guarded } from '../translate-db-error';
import { upsertRow } from '../upsert-row';

export interface ServerRow {
  id: string;
  clusterId: string;
  name: string;
  url: string;
  serviceAccount: string | null;
  joinedAt: Date;
  lastHeartbeatAt: Date | null;
}

export interface ServerRegistration {
  id: string;
  clusterId: string;
  name: string;
  url: string;
  serviceAccount?: string | null;
  joinedAt: Date;
}

export function serverFromRow(r: Record<string, unknown>): ServerRow {
  return {
    id: String(r.id),
    clusterId: String(r.cluster_id),
    name: String(r.name),
    url: String(r.url),
    serviceAccount: r.service_account === null || r.service_account === undefined ? null : String(r.service_account),
    joinedAt: fromIso(r.joined_at),
    lastHeartbeatAt: fromIsoOrNull(r.last_heartbeat_at),
  };
}

export class ServersRepository {
  constructor(private readonly db: Knex) {}

  /** Registers a cluster member, or refreshes its name, URL and account when it joins again (joinedAt is kept). */
  async upsert(s: ServerRegistration): Promise<ServerRow> {
    const update = {
      cluster_id: s.clusterId,
      name: s.name,
      url: s.url,
      service_account: s.serviceAccount ?? null,
    };
    await guarded({ reference: `cluster ${s.clusterId} does not exist` }, () =>
      upsertRow(this.db, 'servers', { id: s.id }, { id: s.id, ...update, joined_at: toIso(s.joinedAt, 'joinedAt') }, update),
    );
    const row = await this.find(s.id);
    if (!row) throw new RmsError('NotFound', `server ${s.id} vanished while it was being registered`);
    return row;
  }

  async heartbeat(id: string, at: Date): Promise<void> {
    const n = await this.db('servers').where({ id }).update({ last_heartbeat_at: toIso(at, 'at') });
    if (n === 0) throw new RmsError('NotFound', `server ${id} is not a member of this cluster`);
  }

  async list(clusterId: string): Promise<ServerRow[]> {
    const rows = await this.db('servers').where({ cluster_id: clusterId }).orderBy([{ column: 'joined_at' }, { column: 'id' }]);
    return rows.map(serverFromRow);
  }

  async find(id: string): Promise<ServerRow | undefined> {
    const row = await this.db('servers').where({ id }).first();
    return row ? serverFromRow(row) : undefined;
  }

  /** Removes a member that left the cluster; false when it was not there. */
  async remove(id: string): Promise<boolean> {
    return (await this.db('servers').where({ id }).del()) > 0;
  }
}
