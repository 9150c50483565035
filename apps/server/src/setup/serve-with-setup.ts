import { existsSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { SetupConfig } from '@openrms/config';
import { isRmsError } from '@openrms/domain';
import { openStore, parseDatabaseUrl, redactDatabaseUrl } from '@openrms/store';
import { type RunningServer, startServer } from '../start-server';
import { setupApp } from './setup-app';
import { type DatabaseFinding, SETUP_PATH } from './setup-pages';
import { SetupToken } from './setup-token';

/** What `serve --setup` runs: the set-up page until a form succeeds, then the cluster, on the same socket. */
export interface SetupServer {
  url: string;
  /** The link with the token; undefined when nothing was left to set up and the cluster is served at once. */
  setupUrl?: string;
  /** Resolves with the member once set-up has completed (at once when nothing was left to set up). */
  served: Promise<RunningServer>;
  close(): Promise<void>;
}

/**
 * Reads the database without changing it: no migrations, and a SQLite file that is not there is
 * not created by looking.
 */
export async function probeDatabase(databaseUrl: string): Promise<DatabaseFinding> {
  const display = redactDatabaseUrl(databaseUrl);
  try {
    const parsed = parseDatabaseUrl(databaseUrl);
    if (parsed.sqliteFile !== undefined && !existsSync(parsed.sqliteFile)) return { state: 'empty', display: parsed.display };
    // An existing but empty database is set up here (the file check above keeps a typo from creating one).
    const store = await openStore(databaseUrl, { migrate: false, create: true });
    try {
      if ((await store.schemaVersion()) === 0) return { state: 'empty', display: store.displayUrl };
      const cluster = await store.clusters.find();
      if (!cluster) return { state: 'empty', display: store.displayUrl };
      const servers = await store.servers.list(cluster.id);
      const serviceAccount = servers.map((s) => s.serviceAccount).find((a): a is string => typeof a === 'string');
      return { state: 'cluster', display: store.displayUrl, kind: cluster.kind, clusterId: cluster.id, url: cluster.url, serviceAccount };
    } finally {
      await store.close();
    }
  } catch (e) {
    return { state: 'unreachable', display, reason: isRmsError(e) ? e.message : 'the database did not answer as expected' };
  }
}

/**
 * `rmsctl serve --setup`. When the configuration database already holds a cluster and the key
 * password is in the environment there is nothing to set up: the member starts as `serve` would,
 * so the same command line keeps working after set-up (under systemd, say). Otherwise it listens
 * with the set-up app only, prints the one-time link through `announce`, and on the first
 * successful form opens the cluster runtime and hands it the socket.
 */
export async function serveWithSetup(config: SetupConfig, logger: Logger, announce: (line: string) => void): Promise<SetupServer> {
  const databaseUrl = config.databaseUrl;
  if (databaseUrl && config.keyPassword) {
    const found = await probeDatabase(databaseUrl);
    if (found.state === 'cluster') {
      announce(`OpenRMS set-up: ${found.display} holds the ${found.kind} cluster ${found.clusterId} and the key password is set; nothing to set up`);
      const running = await startServer(config.serverConfig(databaseUrl, config.keyPassword), logger);
      return { url: running.url, served: Promise.resolve(running), close: () => running.close() };
    }
  }
  const { base } = config;
  const token = new SetupToken();
  let resolveServed!: (r: RunningServer) => void;
  const served = new Promise<RunningServer>((resolve) => {
    resolveServed = resolve;
  });
  let running: RunningServer | undefined;
  let server: Server;
  const app = setupApp({
    token,
    logger,
    secure: base.tls !== undefined,
    databaseUrl,
    serverName: base.serverName,
    finding: () => (databaseUrl ? probeDatabase(databaseUrl) : Promise.resolve({ state: 'none' } as const)),
    async serve(db, keyPassword, serverName) {
      running = await startServer(config.serverConfig(db, keyPassword, serverName), logger, { server });
      resolveServed(running);
    },
  });
  const serverOptions = { maxHeaderSize: 80 * 1024 };
  server = base.tls ? createHttpsServer({ ...serverOptions, cert: base.tls.cert, key: base.tls.key }, app) : createHttpServer(serverOptions, app);
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(base.listen.port, base.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `${base.tls ? 'https' : 'http'}://${host}:${addr.port}`;
  // A wildcard address is no place to point a browser at.
  const shown = url.replace(/^(https?:\/\/)(0\.0\.0\.0|\[::\])(?=:)/, '$1localhost');
  const setupUrl = `${shown}${SETUP_PATH}?token=${token.reveal()}`;
  // The token goes to the operator's console (stdout), never through the structured logger.
  logger.info({ url, database: databaseUrl ? redactDatabaseUrl(databaseUrl) : null }, 'waiting to be set up: open the set-up link printed on standard output');
  announce(`OpenRMS is not set up yet. Open ${setupUrl} to set up this server (the link works until set-up completes)`);
  return {
    url,
    setupUrl,
    served,
    async close() {
      if (running) return running.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    },
  };
}
