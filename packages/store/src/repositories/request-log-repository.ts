import type { Knex } from 'knex';
import { clip, fromIso, toIso, toNumber } from '../column-values';

export interface RequestLogEvent {
  at: Date;
  /** SOAP operation, e.g. 'AcquireLicense'. */
  operation: string;
  endpoint: string;
  principal?: string | null;
  /** 'ok' or the fault code. */
  result: string;
  durationMs: number;
  serverId?: string | null;
  requestId?: string | null;
}

export interface RequestLogEntry {
  id: number;
  at: Date;
  operation: string;
  endpoint: string;
  principal: string | null;
  result: string;
  durationMs: number;
  serverId: string | null;
  requestId: string | null;
}

/** SQL Server accepts at most 2100 parameters per statement; stay clearly below. */
export const MAX_PARAMETERS_PER_STATEMENT = 2000;
const COLUMNS_PER_ROW = 8;
export const REQUEST_LOG_ROWS_PER_INSERT = Math.floor(MAX_PARAMETERS_PER_STATEMENT / COLUMNS_PER_ROW);

function toRow(e: RequestLogEvent): Record<string, unknown> {
  // These values come from the network; clipping to the column widths keeps one odd request
  // from failing a whole batch on postgres and SQL Server.
  return {
    at: toIso(e.at, 'at'),
    operation: clip(e.operation, 128),
    endpoint: clip(e.endpoint, 255),
    principal: clip(e.principal, 255),
    result: clip(e.result, 128),
    duration_ms: Math.max(0, Math.min(2_147_483_647, Math.round(e.durationMs))),
    server_id: clip(e.serverId, 64),
    request_id: clip(e.requestId, 64),
  };
}

export function requestLogEntryFromRow(r: Record<string, unknown>): RequestLogEntry {
  const opt = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return {
    id: toNumber(r.id),
    at: fromIso(r.at),
    operation: String(r.operation),
    endpoint: String(r.endpoint),
    principal: opt(r.principal),
    result: String(r.result),
    durationMs: toNumber(r.duration_ms),
    serverId: opt(r.server_id),
    requestId: opt(r.request_id),
  };
}

export const requestLogQueries = {
  /** One multi-row INSERT per chunk, each under SQL Server's parameter limit. */
  insertChunks: (db: Knex, events: readonly RequestLogEvent[]) => {
    const rows = events.map(toRow);
    const chunks: Knex.QueryBuilder[] = [];
    for (let i = 0; i < rows.length; i += REQUEST_LOG_ROWS_PER_INSERT) {
      chunks.push(db('request_log').insert(rows.slice(i, i + REQUEST_LOG_ROWS_PER_INSERT)));
    }
    return chunks;
  },
  tail: (db: Knex, n: number) => db('request_log').select('*').orderBy('id', 'desc').limit(n),
  purge: (db: Knex, before: Date) => db('request_log').where('at', '<', toIso(before, 'before')).del(),
};

export class RequestLogRepository {
  constructor(private readonly db: Knex) {}

  /** Writes a batch; all of it or none. Returns the number of rows written. */
  async appendMany(events: readonly RequestLogEvent[]): Promise<number> {
    if (events.length === 0) return 0;
    if (events.length <= REQUEST_LOG_ROWS_PER_INSERT) {
      await requestLogQueries.insertChunks(this.db, events)[0];
    } else {
      await this.db.transaction(async (t) => {
        for (const chunk of requestLogQueries.insertChunks(t, events)) await chunk;
      });
    }
    return events.length;
  }

  /** The last n entries, oldest first (like `tail`). */
  /** Which of these request ids already have a row (recovering a member's spool after a crash). */
  async existingRequestIds(ids: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < ids.length; i += 500) {
      const rows: { request_id: string }[] = await this.db('request_log').select('request_id').whereIn('request_id', ids.slice(i, i + 500));
      for (const r of rows) found.add(r.request_id);
    }
    return found;
  }

  async tail(n: number): Promise<RequestLogEntry[]> {
    const limit = Math.max(0, Math.floor(n));
    if (limit === 0) return [];
    const rows = await requestLogQueries.tail(this.db, limit);
    return rows.map(requestLogEntryFromRow).reverse();
  }

  /** Deletes entries older than `before`; returns how many. */
  async purgeOlderThan(before: Date): Promise<number> {
    return requestLogQueries.purge(this.db, before);
  }
}
