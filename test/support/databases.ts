import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface TestDatabase {
  url: string;
  dialect: 'sqlite' | 'postgres';
  dispose(): void;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), `openrms-${prefix}-`));
}

/** A fresh SQLite file in its own folder. */
export function sqliteDatabase(): TestDatabase {
  const dir = tempDir('db');
  return { url: `sqlite:${path.join(dir, 'rms.db')}`, dialect: 'sqlite', dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

const PG = { host: '127.0.0.1', port: '5432', user: 'postgres' };

function psql(sql: string): void {
  execFileSync('psql', ['-h', PG.host, '-p', PG.port, '-U', PG.user, '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-qAtc', sql], { stdio: 'pipe' });
}

/** A fresh database on the real PostgreSQL at 127.0.0.1:5432, dropped by dispose(). */
export function postgresDatabase(): TestDatabase {
  const name = `openrms_e2e_${randomBytes(6).toString('hex')}`;
  psql(`CREATE DATABASE ${name}`);
  return {
    url: `postgres://${PG.user}@${PG.host}:${PG.port}/${name}`,
    dialect: 'postgres',
    dispose: () => psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
