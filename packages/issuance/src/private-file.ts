import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { RmsError } from '@openrms/domain';

/**
 * Writes `data` to `file` with mode 0600: a private temporary file beside it, fsynced, then renamed
 * over, so the file is either absent, the old one, or the whole new one. An existing file is kept
 * unless `force`.
 */
export function writePrivateFile(file: string, data: string | Buffer, force = false): string {
  const out = path.resolve(file);
  if (existsSync(out) && !force) throw new RmsError('AlreadyExists', `${out} exists; pass --force to replace it`);
  const tmp = path.join(path.dirname(out), `.${path.basename(out)}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', 0o600);
    writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, out);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    if (e instanceof RmsError) throw e;
    throw new RmsError('InvalidInput', `cannot write ${out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const dir = openSync(path.dirname(out), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
  return out;
}
