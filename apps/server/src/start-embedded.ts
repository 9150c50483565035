import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { embeddedDefaults, loadServerConfig, readEmbeddedCredentials, writeEmbeddedCredentials } from '@openrms/config';
import { RmsError } from '@openrms/domain';
import { provisionRootCluster } from '@openrms/issuance';
import { createLogger, startServer } from './start-server';
import { stopOnSignals } from './stop-on-signals';

const secret = () => randomBytes(18).toString('base64url');

/**
 * The first start writes the listen port into the cluster URL for good, so a busy port must stop
 * it before anything is provisioned, not at listen time. Port 0 (any free port) needs no check.
 */
async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new RmsError(
          'InvalidInput',
          e.code === 'EADDRINUSE'
            ? `port ${port} is already in use (${where}); stop what listens there or choose another address with RMS_LISTEN=host:port; nothing was written`
            : `cannot listen on ${where} (${e.code ?? e.message}); choose another address with RMS_LISTEN=host:port; nothing was written`,
        ),
      ),
    );
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/**
 * `pnpm start`: a root cluster on the embedded default (SQLite under ./data). The first start
 * provisions it and writes the generated administrator and key passwords to a 0600 file.
 */
async function main(): Promise<void> {
  const d = embeddedDefaults();
  await assertPortFree(d.listen.host, d.listen.port);
  let creds = readEmbeddedCredentials(d.credentialsFile);
  if (!creds) {
    const dbFile = d.databaseUrl.slice('sqlite:'.length);
    if (existsSync(dbFile)) {
      throw new RmsError('InvalidInput', `${dbFile} exists but ${d.credentialsFile} does not; restore the credentials file or move the database away`);
    }
    creds = {
      adminName: 'admin',
      adminPassword: secret(),
      keyPassword: secret(),
      clusterUrl: d.clusterUrl,
      databaseUrl: d.databaseUrl,
      createdAt: new Date().toISOString(),
    };
    // Credentials first: a crash after provisioning must not leave a cluster nobody can open.
    writeEmbeddedCredentials(d.credentialsFile, creds);
    await provisionRootCluster({
      databaseUrl: creds.databaseUrl,
      clusterUrl: creds.clusterUrl,
      serviceAccount: 'rms-service',
      admin: { name: creds.adminName, password: creds.adminPassword },
      keyPassword: creds.keyPassword,
      revocation: { kind: 'standard' },
      serverName: hostname(),
    });
    process.stdout.write(`Provisioned a root cluster at ${creds.clusterUrl} in ${creds.databaseUrl}\n`);
    process.stdout.write(`Administrator "${creds.adminName}" password and the cluster key password are in ${d.credentialsFile} (mode 0600)\n`);
  } else {
    process.stdout.write(`Using the root cluster in ${creds.databaseUrl}; credentials in ${d.credentialsFile}\n`);
  }
  const listen = `${d.listen.host.includes(':') ? `[${d.listen.host}]` : d.listen.host}:${d.listen.port}`;
  const config = loadServerConfig({ database: creds.databaseUrl, listen, keyPassword: creds.keyPassword });
  const logger = createLogger(config.logLevel);
  const running = await startServer(config, logger);
  process.stdout.write(`OpenRMS root cluster listening on ${running.url} (try ${running.url}/_wmcs/licensing/server.asmx?wsdl)\n`);
  stopOnSignals(() => running.close(), logger);
}

main().catch((e: unknown) => {
  const msg = e instanceof RmsError ? e.message : `unexpected error: ${(e as Error)?.message ?? String(e)}`;
  process.stderr.write(`openrms start: ${msg}\n`);
  process.exit(1);
});
