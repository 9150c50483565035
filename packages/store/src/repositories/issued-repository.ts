import type { Knex } from 'knex';
import { fromIso, toBool, toIso, toNumber } from '../column-values';
import { guarded } from '../translate-db-error';
import { MAX_PARAMETERS_PER_STATEMENT } from './request-log-repository';

export type IssuedKind = 'SLC' | 'SubSLC' | 'RAC' | 'CLC' | 'SPC' | 'PL' | 'UL';

export interface IssuedRow {
  id: string;
  clusterId: string;
  kind: IssuedKind;
  subject: string;
  documentGuid: string;
  issuedAt: Date;
  validUntil: Date;
  expired: boolean;
  documentSha256: string;
}

export type IssuedRecord = Omit<IssuedRow, 'expired'>;

export interface IssuedFilter {
  clusterId?: string;
  kind?: IssuedKind;
  expired?: boolean;
}

export function issuedFromRow(r: Record<string, unknown>): IssuedRow {
  return {
    id: String(r.id),
    clusterId: String(r.cluster_id),
    kind: r.kind as IssuedKind,
    subject: String(r.subject),
    documentGuid: String(r.document_guid),
    issuedAt: fromIso(r.issued_at),
    validUntil: fromIso(r.valid_until),
    expired: toBool(r.expired),
    documentSha256: String(r.document_sha256),
  };
}

export const issuedQueries = {
  count: (db: Knex, f: IssuedFilter) => {
    const q = db('issued').count({ n: '*' });
    if (f.clusterId !== undefined) q.where('cluster_id', f.clusterId);
    if (f.kind !== undefined) q.where('kind', f.kind);
    if (f.expired !== undefined) q.where('expired', f.expired);
    return q;
  },
  markExpired: (db: Knex, now: Date) =>
    db('issued').where('expired', false).andWhere('valid_until', '<=', toIso(now, 'now')).update({ expired: true }),
};

function toRow(r: IssuedRecord): Record<string, unknown> {
  return {
    id: r.id,
    cluster_id: r.clusterId,
    kind: r.kind,
    subject: r.subject,
    document_guid: r.documentGuid,
    issued_at: toIso(r.issuedAt, 'issuedAt'),
    valid_until: toIso(r.validUntil, 'validUntil'),
    expired: false,
    document_sha256: r.documentSha256,
  };
}

/** Rows per INSERT statement, below every dialect's parameter limit (9 columns a row). */
const ROWS_PER_INSERT = Math.floor(MAX_PARAMETERS_PER_STATEMENT / 9);

export class IssuedRepository {
  constructor(private readonly db: Knex) {}

  async record(r: IssuedRecord): Promise<void> {
    await guarded({ exists: `issued document ${r.id} is already recorded`, reference: `cluster ${r.clusterId} does not exist` }, () => this.db('issued').insert(toRow(r)));
  }

  /**
   * Records several documents at once, all or none: one statement per few hundred rows, in one
   * transaction when it takes more than one statement. A constraint failure of any row fails them
   * all; the caller decides what to do about the others.
   */
  async recordMany(records: readonly IssuedRecord[]): Promise<void> {
    if (records.length === 0) return;
    const chunks: Record<string, unknown>[][] = [];
    for (let i = 0; i < records.length; i += ROWS_PER_INSERT) chunks.push(records.slice(i, i + ROWS_PER_INSERT).map(toRow));
    const messages = { exists: 'an issued document is already recorded', reference: `cluster ${records[0]!.clusterId} does not exist` };
    const ownTransaction = this.db.isTransaction !== true && chunks.length > 1;
    await guarded(messages, async () => {
      if (!ownTransaction) {
        for (const rows of chunks) await this.db('issued').insert(rows);
        return;
      }
      await this.db.transaction(async (t) => {
        for (const rows of chunks) await t('issued').insert(rows);
      });
    });
  }

  async find(id: string): Promise<IssuedRow | undefined> {
    const row = await this.db('issued').where({ id }).first();
    return row ? issuedFromRow(row) : undefined;
  }

  async count(filter: IssuedFilter = {}): Promise<number> {
    const rows = await issuedQueries.count(this.db, filter);
    return toNumber((rows[0] as { n?: unknown } | undefined)?.n ?? 0);
  }

  /** Flags everything whose validity ended at or before `now`; returns how many it flagged. */
  async markExpired(now: Date): Promise<number> {
    return issuedQueries.markExpired(this.db, now);
  }
}
