import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { RequestLogEvent } from '@openrms/store';

/**
 * The request-log rows a member has recorded but not yet written to the database, kept in an
 * append-only file of its own: a row is in the file (the kernel's hands) before the answer leaves,
 * so a member killed with SIGKILL loses none; the next start puts the rows the database does not
 * have yet into it. One file per member (`request-log-<server>.ndjson` in its state directory).
 */
export class RequestLogSpool {
  #fd: number;
  /** Rows in the file: when all of them are in the database the file is emptied. */
  #rows = 0;
  #closed = false;

  constructor(readonly file: string) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    this.#fd = openSync(file, 'a+', 0o600);
    this.#rows = RequestLogSpool.read(file).length;
  }

  static forServer(stateDir: string, serverName: string): RequestLogSpool {
    return new RequestLogSpool(path.join(stateDir, `request-log-${serverName.replace(/[^A-Za-z0-9._-]/g, '_')}.ndjson`));
  }

  /** The rows a previous process left (a torn last line, from a crash mid-write, is skipped). */
  static read(file: string): RequestLogEvent[] {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return [];
    }
    const out: RequestLogEvent[] = [];
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const r = JSON.parse(line) as RequestLogEvent & { at: string };
        out.push({ ...r, at: new Date(r.at) });
      } catch {
        // A partial line: the process died while writing it, before its answer was sent.
      }
    }
    return out;
  }

  pending(): RequestLogEvent[] {
    return RequestLogSpool.read(this.file);
  }

  append(event: RequestLogEvent): void {
    if (this.#closed) return;
    writeSync(this.#fd, `${JSON.stringify(event)}\n`);
    this.#rows += 1;
  }

  /**
   * Everything the writer still holds is `remaining` (oldest first): the file is rewritten to
   * exactly those rows, or emptied when there are none. Called after a successful flush.
   */
  settle(remaining: readonly RequestLogEvent[]): void {
    if (this.#closed) return;
    if (remaining.length === 0) {
      ftruncateSync(this.#fd, 0);
      this.#rows = 0;
      return;
    }
    // Rewriting costs a copy of what is queued: do it only when the file has grown well past it.
    if (this.#rows < remaining.length * 2 + 1000 && fstatSync(this.#fd).size < 64 * 1024 * 1024) return;
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      for (const e of remaining) writeSync(fd, `${JSON.stringify(e)}\n`);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    closeSync(this.#fd);
    this.#fd = openSync(this.file, 'a+', 0o600);
    this.#rows = remaining.length;
  }

  /** Idempotent: a runtime closed twice must not fail the second time. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.#fd);
  }
}
