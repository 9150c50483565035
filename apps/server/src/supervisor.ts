import cluster, { type Worker } from 'node:cluster';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { type ServerConfig, WORKER_SLOT_ENV } from '@openrms/config';
import { ClusterRuntime } from '@openrms/issuance';
import { openStore, type Store } from '@openrms/store';
import { isToSupervisor, type ToWorker } from './cluster-messages';
import { SupervisorMetrics } from './cluster-metrics';
import { type InProcessJobs, startInProcessJobs } from './in-process-jobs';
import { SHUTDOWN_LIMIT_MS, stopOnSignals } from './stop-on-signals';

/** A worker that ran at least this long before it died starts its backoff afresh. */
const HEALTHY_RUN_MS = 30_000;
const FIRST_RESTART_DELAY_MS = 250;
const MAX_RESTART_DELAY_MS = 30_000;
/** How long a stopping supervisor waits for every worker to close its listener before it says so anyway. */
const STOP_ACCEPTING_WAIT_MS = 2_000;

/** A serving process's folder for its request-log spool: a replacement in the same slot recovers what it left. */
export function workerStateDir(stateDir: string, slot: number): string {
  return path.join(stateDir, `worker-${slot}`);
}

/** A worker that failed before the member was up: the supervisor ends with its message and exit code. */
export class WorkerStartError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

interface Slot {
  index: number;
  worker?: Worker;
  startedAt: number;
  ready: boolean;
  url?: string;
  /** Listener closed after a drain request (or the worker is gone). */
  notAccepting: boolean;
  /** Exited, and its last IPC message read. */
  closed: boolean;
  /** Quick deaths in a row, for the backoff. */
  failures: number;
  restartTimer?: NodeJS.Timeout;
  fatal?: { code: number; message: string };
}

/**
 * `serve --workers N` (N > 1): one supervisor and N serving processes sharing the port through
 * node:cluster. The supervisor checks what can fail at start (configuration, database and schema,
 * key password) before it forks anything, so those fail exactly as a single process does; runs the
 * in-process jobs once for the member (not once per worker); starts a worker again when one dies
 * (with backoff); answers /metrics requests of the workers with everyone's metrics; and on SIGTERM
 * or SIGINT has every worker drain. The supervisor does no request work: with node's round-robin
 * hand-out it only accepts connections and passes them on, so accepting never waits behind a
 * licence. See docs/adr/0014-admission-control-and-workers.md.
 */
