import type { Worker } from 'node:cluster';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import { isToWorker, type ToSupervisor, type ToWorker } from './cluster-messages';
import type { ServerMetrics } from './metrics';

/** A worker that does not answer in this long is left out of the scrape (it may be busy dying). */
const WORKER_SCRAPE_TIMEOUT_MS = 3000;

/**
 * The supervisor's side of /metrics under `serve --workers N`: asks every live worker for its
 * registry over IPC and sums them with prom-client's AggregatorRegistry (each metric by its
 * `aggregator`: counters and histograms summed, per-cluster gauges taken once), together with the
 * supervisor's own process counts. A worker that does not answer in time is left out rather than
 * failing the scrape.
 */
export class SupervisorMetrics {
  readonly registry = new Registry();
  readonly #restarts: Counter;
  #nextId = 0;
  readonly #pending = new Map<number, (metrics: object[] | undefined) => void>();

  constructor(live: () => number) {
    const registers = [this.registry];
    new Gauge({
      name: 'openrms_workers',
      help: 'Serving processes of this member that are up (serve --workers)',
      registers,
      collect() {
        this.set(live());
      },
    });
    this.#restarts = new Counter({
      name: 'openrms_worker_restarts_total',
      help: 'Serving processes the supervisor started again after one exited unasked',
      registers,
    });
  }

  observeRestart(): void {
    this.#restarts.inc();
  }

  /** A worker's answer to a metrics request (the supervisor's message handler passes it on). */
  onWorkerMessage(m: ToSupervisor): void {
    if (m.openrms !== 'metrics') return;
    const done = this.#pending.get(m.id);
    this.#pending.delete(m.id);
    done?.(m.error ? undefined : m.metrics);
  }

  #ask(worker: Worker): Promise<object[] | undefined> {
    if (!worker.isConnected()) return Promise.resolve(undefined);
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve(undefined);
      }, WORKER_SCRAPE_TIMEOUT_MS);
      this.#pending.set(id, (metrics) => {
        clearTimeout(timer);
        resolve(metrics);
      });
      const message: ToWorker = { openrms: 'metrics-request', id };
      try {
        worker.send(message);
      } catch {
        clearTimeout(timer);
        this.#pending.delete(id);
        resolve(undefined);
      }
    });
  }

  /** Every live worker's metrics and the supervisor's, as Prometheus text. */
  async scrape(workers: Worker[]): Promise<string> {
    const answers = await Promise.all(workers.map((w) => this.#ask(w)));
    const all = [...answers.filter((a): a is object[] => a !== undefined), await this.registry.getMetricsAsJSON()];
    return AggregatorRegistry.aggregate(all).metrics();
  }
}

/**
 * A worker's side: hands its registry to the supervisor when asked, and answers its own /metrics
 * requests with what the supervisor sums (so one scrape of the shared port sees the whole member).
 */
export function workerMetricsBridge(send: (m: ToSupervisor) => void): { scrape(): Promise<string>; share(local: ServerMetrics): void } {
  let local: ServerMetrics | undefined;
  let nextId = 0;
  const pending = new Map<number, { resolve(text: string): void; reject(e: Error): void }>();
  process.on('message', (m: unknown) => {
    if (!isToWorker(m)) return;
    if (m.openrms === 'metrics-request') {
      if (!local) return send({ openrms: 'metrics', id: m.id, error: 'not started' });
      local.registry.getMetricsAsJSON().then(
        (metrics) => send({ openrms: 'metrics', id: m.id, metrics }),
        (e: unknown) => send({ openrms: 'metrics', id: m.id, error: (e as Error)?.message ?? String(e) }),
      );
    } else if (m.openrms === 'scrape-result') {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.text !== undefined) p?.resolve(m.text);
      else p?.reject(new Error(m.error ?? 'the supervisor could not collect the metrics'));
    }
  });
  return {
    share(m) {
      local = m;
    },
    scrape() {
      const id = nextId++;
      return new Promise<string>((resolve, reject) => {
        // Longer than the supervisor's own wait for the slowest worker.
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error('the supervisor did not answer the metrics request'));
        }, WORKER_SCRAPE_TIMEOUT_MS + 2000);
        pending.set(id, {
          resolve: (t) => {
            clearTimeout(timer);
            resolve(t);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        send({ openrms: 'scrape', id });
      });
    },
  };
}
