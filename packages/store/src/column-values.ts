import { RmsError } from '@openrms/domain';

/**
 * Timestamps are stored as fixed-width ISO-8601 UTC strings (`2024-05-01T12:00:00.000Z`) in every
 * dialect: they round-trip to the millisecond, carry no time-zone ambiguity between drivers, and
 * because the width is fixed they sort and compare chronologically as plain strings.
 */
export const ISO_TIMESTAMP_LENGTH = 24;

const MIN_TIME = Date.parse('0000-01-01T00:00:00.000Z');
const MAX_TIME = Date.parse('9999-12-31T23:59:59.999Z');

export function toIso(d: Date, field: string): string {
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) {
    throw new RmsError('InvalidInput', `${field} must be a valid Date`);
  }
  const t = d.getTime();
  // Outside years 0000-9999 toISOString widens the year and ordering as strings would break.
  if (t < MIN_TIME || t > MAX_TIME) throw new RmsError('InvalidInput', `${field} must be between years 0000 and 9999`);
  return d.toISOString();
}

export function toIsoOrNull(d: Date | null | undefined, field: string): string | null {
  return d === null || d === undefined ? null : toIso(d, field);
}

export function fromIso(s: unknown): Date {
  return new Date(String(s));
}

export function fromIsoOrNull(s: unknown): Date | null {
  return s === null || s === undefined ? null : fromIso(s);
}

/** SQLite hands booleans back as 0/1, postgres and mssql as booleans. */
export function toBool(v: unknown): boolean {
  return v === true || v === 1 || v === '1' || v === 't' || v === 'true';
}

/** bigint columns and COUNT(*) come back as strings from pg and tedious. */
export function toNumber(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

export function toJson(v: unknown, field: string): string {
  const s = JSON.stringify(v);
  if (s === undefined) throw new RmsError('InvalidInput', `${field} must be a JSON value`);
  return s;
}

export function fromJson(s: unknown): unknown {
  return JSON.parse(String(s)) as unknown;
}

/** Nullable JSON columns: SQL NULL is "absent" (undefined); a stored JSON `null` stays null. */
export function fromJsonOrUndefined(s: unknown): unknown {
  return s === null || s === undefined ? undefined : fromJson(s);
}

/** Text that arrives from the network is clipped rather than failing a whole batch on pg/mssql. */
export function clip(s: string | null | undefined, max: number): string | null {
  if (s === null || s === undefined) return null;
  return s.length > max ? s.slice(0, max) : s;
}
