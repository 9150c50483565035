import type { Logger } from 'pino';
import type { ServerConfig } from '@openrms/config';
import { isToWorker, type ToSupervisor } from './cluster-messages';
import { workerMetricsBridge } from './cluster-metrics';
import { startServer } from './start-server';
import { SHUTDOWN_LIMIT_MS, stopOnSignals } from './stop-on-signals';
import { workerStateDir } from './supervisor';

/** Messages to the supervisor; silently nothing once the channel is gone (the worker is exiting then). */
export function sendToSupervisor(m: ToSupervisor, then?: () => void): void {
  if (!process.connected || !process.send) {
    then?.();
    return;
  }
  process.send(m, undefined, {}, () => then?.());
}

/**
 * One serving process under the supervisor (supervisor.ts): the same server as a single-process
 * member, on the shared port, with its own request-log spool folder (that of its slot) and no
 * jobs of its own. It drains on the supervisor's word as on SIGTERM; SIGINT and SIGTERM sent to
 * it directly (Ctrl-C reaches the whole process group, systemd signals every process of the unit)
 * drain it too.
 */
export async function runClusterWorker(config: ServerConfig, slot: number, logger: Logger): Promise<void> {
  const running = await startServer({ ...config, stateDir: workerStateDir(config.stateDir, slot) }, logger, {
    inProcessJobs: false,
    metricsBridge: workerMetricsBridge((m) => sendToSupervisor(m)),
  });
  const stop = stopOnSignals(
    (reason) => {
      // close() stops listening before it returns its promise, so the supervisor hears this after
      // node's own message that takes this process out of the connection hand-out.
      const closing = running.close();
      sendToSupervisor({ openrms: 'not-accepting' });
      // Not "shutting down": the member says that once no worker accepts any more (supervisor.ts).
      logger.info({ sig: reason }, 'worker draining');
      return closing;
    },
    logger,
    // Inside the supervisor's limit, so the supervisor sees it exit rather than killing it.
    { announce: false, limitMs: SHUTDOWN_LIMIT_MS - 1_500 },
  );
  process.on('message', (m: unknown) => {
    if (!isToWorker(m)) return;
    if (m.openrms === 'drain') stop('supervisor');
    else if (m.openrms === 'refresh') {
      running.runtime.refresh().catch((e: unknown) => logger.warn({ err: (e as Error)?.message }, 'refresh after the SLC renewal failed; the next periodic refresh retries'));
    }
  });
  sendToSupervisor({ openrms: 'ready', url: running.url });
}
