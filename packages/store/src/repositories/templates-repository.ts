import type { Knex } from 'knex';
import { fromIso, toIso } from '../column-values';
import { guarded } from '../translate-db-error';
import { RmsError } from '@openrms/domain';

export type TemplateStatus = 'published' | 'archived';

export interface TemplateRow {
  /** The template GUID, braced. */
  id: string;
  clusterId: string;
  name: string;
  description: string;
  /** The signed template XrML. */
  xml: string;
  /** What AcquireTemplateInformation lists: the signature's digest value. */
  hash: string;
  status: TemplateStatus;
  createdAt: Date;
  archivedAt: Date | null;
}

function fromRow(r: Record<string, unknown>): TemplateRow {
  return {
    id: String(r.id),
    clusterId: String(r.cluster_id),
    name: String(r.name),
    description: String(r.description),
    xml: String(r.xml),
    hash: String(r.hash),
    status: String(r.status) as TemplateStatus,
    createdAt: fromIso(r.created_at),
    archivedAt: r.archived_at == null ? null : fromIso(r.archived_at),
  };
}

export class TemplatesRepository {
  constructor(private readonly db: Knex) {}

  async insert(t: Omit<TemplateRow, 'archivedAt'>): Promise<TemplateRow> {
    await guarded({ exists: `a template named "${t.name}" already exists`, reference: `cluster ${t.clusterId} not found` }, () =>
      this.db('templates').insert({
        id: t.id,
        cluster_id: t.clusterId,
        name: t.name,
        name_key: t.name.trim().toLowerCase(),
        description: t.description,
        xml: t.xml,
        hash: t.hash,
        status: t.status,
        created_at: toIso(t.createdAt, 'createdAt'),
        archived_at: null,
      }),
    );
    return { ...t, archivedAt: null };
  }

  async list(clusterId: string, status?: TemplateStatus): Promise<TemplateRow[]> {
    const q = this.db('templates').where({ cluster_id: clusterId });
    if (status) q.andWhere({ status });
    return (await q.orderBy('name_key')).map(fromRow);
  }

  async find(clusterId: string, id: string): Promise<TemplateRow | undefined> {
    const row = await this.db('templates').where({ cluster_id: clusterId, id }).first();
    return row ? fromRow(row) : undefined;
  }

  async findByName(clusterId: string, name: string): Promise<TemplateRow | undefined> {
    const row = await this.db('templates').where({ cluster_id: clusterId, name_key: name.trim().toLowerCase() }).first();
    return row ? fromRow(row) : undefined;
  }

  /** Archived templates are no longer distributed but still decide licences for content published with them. */
  async archive(clusterId: string, id: string, at: Date): Promise<void> {
    const n = await this.db('templates').where({ cluster_id: clusterId, id, status: 'published' }).update({ status: 'archived', archived_at: toIso(at, 'archivedAt') });
    if (n === 0) throw new RmsError('NotFound', `no published template ${id}`);
  }
}
