import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import type { ServerConfig } from '@openrms/config';
import { ClusterRuntime } from '@openrms/issuance';
import { openStore, type Store } from '@openrms/store';
import { createApp } from './create-app';
import { rootForwards, soapRoutes } from './soap-routes';

export interface RunningServer {
  url: string;
  runtime: ClusterRuntime;
  close(): Promise<void>;
}

export function createLogger(level: string): Logger {
  // Secrets never reach the logger; redaction is a second fence for headers.
  return pino({ level, redact: ['req.headers.authorization', 'headers.authorization'], base: { app: 'openrms-server' } });
}

/**
 * Opens the database, unwraps the cluster key (a wrong password fails here, before any socket is
 * opened) and starts listening. Resolves once the server accepts connections.
 */
export async function startServer(config: ServerConfig, logger: Logger = createLogger(config.logLevel)): Promise<RunningServer> {
  const store: Store = await openStore(config.databaseUrl, { migrate: false });
  let runtime: ClusterRuntime;
  try {
    runtime = await ClusterRuntime.open({
      store,
      keyPassword: config.keyPassword,
      serverName: config.serverName,
      hooks: {
        onRequestLogError: (err, stats) => logger.warn({ err: (err as Error)?.message, ...stats }, 'request log write failed; rows kept for retry'),
        onRequestLogDrop: (count, stats) => logger.error({ count, ...stats }, 'request log queue full: oldest rows dropped'),
      },
    });
  } catch (e) {
    await store.close();
    throw e;
  }
  const app = createApp({ runtime, store, routes: soapRoutes(runtime, { maxBodyBytes: config.maxBodyBytes, logger }),
    forwards: rootForwards(runtime), maxBodyBytes: config.maxBodyBytes, logger });
  const server: Server = config.tls ? createHttpsServer({ cert: config.tls.cert, key: config.tls.key }, app) : createHttpServer(app);
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `${config.tls ? 'https' : 'http'}://${host}:${addr.port}`;
  logger.info({ url, cluster: runtime.cluster.id, kind: runtime.cluster.kind, server: runtime.serverId }, 'OpenRMS server listening');
  return {
    url,
    runtime,
    async close() {
      await runtime.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await store.close();
    },
  };
}
