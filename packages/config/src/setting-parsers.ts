import { RmsError } from '@openrms/domain';

/**
 * Parsers of setting values. `what` names where the value came from (`--listen`, `RMS_LISTEN`,
 * `openrms.yaml: listen:`), so every message tells the operator which one to fix.
 */

export interface ListenAddress {
  host: string;
  port: number;
}

export type AuthScheme = 'negotiate' | 'basic';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function parseListen(s: string, what = '--listen'): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(s.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new RmsError('InvalidInput', `${what} must be HOST:PORT (e.g. 127.0.0.1:8080), got "${s}"`);
  }
  return { host: (m[1] ?? m[2])!, port };
}

export function parseByteSize(s: string, what: string): number {
  const m = /^(\d+)\s*(b|k|kb|kib|m|mb|mib)?$/i.exec(s.trim());
  if (!m) throw new RmsError('InvalidInput', `${what} must be a size like 1048576, 512k or 4m, got "${s}"`);
  const unit = (m[2] ?? 'b').toLowerCase();
  const mult = unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 1024 * 1024 : 1;
  const n = Number(m[1]) * mult;
  if (n < 1024 || n > 64 * 1024 * 1024) throw new RmsError('InvalidInput', `${what} must be between 1 KiB and 64 MiB`);
  return n;
}

/** `negotiate,basic` → the schemes, validated; Negotiate needs a keytab and an SPN. */
export function parseAuthSchemes(s: string, what = '--auth'): AuthScheme[] {
  const out: AuthScheme[] = [];
  for (const part of s.split(',').map((p) => p.trim().toLowerCase()).filter(Boolean)) {
    if (part !== 'negotiate' && part !== 'basic') throw new RmsError('InvalidInput', `${what} takes negotiate and/or basic, comma-separated; got "${part}"`);
    if (!out.includes(part)) out.push(part);
  }
  if (out.length === 0) throw new RmsError('InvalidInput', `${what} must name at least one scheme (negotiate, basic)`);
  return out;
}

const SPN_RE = /^HTTP\/([A-Za-z0-9.-]{1,253})@([A-Za-z0-9.-]{1,255})$/;

/** `HTTP/host@REALM` → its realm. */
export function parseSpn(s: string, what = '--spn'): { spn: string; realm: string } {
  const m = SPN_RE.exec(s);
  if (!m) throw new RmsError('InvalidInput', `${what} must be HTTP/host@REALM (e.g. HTTP/rms.example.test@EXAMPLE.TEST), got "${s}"`);
  return { spn: s, realm: m[2]! };
}

export function parseLogLevel(s: string, what = '--log-level'): string {
  const level = s.trim().toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new RmsError('InvalidInput', `${what} must be one of ${LOG_LEVELS.join(', ')}, got "${s}"`);
  return level;
}

/** The name of an environment variable (which holds a secret): never the secret itself. */
export function parseEnvVarName(s: string, what: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(s)) {
    throw new RmsError('InvalidInput', `${what} must name an environment variable (letters, digits, _), got ${s.length > 64 ? 'a long value' : `"${s}"`}`);
  }
  return s;
}

export function parsePath(s: string, what: string): string {
  if (s.trim() === '') throw new RmsError('InvalidInput', `${what} must be a file path`);
  return s;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `250`, `250ms`, `4s`, `10m`, `12h`, `1d` → milliseconds. */
export function parseDuration(s: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i.exec(s.trim());
  if (!m) throw new RmsError('InvalidInput', `${what} must be a duration like 500ms, 30s, 10m, 12h or 1d, got "${s}"`);
  const ms = Math.round(Number(m[1]) * DURATION_UNITS[(m[2] ?? 'ms').toLowerCase()]!);
  if (!(ms >= 1 && ms <= 366 * 86_400_000)) throw new RmsError('InvalidInput', `${what} must be between 1 ms and a year`);
  return ms;
}

export function parseCount(s: string, what: string, min: number, max: number): number {
  const n = Number(s.trim());
  if (!/^\d+$/.test(s.trim()) || n < min || n > max) throw new RmsError('InvalidInput', `${what} must be a whole number from ${min} to ${max}, got "${s}"`);
  return n;
}

/** `30,7,1` → [30, 7, 1]. */
export function parseCountList(s: string, what: string, min: number, max: number): number[] {
  return s.split(',').map((d) => parseCount(d, what, min, max));
}

export function parseRedisUrl(s: string, what = '--redis'): string {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new RmsError('InvalidInput', `${what} must be a redis:// or rediss:// URL, got "${s}"`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new RmsError('InvalidInput', `${what} must be a redis:// or rediss:// URL, got "${u.protocol}//…"`);
  return s;
}

export function parsePrefix(s: string, what = '--prefix'): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(s)) throw new RmsError('InvalidInput', `${what} must be 1–64 letters, digits, '.', '_' or '-', got "${s}"`);
  return s;
}

/** Just the scheme: the store says which it supports; a URL's password stays out of messages. */
export function parseDatabaseUrl(s: string, what = '--database'): string {
  if (!/^(sqlite:|postgres(ql)?:\/\/|mssql:\/\/)/i.test(s.trim())) {
    throw new RmsError('InvalidInput', `${what} must be sqlite:PATH, postgres://… or mssql://…, got "${withoutPassword(s)}"`);
  }
  return s;
}

/**
 * A URL with its password replaced by *** (for logs, messages and `rmsctl config check`); greedy up
 * to the last `@`, so a password holding an unescaped `@` is hidden whole.
 */
export function withoutPassword(s: string): string {
  return s.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@]*:).*@/i, '$1***@');
}
