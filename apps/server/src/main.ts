import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { loadServerConfig, readMemberConfig, readWorkerSlot, type ServerConfig, settingArgOptions, settingFlags } from '@openrms/config';
import { RmsError } from '@openrms/domain';
import { openStore } from '@openrms/store';
import type { Logger } from 'pino';
import { runClusterWorker, sendToSupervisor } from './cluster-worker';
import { createLogger, startServer } from './start-server';
import { stopOnSignals } from './stop-on-signals';
import { runSetupProcess } from './setup/setup-process';
import { orphanSpoolDirs, recoverSpools, runSupervisor, WorkerStartError } from './supervisor';

/** Process entry for one cluster member; `rmsctl serve` starts this with its flags. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      // Every setting of a member (docs/operations.md, "Configuration") and --config.
      ...settingArgOptions('serve'),
      setup: { type: 'boolean' },
    },
    strict: true,
  });
  // `serve --setup`: a set-up page until the server is provisioned or joined (apps/server/src/setup), in one process.
  if (values.setup) return runSetupProcess(values);
  // Flag > environment > the --config file (else RMS_CONFIG) > default.
  const config = loadServerConfig(settingFlags(values), undefined, readMemberConfig(values.config));
  if (cluster.isWorker) {
    // Forked by the supervisor below, with the same flags: one of its serving processes.
    const slot = readWorkerSlot() ?? 0;
    return runClusterWorker(config, slot, createLogger(config.logLevel).child({ worker: slot }));
  }
  const logger = createLogger(config.logLevel);
  for (const w of config.warnings ?? []) logger.warn(w);
  if (config.workers > 1) return runSupervisor(config, logger);
  await serveAlone(config, logger);
}

/** `--workers 1`: this process serves, runs the jobs and stops on signals by itself. */
async function serveAlone(config: ServerConfig, logger: Logger): Promise<void> {
  const orphans = orphanSpoolDirs(config.stateDir, 1);
  if (orphans.length > 0) {
    const store = await openStore(config.databaseUrl, { migrate: false });
    try {
      await recoverSpools(store, config, orphans, logger);
    } finally {
      await store.close();
    }
  }
  const running = await startServer(config, logger);
  process.stdout.write(`OpenRMS ${running.runtime.cluster.kind} cluster member listening on ${running.url}\n`);
  stopOnSignals(() => running.close(), logger);
}

/** The codes rmsctl uses (apps/cli/src/command.ts): 2 bad configuration, 4 wrong key password, 5 database missing, not OpenRMS's or at another schema version. */
function exitCodeOf(e: unknown): number {
  if (e instanceof WorkerStartError) return e.exitCode;
  const code = e instanceof RmsError ? ({ InvalidInput: 2, KeyPasswordInvalid: 4, NotProvisioned: 5, NotFound: 5 } as Record<string, number>)[e.code] : undefined;
  return code ?? 1;
}

main().catch((e: unknown) => {
  const msg = e instanceof RmsError || e instanceof WorkerStartError ? e.message : `unexpected error: ${(e as Error)?.message ?? String(e)}`;
  const code = exitCodeOf(e);
  if (cluster.isWorker) {
    // The supervisor prints it once for the member and ends with the same code.
    sendToSupervisor({ openrms: 'fatal', code, message: msg }, () => process.exit(code));
    setTimeout(() => process.exit(code), 2_000).unref();
    return;
  }
  process.stderr.write(`openrms server: ${msg}\n`);
  process.exit(code);
});
