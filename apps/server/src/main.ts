import { parseArgs } from 'node:util';
import { loadServerConfig, readMemberConfig, settingArgOptions, settingFlags } from '@openrms/config';
import { RmsError } from '@openrms/domain';
import { createLogger, startServer } from './start-server';
import { stopOnSignals } from './stop-on-signals';
import { runSetupProcess } from './setup/setup-process';

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
  // `serve --setup`: a set-up page until the server is provisioned or joined (apps/server/src/setup).
  if (values.setup) return runSetupProcess(values);
  // Flag > environment > the --config file (else RMS_CONFIG) > default.
  const config = loadServerConfig(settingFlags(values), undefined, readMemberConfig(values.config));
  const logger = createLogger(config.logLevel);
  for (const w of config.warnings ?? []) logger.warn(w);
  const running = await startServer(config, logger);
  process.stdout.write(`OpenRMS ${running.runtime.cluster.kind} cluster member listening on ${running.url}\n`);
  stopOnSignals(() => running.close(), logger);
}

main().catch((e: unknown) => {
  const msg = e instanceof RmsError ? e.message : `unexpected error: ${(e as Error)?.message ?? String(e)}`;
  process.stderr.write(`openrms server: ${msg}\n`);
  // The codes rmsctl uses (apps/cli/src/command.ts): 2 bad configuration, 4 wrong key password, 5 database missing, not OpenRMS's or at another schema version.
  const code = e instanceof RmsError ? ({ InvalidInput: 2, KeyPasswordInvalid: 4, NotProvisioned: 5, NotFound: 5 } as Record<string, number>)[e.code] : undefined;
  process.exit(code ?? 1);
});
