import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { RmsError } from '@openrms/domain';

/** Secrets the embedded default generates on its first start, kept beside its database. */
export interface EmbeddedCredentials {
  adminName: string;
  adminPassword: string;
  keyPassword: string;
  clusterUrl: string;
  databaseUrl: string;
  createdAt: string;
}

/** Writes the file with mode 0600 (and its folder 0700); refuses to overwrite an existing one. */
export function writeEmbeddedCredentials(file: string, creds: EmbeddedCredentials): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (e) {
    throw new RmsError('AlreadyExists', `${file} already exists (${(e as NodeJS.ErrnoException).code}); not overwriting credentials`);
  }
  try {
    writeSync(fd, `${JSON.stringify(creds, null, 2)}\n`);
  } finally {
    closeSync(fd);
  }
  chmodSync(file, 0o600);
}

export function readEmbeddedCredentials(file: string): EmbeddedCredentials | undefined {
  if (!existsSync(file)) return undefined;
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) {
    throw new RmsError('InvalidInput', `${file} is readable by others (mode ${mode.toString(8)}); run chmod 600 on it`);
  }
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as EmbeddedCredentials;
  } catch {
    throw new RmsError('InvalidInput', `${file} is not valid JSON`);
  }
}
