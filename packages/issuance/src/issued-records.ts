import { isRmsError } from '@openrms/domain';
import type { IssuedRecord, Store } from '@openrms/store';

interface Waiting {
  record: IssuedRecord;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** Records written together at most (the rest wait for the next batch). */
const MAX_BATCH = 1000;

/**
 * Group commit of the `issued` records: every certificate and licence is recorded before its
 * answer leaves (as before), but the records of the requests that reach this point in the same
 * turn of the event loop, or while the previous batch is being written, go into the database
 * together (`recordMany`: one multi-row INSERT, all or none). Each caller's promise settles only
 * when the statement holding its record has committed (or failed), so the durability of an
 * answered request is unchanged; what changes is one commit (one WAL fsync on SQLite, one round
 * trip on PostgreSQL) per batch instead of per document, and far fewer turns at the write lock
 * the server processes share.
 *
 * A batch that fails on a constraint is written again row by row, so one bad record fails only
 * its own request; any other failure (the database is gone, the lock never came) fails the batch.
 */
export class IssuedRecorder {
  #waiting: Waiting[] = [];
  #scheduled = false;
  #writing: Promise<void> | undefined;
  #batches = 0;
  #records = 0;

  constructor(private readonly store: Pick<Store, 'issued'>) {}

  record(record: IssuedRecord): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push({ record, resolve, reject });
      this.#schedule();
    });
  }

  /** Batches written and records in them, so far (tests and diagnostics). */
  stats(): { batches: number; records: number; waiting: number } {
    return { batches: this.#batches, records: this.#records, waiting: this.#waiting.length };
  }

  /** Resolves when every record handed in so far has been written or has failed. */
  async settled(): Promise<void> {
    while (this.#writing || this.#scheduled || this.#waiting.length > 0) {
      await (this.#writing ?? new Promise((resolve) => setImmediate(resolve)));
    }
  }

  #schedule(): void {
    // One batch at a time: what arrives meanwhile is the next batch, started when this one is done.
    if (this.#scheduled || this.#writing) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#writing = this.#writeBatch().finally(() => {
        this.#writing = undefined;
        if (this.#waiting.length > 0) this.#schedule();
      });
    });
  }

  async #writeBatch(): Promise<void> {
    const batch = this.#waiting.splice(0, MAX_BATCH);
    if (batch.length === 0) return;
    try {
      await this.store.issued.recordMany(batch.map((w) => w.record));
      this.#batches++;
      this.#records += batch.length;
      for (const w of batch) w.resolve();
    } catch (e) {
      if (batch.length === 1 || !(isRmsError(e, 'AlreadyExists') || isRmsError(e, 'NotFound'))) {
        for (const w of batch) w.reject(e);
        return;
      }
      for (const w of batch) {
        try {
          await this.store.issued.recordMany([w.record]);
          this.#records++;
          w.resolve();
        } catch (one) {
          w.reject(one);
        }
      }
    }
  }
}
