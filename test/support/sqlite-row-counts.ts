import { execFileSync } from 'node:child_process';

/** The file of a `sqlite:` database URL. */
export function sqliteFileOf(url: string): string {
  if (!url.startsWith('sqlite:')) throw new Error(`not a sqlite: URL: ${url}`);
  return url.slice('sqlite:'.length);
}

/**
 * Row counts of every table of a SQLite file except those named in `except`, read with the
 * sqlite3 command-line shell in read-only mode, so the check cannot go through (or be fooled by)
 * the store under test. Used to show that a refused request wrote nothing.
 */
export function sqliteRowCounts(url: string, except: readonly string[] = []): Record<string, number> {
  const file = sqliteFileOf(url);
  const sqlite = (sql: string) =>
    execFileSync('sqlite3', ['-readonly', '-cmd', '.timeout 5000', file, sql], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const skip = new Set(except.map((t) => t.toLowerCase()));
  const tables = sqlite(`select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name`)
    .split('\n')
    .map((t) => t.trim())
    .filter((t) => t !== '' && !skip.has(t.toLowerCase()));
  if (tables.length === 0) return {};
  const quoted = (t: string) => `"${t.replace(/"/g, '""')}"`;
  const union = tables.map((t) => `select '${t.replace(/'/g, "''")}', count(*) from ${quoted(t)}`).join(' union all ');
  const counts: Record<string, number> = {};
  for (const line of sqlite(union).split('\n')) {
    if (!line.trim()) continue;
    const bar = line.lastIndexOf('|');
    counts[line.slice(0, bar)] = Number(line.slice(bar + 1));
  }
  return counts;
}
