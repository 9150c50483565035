import type { AdmissionConfig } from '@openrms/config';

/** Why a request was turned away before any work was done for it. */
export type RejectionReason = 'queue_full' | 'wait_timeout' | 'client_gone';

/** A request's turn: call `release` exactly once when its work is done (answered or failed). */
export interface AdmissionTicket {
  release(): void;
}

export type AdmissionResult = { admitted: true; ticket: AdmissionTicket; waitedMs: number } | { admitted: false; reason: RejectionReason; waitedMs: number };

interface Waiting {
  enqueuedAt: number;
  signal: AbortSignal;
  settle(result: AdmissionResult): void;
  timer: NodeJS.Timeout;
  onAbort(): void;
}

/**
 * Admission control for the SOAP requests of one serving process: at most `concurrency` in work,
 * the next `queueLength` waiting in arrival order (oldest first), and no more. A request that
 * arrives to a full queue, or waits longer than `maxWaitMs`, is turned away at once so its client
 * can retry (503 + Retry-After) instead of waiting for an answer that comes too late; one whose
 * client hangs up while it waits leaves the queue and is never started.
 *
 * The next waiting request is started from setImmediate, not from the finishing request's own
 * callback: the event loop polls its sockets in between, so accepting connections, reading
 * requests and noticing closed sockets keep up however long the queue is.
 */
export class Admission {
  readonly #config: AdmissionConfig;
  readonly #queue: Waiting[] = [];
  /** Index of the oldest entry still in #queue (entries before it are spent); compacted now and then. */
  #head = 0;
  #inFlight = 0;
  #pumpScheduled = false;

  constructor(config: AdmissionConfig) {
    this.#config = config;
  }

  /** Requests being worked on now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Requests waiting for their turn. */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** No room to work on a request nor to let it wait: one arriving now would be refused. */
  get full(): boolean {
    return this.#inFlight >= this.#config.concurrency && this.queued >= this.#config.queueLength;
  }

  /** Seconds a turned-away client is told to wait (Retry-After): about one queue wait. */
  get retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.#config.maxWaitMs / 1000));
  }

  /**
   * Resolves when the request may start (the caller must release the ticket) or is turned away.
   * `signal` aborts when the client has gone.
   */
  acquire(signal: AbortSignal): Promise<AdmissionResult> {
    if (signal.aborted) return Promise.resolve({ admitted: false, reason: 'client_gone', waitedMs: 0 });
    if (this.#inFlight < this.#config.concurrency && this.queued === 0) {
      return Promise.resolve({ admitted: true, ticket: this.#ticket(), waitedMs: 0 });
    }
    if (this.queued >= this.#config.queueLength) return Promise.resolve({ admitted: false, reason: 'queue_full', waitedMs: 0 });
    return new Promise<AdmissionResult>((resolve) => {
      const enqueuedAt = performance.now();
      const entry: Waiting = {
        enqueuedAt,
        signal,
        settle: resolve,
        timer: setTimeout(() => this.#turnAway(entry, 'wait_timeout'), this.#config.maxWaitMs),
        onAbort: () => this.#turnAway(entry, 'client_gone'),
      };
      signal.addEventListener('abort', entry.onAbort, { once: true });
      this.#queue.push(entry);
    });
  }

  #ticket(): AdmissionTicket {
    this.#inFlight += 1;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#inFlight -= 1;
        this.#schedulePump();
      },
    };
  }

  #turnAway(entry: Waiting, reason: RejectionReason): void {
    const i = this.#queue.indexOf(entry, this.#head);
    if (i < 0) return;
    // Out of the middle: rare (timeouts leave from the front, hang-ups from anywhere), the queue is short.
    this.#queue.splice(i, 1);
    this.#done(entry);
    entry.settle({ admitted: false, reason, waitedMs: performance.now() - entry.enqueuedAt });
  }

  #done(entry: Waiting): void {
    clearTimeout(entry.timer);
    entry.signal.removeEventListener('abort', entry.onAbort);
  }

  #schedulePump(): void {
    if (this.#pumpScheduled || this.queued === 0) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  /** Starts the oldest waiting requests while there is room. */
  #pump(): void {
    while (this.#inFlight < this.#config.concurrency && this.queued > 0) {
      const entry = this.#queue[this.#head]!;
      this.#head += 1;
      this.#done(entry);
      const waitedMs = performance.now() - entry.enqueuedAt;
      if (entry.signal.aborted) entry.settle({ admitted: false, reason: 'client_gone', waitedMs });
      else entry.settle({ admitted: true, ticket: this.#ticket(), waitedMs });
    }
    if (this.#head > 64 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
  }
}
