import { RmsError } from '@openrms/domain';

/**
 * XrML times are UTC. Every example in the protocol documents writes `YYYY-MM-DDTHH:MM` (no seconds,
 * no `Z`), so that is what we emit, for the best chance that other implementations read our
 * documents. The instant is rounded DOWN to the minute: for FROM that widens validity by under a
 * minute, for UNTIL it narrows it, so a document never claims to be valid later than the caller
 * asked. Callers that care should pass minute-aligned times.
 */
export function formatXrmlTime(d: Date): string {
  const t = d.getTime();
  if (!Number.isFinite(t)) throw new RmsError('InvalidInput', 'invalid date');
  const y = d.getUTCFullYear();
  if (y < 1 || y > 9999) throw new RmsError('InvalidInput', `year ${y} cannot be written as an XrML time`);
  return (
    `${pad(y, 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}` +
    `T${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}`
  );
}

/** The instant formatXrmlTime would write, as a Date: useful to compare against parsed values. */
export function floorToXrmlMinute(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 60_000) * 60_000);
}

const TIME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?Z?$/;

/**
 * Accepts the minute form the examples use and the longer forms other writers may produce
 * (`:SS`, fractional seconds, trailing `Z`). Always UTC: an offset other than `Z` is refused rather
 * than guessed at.
 */
export function parseXrmlTime(s: string): Date {
  const m = TIME_RE.exec(s.trim());
  if (!m) throw new RmsError('InvalidInput', `not an XrML time: ${JSON.stringify(s.slice(0, 40))}`);
  const [y, mo, d, h, mi] = [m[1], m[2], m[3], m[4], m[5]].map((x) => Number(x)) as [number, number, number, number, number];
  const sec = m[6] === undefined ? 0 : Number(m[6]);
  const ms = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000);
  const t = Date.UTC(y, mo - 1, d, h, mi, sec, ms);
  const r = new Date(t);
  // Date.UTC silently rolls 2024-02-30 into March; a round trip of the fields catches that.
  if (
    r.getUTCFullYear() !== y ||
    r.getUTCMonth() !== mo - 1 ||
    r.getUTCDate() !== d ||
    r.getUTCHours() !== h ||
    r.getUTCMinutes() !== mi ||
    r.getUTCSeconds() !== sec
  ) {
    throw new RmsError('InvalidInput', `not a valid XrML time: ${JSON.stringify(s.slice(0, 40))}`);
  }
  return r;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}
