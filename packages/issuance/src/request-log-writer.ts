import type { RequestLogEvent } from '@openrms/store';
import type { RequestLogSpool } from './request-log-spool';

export interface RequestLogSink {
  appendMany(rows: RequestLogEvent[]): Promise<number>;
}

export interface RequestLogStats {
  /** Rows waiting to be written. */
  queued: number;
  written: number;
  /** Rows given up because the queue was full while the database was failing. */
  dropped: number;
  /** Flushes that failed; their rows stay queued and are retried. */
  failedFlushes: number;
}

export interface RequestLogWriterOptions {
  flushMs?: number;
  batchSize?: number;
  /** Upper bound on memory: past it the oldest rows are dropped, and counted. */
  maxQueued?: number;
  onFlushError?(err: unknown, stats: RequestLogStats): void;
  onDrop?(count: number, stats: RequestLogStats): void;
  /** Each row also goes to this file first, so a crash of the process loses none (see RequestLogSpool). */
  spool?: RequestLogSpool;
}

/**
 * Writes the request log in the background, in batches. Recording never waits for and never fails
 * on the database: an outage keeps rows queued (bounded), and anything that has to be dropped is
 * counted in `stats().dropped` and reported through `onDrop`.
 */
export class RequestLogWriter {
  #queue: RequestLogEvent[] = [];
  #flushing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #stats = { written: 0, dropped: 0, failedFlushes: 0 };
  readonly #flushMs: number;
  readonly #batchSize: number;
  readonly #maxQueued: number;

  constructor(
    private readonly sink: RequestLogSink,
    private readonly opts: RequestLogWriterOptions = {},
  ) {
    this.#flushMs = opts.flushMs ?? 1000;
    this.#batchSize = opts.batchSize ?? 500;
    this.#maxQueued = opts.maxQueued ?? 50_000;
    this.#timer = setInterval(() => void this.flush(), this.#flushMs);
    this.#timer.unref();
  }

  record(event: RequestLogEvent): void {
    try {
      this.opts.spool?.append(event);
    } catch (err) {
      // A full disk must not stop the service: the row still goes to the database as before.
      this.opts.onFlushError?.(err, this.stats());
    }
    this.#queue.push(event);
    const over = this.#queue.length - this.#maxQueued;
    if (over > 0) {
      this.#queue.splice(0, over);
      this.#stats.dropped += over;
      this.opts.onDrop?.(over, this.stats());
    }
    if (this.#queue.length >= this.#batchSize) void this.flush();
  }

  stats(): RequestLogStats {
    return { queued: this.#queue.length, ...this.#stats };
  }

  /** Writes what is queued; concurrent calls share one flush. Never rejects. */
  flush(): Promise<void> {
    if (!this.#flushing) {
      this.#flushing = this.#drain().finally(() => {
        this.#flushing = undefined;
      });
    }
    return this.#flushing;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.slice(0, this.#batchSize);
      try {
        await this.sink.appendMany(batch);
      } catch (err) {
        this.#stats.failedFlushes++;
        this.opts.onFlushError?.(err, this.stats());
        return;
      }
      // Only now leave the queue: rows recorded meanwhile stay behind the batch.
      this.#queue.splice(0, batch.length);
      this.#stats.written += batch.length;
    }
    try {
      this.opts.spool?.settle(this.#queue);
    } catch (err) {
      this.opts.onFlushError?.(err, this.stats());
    }
  }

  /** Stops the timer and writes what is left (one attempt). */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
    this.opts.spool?.close();
  }
}
