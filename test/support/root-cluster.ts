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

/** Provisions a root cluster in `db` and starts one member on an ephemeral loopback port. */
export async function startTestRoot(db: TestDatabase, opts: { maxBodyBytes?: string } = {}): Promise<TestRoot> {
  const admin = { name: 'alice', password: 'alice-password-1' };
  const keyPassword = 'cluster-key-password-1';
  await provisionRootCluster({
    databaseUrl: db.url,
    clusterUrl: 'http://127.0.0.1:1/_wmcs',
    serviceAccount: 'rms-service',
    admin,
    keyPassword,
    revocation: { kind: 'standard' },
    serverName: 'test-member-1',
  });
  const config = loadServerConfig(
    { database: db.url, listen: '127.0.0.1:0', keyPasswordEnv: 'KP', serverName: 'test-member-1', ...(opts.maxBodyBytes ? { maxBodyBytes: opts.maxBodyBytes } : {}) },
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
