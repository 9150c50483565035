import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { RmsClientError } from './rms-client-error';

/** The files of a per-user state folder (README.md, "State folder"). */
export const STATE_FILES = {
  profile: 'profile.json',
  /** The machine (SPC) private key, `RsaKeyPair.wrap(password)`: scrypt + AES-256-GCM. */
  machineKey: 'machine-key.json',
  spc: 'spc.xml',
  racChain: 'rac-chain.json',
  clcChain: 'clc-chain.json',
  /** The server root key and SLC chain first seen (trust on first use). */
  trust: 'trust.json',
} as const;

export type StateFile = (typeof STATE_FILES)[keyof typeof STATE_FILES];

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;
const MAX_STATE_FILE_BYTES = 1024 * 1024;

/** Characters kept as they are in a folder name; everything else is %-encoded (UTF-8). */
function safeSegment(s: string): string {
  const encoded = Array.from(Buffer.from(s, 'utf8'))
    .map((b) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z0-9_@+-]/.test(c) || (c === '.' && b < 0x80) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
  // "." and ".." (or a leading dot) would name another folder or a hidden one.
  return encoded.replace(/^\./, '%2E');
}

/** `<stateDir>/<user>@<host>_<port>`: one folder per user and cluster. */
export function stateFolderFor(stateDir: string, user: string, serverBaseUrl: string): string {
  const u = new URL(serverBaseUrl);
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return path.join(path.resolve(stateDir), `${safeSegment(user)}@${safeSegment(host)}_${port}`);
}

/**
 * One user's state folder: mode 0700, every file 0600, every write atomic (temp file, fsync,
 * rename), so a crash leaves the old file or the new one, never half of one. Private keys are
 * only ever written by the caller in wrapped form; this class does not know what it stores.
 */
export class ClientState {
  constructor(
    readonly dir: string,
    private readonly log: (message: string) => void = () => undefined,
  ) {}

  /** Creates the folder (and the state root) as 0700; tightens an existing folder that is wider. */
  ensure(): void {
    try {
      mkdirSync(path.dirname(this.dir), { recursive: true, mode: DIR_MODE });
      mkdirSync(this.dir, { recursive: true, mode: DIR_MODE });
      const st = lstatSync(this.dir);
      if (!st.isDirectory()) throw new RmsClientError('state', `${this.dir} is not a folder`);
      if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
        throw new RmsClientError('state', `${this.dir} belongs to another user; refusing to keep keys there`);
      }
      if ((st.mode & 0o777) !== DIR_MODE) {
        chmodSync(this.dir, DIR_MODE);
        if (st.mode & 0o077) this.log(`tightened the permissions of ${this.dir} to 0700`);
      }
    } catch (e) {
      if (e instanceof RmsClientError) throw e;
      throw new RmsClientError('state', `cannot use the state folder ${this.dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
    }
  }

  file(name: StateFile): string {
    return path.join(this.dir, name);
  }

  /** The file's text, or undefined when it does not exist. */
  read(name: StateFile): string | undefined {
    const p = this.file(name);
    let st;
    try {
      st = lstatSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new RmsClientError('state', `cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { cause: e });
    }
    if (!st.isFile()) throw new RmsClientError('state', `${p} is not a regular file`);
    if (st.size > MAX_STATE_FILE_BYTES) throw new RmsClientError('state', `${p} is larger than ${MAX_STATE_FILE_BYTES} bytes`);
    if (st.mode & 0o077) {
      chmodSync(p, FILE_MODE);
      this.log(`tightened the permissions of ${p} to 0600`);
    }
    try {
      return readFileSync(p, 'utf8');
    } catch (e) {
      throw new RmsClientError('state', `cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { cause: e });
    }
  }

  /** JSON content, or undefined when the file is absent or unreadable as JSON (logged: it will be rebuilt). */
  readJson<T>(name: StateFile): T | undefined {
    const text = this.read(name);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as T;
    } catch {
      this.log(`${this.file(name)} is not valid JSON; it will be replaced`);
      return undefined;
    }
  }

  write(name: StateFile, content: string): void {
    writeFileAtomically(this.file(name), content, FILE_MODE);
  }

  writeJson(name: StateFile, value: unknown): void {
    this.write(name, `${JSON.stringify(value, null, 2)}\n`);
  }

  remove(name: StateFile): void {
    rmSync(this.file(name), { force: true });
  }
}

/**
 * Writes `content` to `file` through a temporary file in the same folder (created exclusively with
 * `mode`), fsync, then rename over the target: readers see the old file or the new one. The
 * temporary file is removed if anything fails.
 */
export function writeFileAtomically(file: string, content: string | Buffer, mode = FILE_MODE): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', mode);
    const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    // The umask may have narrowed the mode; never widened it. Make it exact.
    chmodSync(tmp, mode);
    renameSync(tmp, file);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // Already renamed or never created.
    }
    throw new RmsClientError('state', `cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
}

/** Permission bits of a path (for tests and diagnostics). */
export function modeOf(p: string): number {
  return statSync(p).mode & 0o777;
}
