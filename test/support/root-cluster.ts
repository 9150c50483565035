import { createServer, type AddressInfo } from 'node:net';
import { startServer, type RunningServer } from '@openrms/server';
import { provisionRootCluster } from '@openrms/issuance';
import { loadServerConfig } from '@openrms/config';
import type { TestDatabase } from './databases';

export interface TestRoot {
  db: TestDatabase;
  admin: { name: string; password: string };
  keyPassword: string;
  server: RunningServer;
  stop(): Promise<void>;
}

/** A loopback port that is free now, so a cluster can be provisioned with the URL it will serve on. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Provisions a root cluster in `db` and starts one member on loopback, at the cluster's own URL. */
export async function startTestRoot(db: TestDatabase, opts: { maxBodyBytes?: string } = {}): Promise<TestRoot> {
  const admin = { name: 'alice', password: 'alice-password-1' };
  const keyPassword = 'cluster-key-password-1';
  const port = await freePort();
  await provisionRootCluster({
    databaseUrl: db.url,
    clusterUrl: `http://127.0.0.1:${port}/_wmcs`,
    serviceAccount: 'rms-service',
    admin,
    keyPassword,
    revocation: { kind: 'standard' },
    serverName: 'test-member-1',
  });
  const config = loadServerConfig(
    { database: db.url, listen: `127.0.0.1:${port}`, keyPasswordEnv: 'KP', serverName: 'test-member-1', ...(opts.maxBodyBytes ? { maxBodyBytes: opts.maxBodyBytes } : {}) },
    { KP: keyPassword, RMS_LOG_LEVEL: 'silent' },
  );
  const server = await startServer(config);
  return {
    db,
    admin,
    keyPassword,
    server,
    async stop() {
      await server.close();
      db.dispose();
    },
  };
}