export async function runSupervisor(config: ServerConfig, logger: Logger): Promise<void> {
  const store: Store = await openStore(config.databaseUrl, { migrate: false });
  let runtime: ClusterRuntime;
  try {
    // The key unwrapped once here: a wrong password fails now, before any worker exists. The
    // supervisor keeps it for the SLC renewal, as a single-process member does.
    runtime = await ClusterRuntime.open({
      store,
      keyPassword: config.keyPassword,
      serverName: config.serverName,
      stateDir: config.stateDir,
      hooks: {
        onRequestLogRecovered: (count) => logger.warn({ count }, 'request-log rows of an earlier run that never reached the database were written now'),
      },
    });
    await recoverSpools(store, config, orphanSpoolDirs(config.stateDir, config.workers), logger);
  } catch (e) {
    await store.close();
    throw e;
  }

  const slots: Slot[] = Array.from({ length: config.workers }, (_, index) => ({ index, startedAt: 0, ready: false, notAccepting: false, closed: false, failures: 0 }));
  const live = () => slots.filter((s) => s.worker && !s.worker.isDead()).length;
  const metrics = new SupervisorMetrics(() => slots.filter((s) => s.ready).length);
  let stopping = false;
  let started = false;
  let onSlotChange: () => void = () => undefined;

  const broadcast = (m: ToWorker) => {
    for (const s of slots) if (s.worker?.isConnected()) s.worker.send(m);
  };

  let jobs: InProcessJobs | undefined;
  if (!config.jobs.redisUrl) {
    jobs = startInProcessJobs({
      store,
      keyPassword: config.keyPassword,
      jobs: config.jobs,
      logger,
      serverName: config.serverName,
      renew: (o) => runtime.renewSlcIfDue(o),
      onRenewed: async () => {
        await runtime.refresh();
        // Every worker re-reads the chain within its refresh period anyway; this makes it now.
        broadcast({ openrms: 'refresh' });
      },
    });
    logger.info({ jobs: 'in-process', renewalEveryMs: config.jobs.renewalEveryMs, expiryEveryMs: config.jobs.expiryEveryMs }, 'no Redis configured: this server runs the SLC renewal and expiry sweep itself');
  } else {
    logger.info({ jobs: 'redis' }, 'Redis configured: `rmsctl worker` processes run the SLC renewal and expiry sweep');
  }

  // Round robin (node's default except on Windows), whatever NODE_CLUSTER_SCHED_POLICY says: this
  // process accepts and hands each connection to a worker that has taken the previous one.
  cluster.schedulingPolicy = cluster.SCHED_RR;
  const fork = (slot: Slot) => {
    slot.ready = false;
    slot.notAccepting = false;
    slot.closed = false;
    slot.fatal = undefined;
    slot.startedAt = Date.now();
    const worker = cluster.fork({ [WORKER_SLOT_ENV]: String(slot.index) });
    slot.worker = worker;
    // A message to a worker that is just exiting fails; its exit is handled below.
    worker.on('error', (e: Error) => logger.debug({ worker: slot.index, err: e.message }, 'worker IPC error'));
    worker.on('message', (m: unknown) => {
      if (!isToSupervisor(m)) return;
      switch (m.openrms) {
        case 'ready':
          slot.ready = true;
          slot.url = m.url;
          if (started) logger.info({ worker: slot.index, pid: worker.process.pid }, 'worker process started again and serving');
          onSlotChange();
          break;
        case 'not-accepting':
          slot.notAccepting = true;
          onSlotChange();
          break;
        case 'fatal':
          slot.fatal = { code: m.code, message: m.message };
          break;
        case 'metrics':
          metrics.onWorkerMessage(m);
          break;
        case 'scrape': {
          const reply = (r: ToWorker) => {
            if (worker.isConnected()) worker.send(r);
          };
          metrics.scrape(slots.flatMap((s) => (s.worker && s.ready ? [s.worker] : []))).then(
            (text) => reply({ openrms: 'scrape-result', id: m.id, text }),
            (e: unknown) => reply({ openrms: 'scrape-result', id: m.id, error: (e as Error)?.message ?? String(e) }),
          );
          break;
        }
      }
    });
    // 'close', not 'exit': it comes after the last IPC message (a 'fatal' sent just before exiting).
    worker.process.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      if (slot.worker !== worker) return;
      const wasReady = slot.ready;
      slot.ready = false;
      slot.notAccepting = true;
      slot.closed = true;
      if (stopping || !started) {
        onSlotChange();
        return;
      }
      const lived = Date.now() - slot.startedAt;
      slot.failures = lived >= HEALTHY_RUN_MS ? 1 : slot.failures + 1;
      const delay = Math.min(MAX_RESTART_DELAY_MS, FIRST_RESTART_DELAY_MS * 2 ** (slot.failures - 1));
      logger.error(
        { worker: slot.index, pid: worker.process.pid, code, signal, ranMs: lived, wasServing: wasReady, restartInMs: delay, ...(slot.fatal ? { reason: slot.fatal.message } : {}) },
        'worker process exited; starting another',
      );
      metrics.observeRestart();
      slot.restartTimer = setTimeout(() => {
        slot.restartTimer = undefined;
        if (!stopping) fork(slot);
      }, delay);
      onSlotChange();
    });
  };

  // Every worker must come up once; the first that fails ends the start with its code and message.
  const url = await new Promise<string>((resolve, reject) => {
    onSlotChange = () => {
      const failed = slots.find((s) => s.closed);
      if (failed) {
        const code = failed.fatal?.code ?? (failed.worker!.process.exitCode || 1);
        reject(new WorkerStartError(code, failed.fatal?.message ?? `a serving process exited during start-up (${failed.worker!.process.signalCode ?? `code ${code}`})`));
        return;
      }
      if (slots.every((s) => s.ready)) resolve(slots[0]!.url!);
    };
    for (const s of slots) fork(s);
  }).catch(async (e: unknown) => {
    stopping = true;
    await stopWorkers(slots, 'SIGTERM', 5_000);
    await jobs?.close();
    await runtime.close();
    await store.close();
    throw e;
  });
  started = true;
  onSlotChange = () => undefined;

  process.stdout.write(`OpenRMS ${runtime.cluster.kind} cluster member listening on ${url}\n`);
  logger.info({ url, workers: config.workers, pids: slots.map((s) => s.worker?.process.pid) }, 'supervisor: every worker process is serving');

  // However the supervisor ends, no worker outlives it (one stuck in a loop would not notice the
  // closed IPC channel that otherwise ends it).
  process.on('exit', () => {
    for (const s of slots) if (s.worker && !s.worker.isDead()) s.worker.process.kill('SIGKILL');
  });

  stopOnSignals(
    async (reason) => {
      const deadline = Date.now() + SHUTDOWN_LIMIT_MS - 1_000;
      stopping = true;
      for (const s of slots) clearTimeout(s.restartTimer);
      // Each worker stops accepting (the hand-out leaves it out), answers what it has, and exits.
      const accepting = new Promise<void>((resolve) => {
        const check = () => {
          if (slots.every((s) => s.notAccepting || !s.worker || s.worker.isDead())) resolve();
        };
        onSlotChange = check;
        setTimeout(resolve, STOP_ACCEPTING_WAIT_MS).unref();
        check();
      });
      for (const s of slots) {
        if (s.worker?.isConnected() && s.ready) s.worker.send({ openrms: 'drain' } satisfies ToWorker);
        else s.worker?.process.kill('SIGTERM');
      }
      await accepting;
      logger.info({ sig: reason, workers: live() }, 'shutting down');
      await waitForExit(slots, deadline - Date.now());
      // Whatever is still there after the workers' own limit goes now.
      await stopWorkers(slots, 'SIGKILL', 500);
      await jobs?.close();
      await runtime.close();
      await store.close();
    },
    logger,
    { announce: false },
  );
}

