import type { Knex } from 'knex';
import { fromIso, toIso } from '../column-values';
import { guarded } from '../translate-db-error';

export type RevocationKind = 'RAC' | 'CLC' | 'PL' | 'SLC';
export type RevocationMatch = 'id' | 'key' | 'content';

/** One revoked document (or key, or content), as `rmsctl revoke` recorded it. */
export interface RevocationRow {
  id: string;
  clusterId: string;
  kind: RevocationKind;
  match: RevocationMatch;
  /** A braced lower-case GUID, a lower-case hex SHA-256 key fingerprint, or a content ID. */
  value: string;
  idType: string | null;
  publicKeyPem: string | null;
  subject: string | null;
  reason: string | null;
  revokedAt: Date;
  revokedBy: string;
}

function fromRow(r: Record<string, unknown>): RevocationRow {
  const opt = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return {
    id: String(r.id),
    clusterId: String(r.cluster_id),
    kind: String(r.kind) as RevocationKind,
    match: String(r.match) as RevocationMatch,
    value: String(r.value),
    idType: opt(r.id_type),
    publicKeyPem: opt(r.public_key_pem),
    subject: opt(r.subject),
    reason: opt(r.reason),
    revokedAt: fromIso(r.revoked_at),
    revokedBy: String(r.revoked_by),
  };
}

export class RevocationsRepository {
  constructor(private readonly db: Knex) {}

  /** The same kind, match and value twice is AlreadyExists. */
  async insert(r: RevocationRow): Promise<void> {
    await guarded({ exists: `that ${r.kind} is already revoked`, reference: `cluster ${r.clusterId} does not exist` }, () =>
      this.db('revocations').insert({
        id: r.id,
        cluster_id: r.clusterId,
        kind: r.kind,
        match: r.match,
        value: r.value,
        id_type: r.idType,
        public_key_pem: r.publicKeyPem,
        subject: r.subject,
        reason: r.reason,
        revoked_at: toIso(r.revokedAt, 'revokedAt'),
        revoked_by: r.revokedBy,
      }),
    );
  }

  /** Oldest first (the order the list is written in). */
  async list(clusterId: string): Promise<RevocationRow[]> {
    return (await this.db('revocations').where({ cluster_id: clusterId }).orderBy([{ column: 'revoked_at' }, { column: 'id' }])).map(fromRow);
  }

  async find(clusterId: string, id: string): Promise<RevocationRow | undefined> {
    const row = await this.db('revocations').where({ cluster_id: clusterId, id }).first();
    return row ? fromRow(row) : undefined;
  }

  /** False when there was no such row. */
  async remove(clusterId: string, id: string): Promise<boolean> {
    return (await this.db('revocations').where({ cluster_id: clusterId, id }).del()) > 0;
  }
}
