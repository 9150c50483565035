import type { Knex } from 'knex';
import { fromIso, fromJsonOrUndefined, toIso, toJson, toNumber } from '../column-values';

export interface AuditEvent {
  at: Date;
  /** Who did it: a principal name, 'system' or 'cli'. */
  actor: string;
  /** Verb-first, e.g. 'dacl.add'. */
  action: string;
  target?: string | null;
  /** State before and after, as JSON values; absent when not meaningful. */
  before?: unknown;
  after?: unknown;
  correlationId?: string | null;
}

export interface AuditEntry {
  id: number;
  at: Date;
  actor: string;
  action: string;
  target: string | null;
  before?: unknown;
  after?: unknown;
  correlationId: string | null;
}

export interface AuditQuery {
  limit: number;
  /** Only entries at or after this instant. */
  since?: Date;
}

export function auditEntryFromRow(r: Record<string, unknown>): AuditEntry {
  const entry: AuditEntry = {
    id: toNumber(r.id),
    at: fromIso(r.at),
    actor: String(r.actor),
    action: String(r.action),
    target: r.target === null || r.target === undefined ? null : String(r.target),
    correlationId: r.correlation_id === null || r.correlation_id === undefined ? null : String(r.correlation_id),
  };
  const before = fromJsonOrUndefined(r.before_json);
  const after = fromJsonOrUndefined(r.after_json);
  if (before !== undefined) entry.before = before;
  if (after !== undefined) entry.after = after;
  return entry;
}

export const auditQueries = {
  list: (db: Knex, q: AuditQuery) => {
    const b = db('audit_log').select('*').orderBy('id', 'desc').limit(Math.max(0, Math.floor(q.limit)));
    if (q.since !== undefined) b.where('at', '>=', toIso(q.since, 'since'));
    return b;
  },
};

export class AuditRepository {
  constructor(private readonly db: Knex) {}

  async append(e: AuditEvent): Promise<void> {
    await this.db('audit_log').insert({
      at: toIso(e.at, 'at'),
      actor: e.actor,
      action: e.action,
      target: e.target ?? null,
      before_json: e.before === undefined ? null : toJson(e.before, 'before'),
      after_json: e.after === undefined ? null : toJson(e.after, 'after'),
      correlation_id: e.correlationId ?? null,
    });
  }

  /** Newest first. */
  async list(q: AuditQuery): Promise<AuditEntry[]> {
    const rows = await auditQueries.list(this.db, q);
    return rows.map(auditEntryFromRow);
  }
}
