import { parseArgs } from 'node:util';
import { loadServerConfig } from '@openrms/config';
import { RmsError } from '@openrms/domain';
import { createLogger, startServer } from './start-server';

/** Process entry for one cluster member; `rmsctl serve` starts this with its flags. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      database: { type: 'string' },
      listen: { type: 'string' },
      'key-password-env': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'max-body': { type: 'string' },
      'server-name': { type: 'string' },
      redis: { type: 'string' },
      keytab: { type: 'string' },
      spn: { type: 'string' },
      'krb5-config': { type: 'string' },
      auth: { type: 'string' },
    },
    strict: true,
  });
  const config = loadServerConfig({
    database: values.database,
    listen: values.listen,
    keyPasswordEnv: values['key-password-env'],
    tlsCert: values['tls-cert'],
    tlsKey: values['tls-key'],
    maxBodyBytes: values['max-body'],
    serverName: values['server-name'],
    redis: values.redis,
    keytab: values.keytab,
    spn: values.spn,
    krb5Config: values['krb5-config'],
    auth: values.auth,
  });
  const logger = createLogger(config.logLevel);
  const running = await startServer(config, logger);
  process.stdout.write(`OpenRMS ${running.runtime.cluster.kind} cluster member listening on ${running.url}\n`);
  let closing = false;
  const stop = (sig: string) => {
    if (closing) return;
    closing = true;
    logger.info({ sig }, 'shutting down');
    running.close().then(
      () => process.exit(0),
      (e: unknown) => {
        logger.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: unknown) => {
  const msg = e instanceof RmsError ? e.message : `unexpected error: ${(e as Error)?.message ?? String(e)}`;
  process.stderr.write(`openrms server: ${msg}\n`);
  process.exit(e instanceof RmsError && e.code === 'KeyPasswordInvalid' ? 4 : 1);
});