function waitForExit(slots: Slot[], ms: number): Promise<void> {
  const alive = slots.flatMap((s) => (s.worker && !s.worker.isDead() ? [s.worker] : []));
  if (alive.length === 0 || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    let left = alive.length;
    for (const w of alive) {
      w.once('exit', () => {
        left -= 1;
        if (left === 0) {
          clearTimeout(timer);
          resolve();
        }
      });
    }
  });
}

async function stopWorkers(slots: Slot[], signal: NodeJS.Signals, waitMs: number): Promise<void> {
  for (const s of slots) {
    clearTimeout(s.restartTimer);
    if (s.worker && !s.worker.isDead()) s.worker.process.kill(signal);
  }
  await waitForExit(slots, waitMs);
}

/**
 * The spool folders of worker slots a run with `workers` serving processes does not have (0 for a
 * single process, which spools in the state directory itself) that still hold rows: the member ran
 * with more workers before and was killed.
 */
export function orphanSpoolDirs(stateDir: string, workers: number): string[] {
  if (!existsSync(stateDir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(stateDir)) {
    const m = /^worker-(\d+)$/.exec(name);
    if (!m || (workers > 1 && Number(m[1]) < workers)) continue;
    const dir = path.join(stateDir, name);
    try {
      if (readdirSync(dir).some((f) => f.endsWith('.ndjson') && statSync(path.join(dir, f)).size > 0)) out.push(dir);
    } catch {
      // Not a folder we can read: nothing of ours.
    }
  }
  return out;
}

/**
 * Writes the rows of those folders to the database now, so none waits for a later start with
 * more workers. Rare; each folder costs one more opening of the runtime.
 */
export async function recoverSpools(store: Store, config: ServerConfig, dirs: string[], logger: Logger): Promise<void> {
  for (const dir of dirs) {
    const rt = await ClusterRuntime.open({
      store,
      keyPassword: config.keyPassword,
      serverName: config.serverName,
      stateDir: dir,
      refreshMs: 0,
      hooks: { onRequestLogRecovered: (count) => logger.warn({ count, from: dir }, 'request-log rows of an earlier run that never reached the database were written now') },
    });
    await rt.close();
  }
}
