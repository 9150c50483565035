import type { Knex } from 'knex';
import { fromIso, toIso } from '../column-values';
import { guarded } from '../translate-db-error';

/** Which directory entry a principals row stands for (see migrations/directory-links-schema). */
export interface DirectoryLinkRow {
  principalId: string;
  /** 'ad' | 'ldap'. */
  source: string;
  externalId: string;
  dn: string | null;
  linkedAt: Date;
}

function linkFromRow(r: Record<string, unknown>): DirectoryLinkRow {
  return {
    principalId: String(r.principal_id),
    source: String(r.source),
    externalId: String(r.external_id),
    dn: r.dn === null || r.dn === undefined ? null : String(r.dn),
    linkedAt: fromIso(r.linked_at),
  };
}

export class DirectoryLinksRepository {
  constructor(private readonly db: Knex) {}

  /** One link per principal and per directory entry; a second one fails with AlreadyExists. */
  async insert(l: DirectoryLinkRow): Promise<void> {
    await guarded(
      { exists: `the directory entry ${l.source}:${l.externalId} (or principal ${l.principalId}) is already linked`, reference: `principal ${l.principalId} not found` },
      () =>
        this.db('directory_links').insert({
          principal_id: l.principalId,
          source: l.source,
          external_id: l.externalId,
          dn: l.dn,
          linked_at: toIso(l.linkedAt, 'linkedAt'),
        }),
    );
  }

  async findByExternalId(source: string, externalId: string): Promise<DirectoryLinkRow | undefined> {
    const row = await this.db('directory_links').where({ source, external_id: externalId }).first();
    return row ? linkFromRow(row) : undefined;
  }

  /** Every link among `externalIds` of one source, in one query. */
  async findManyByExternalId(source: string, externalIds: readonly string[]): Promise<DirectoryLinkRow[]> {
    if (externalIds.length === 0) return [];
    const out: DirectoryLinkRow[] = [];
    // SQL Server allows about 2,100 parameters per statement.
    for (let i = 0; i < externalIds.length; i += 500) {
      const rows = await this.db('directory_links').where({ source }).whereIn('external_id', externalIds.slice(i, i + 500));
      out.push(...rows.map(linkFromRow));
    }
    return out;
  }

  async ofPrincipal(principalId: string): Promise<DirectoryLinkRow | undefined> {
    const row = await this.db('directory_links').where({ principal_id: principalId }).first();
    return row ? linkFromRow(row) : undefined;
  }

  async list(): Promise<DirectoryLinkRow[]> {
    return (await this.db('directory_links').select('*').orderBy('principal_id')).map(linkFromRow);
  }

  /** Keeps the DN current after a rename or a move in the directory. */
  async updateDn(principalId: string, dn: string | null): Promise<void> {
    await this.db('directory_links').where({ principal_id: principalId }).update({ dn });
  }
}
