/**
 * Publishing licences the member has never seen, for the cold AcquireLicense mix: each request of
 * that mix carries a PL of its own (only the user's RAC repeats), so nothing the member verified
 * or cached for one request helps the next. They are signed before each cold row, while the member
 * is idle, on one worker thread per core (cold-pl-worker.ts), and each is used once.
 */
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ColdPlWorkerData, ColdPlWorkerMessage } from './cold-pl-worker';

interface Thread {
  worker: Worker;
  next(): Promise<ColdPlWorkerMessage>;
}

/** A worker thread that runs a TypeScript file: it loads tsx's CommonJS hook first (Node 20 workers do not inherit tsx's loader). */
function tsWorker(file: string, data: ColdPlWorkerData): Thread {
  const code = `require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(file)});`;
  const worker = new Worker(code, { eval: true, execArgv: [], workerData: data });
  const queue: ColdPlWorkerMessage[] = [];
  const waiting: ((m: ColdPlWorkerMessage) => void)[] = [];
  const deliver = (m: ColdPlWorkerMessage) => {
    const w = waiting.shift();
    if (w) w(m);
    else queue.push(m);
  };
  worker.on('message', deliver);
  worker.on('error', (e) => deliver({ type: 'error', message: e.stack ?? String(e) }));
  worker.on('exit', (code) => deliver({ type: 'error', message: `the PL worker exited (code ${code})` }));
  return {
    worker,
    next: () => new Promise((resolve) => (queue.length ? resolve(queue.shift()!) : waiting.push(resolve))),
  };
}

async function expect<T extends ColdPlWorkerMessage['type']>(t: Thread, type: T): Promise<Extract<ColdPlWorkerMessage, { type: T }>> {
  const m = await t.next();
  if (m.type === 'error') throw new Error(`cold PL worker: ${m.message}`);
  if (m.type !== type) throw new Error(`cold PL worker: expected ${type}, got ${m.type}`);
  return m as Extract<ColdPlWorkerMessage, { type: T }>;
}

export class ColdPlPool {
  #chains: string[][] = [];
  #next = 0;
  #signMs = 0;
  #signed = 0;

  private constructor(private readonly threads: Thread[]) {}

  /** Starts the threads; each certifies a machine for `user` and gets its CLC from `serverUrl`. */
  static async start(o: ColdPlWorkerData & { threads?: number }): Promise<ColdPlPool> {
    const n = o.threads ?? availableParallelism();
    const file = path.join(__dirname, 'cold-pl-worker.ts');
    const { threads: _ignored, ...data } = o;
    const threads = Array.from({ length: n }, () => tsWorker(file, data));
    const pool = new ColdPlPool(threads);
    try {
      await Promise.all(threads.map((t) => expect(t, 'ready')));
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  /** PLs signed and not handed out yet. */
  get available(): number {
    return this.#chains.length - this.#next;
  }

  /** All PLs signed so far, and the wall milliseconds per PL it took (all threads together). */
  get stats(): { signed: number; wallMsPerPl: number | undefined } {
    return { signed: this.#signed, wallMsPerPl: this.#signed ? this.#signMs / this.#signed : undefined };
  }

  /** Signs PLs until at least `count` are available. */
  async fill(count: number): Promise<void> {
    const missing = count - this.available;
    if (missing <= 0) return;
    const started = performance.now();
    const per = Math.ceil(missing / this.threads.length);
    const parts = await Promise.all(
      this.threads.map(async (t) => {
        t.worker.postMessage({ n: per });
        return (await expect(t, 'chains')).chains;
      }),
    );
    // Drop what was handed out, so the pool does not keep every PL of the run.
    this.#chains = this.#chains.slice(this.#next);
    this.#next = 0;
    for (const p of parts) this.#chains.push(...p);
    this.#signMs += performance.now() - started;
    this.#signed += per * this.threads.length;
  }

  /** The next PL chain never handed out, or undefined when the pool is empty. */
  take(): string[] | undefined {
    return this.#next < this.#chains.length ? this.#chains[this.#next++] : undefined;
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }
}
