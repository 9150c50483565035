import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { RmsError } from '@openrms/domain';
import type { Env } from './server-config';

/** Where the `rms` client keeps its per-user state: RMS_CLIENT_STATE_DIR, else ~/.openrms. */
export function clientStateDir(env: Env = process.env): string {
  const dir = env.RMS_CLIENT_STATE_DIR;
  if (dir !== undefined && dir !== '') return path.resolve(dir);
  return path.join(env.HOME || homedir(), '.openrms');
}

/** Reads a file the user pointed at (content to protect, a protected file), refusing anything larger than `maxBytes`. */
export function readBinaryFile(p: string, what: string, maxBytes: number): Buffer {
  let size: number;
  try {
    const st = statSync(p);
    if (!st.isFile()) throw new RmsError('InvalidInput', `the ${what} ${p} is not a regular file`);
    size = st.size;
  } catch (e) {
    if (e instanceof RmsError) throw e;
    throw new RmsError('InvalidInput', `cannot read the ${what} ${p}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (size > maxBytes) throw new RmsError('InvalidInput', `the ${what} ${p} is larger than ${maxBytes} bytes`);
  try {
    return readFileSync(p);
  } catch (e) {
    throw new RmsError('InvalidInput', `cannot read the ${what} ${p}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}
