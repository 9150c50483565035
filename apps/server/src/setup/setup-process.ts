import { loadSetupConfig, readMemberConfig, settingFlags } from '@openrms/config';
import { createLogger } from '../start-server';
import { stopOnSignals } from '../stop-on-signals';
import { serveWithSetup } from './serve-with-setup';

/** main.ts with `--setup` (its parsed flags): the set-up page until a form succeeds, then this process serves the cluster. */
export async function runSetupProcess(values: Readonly<Record<string, unknown>>): Promise<void> {
  // Flag > environment > the --config file (else RMS_CONFIG) > default, as for `serve`.
  const config = loadSetupConfig(settingFlags(values), undefined, readMemberConfig(typeof values.config === 'string' ? values.config : undefined));
  const logger = createLogger(config.base.logLevel);
  for (const w of config.base.warnings ?? []) logger.warn(w);
  const setup = await serveWithSetup(config, logger, (line) => process.stdout.write(`${line}\n`));
  void setup.served.then((running) => {
    process.stdout.write(`OpenRMS ${running.runtime.cluster.kind} cluster member listening on ${running.url}\n`);
  });
  stopOnSignals(() => setup.close(), logger);
}
