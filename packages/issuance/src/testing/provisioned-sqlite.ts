import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Clock } from '@openrms/domain';
import { openStore, type Store } from '@openrms/store';
import { provisionRootCluster } from '../provision-root';

/** A root cluster provisioned in a SQLite file of its own, for tests of store-taking use-cases. */
export interface ProvisionedSqlite {
  url: string;
  store: Store;
  keyPassword: string;
  dispose(): Promise<void>;
}

export async function provisionedSqlite(name: string, clock: Clock): Promise<ProvisionedSqlite> {
  const dir = mkdtempSync(path.join(tmpdir(), `openrms-${name}-`));
  const url = `sqlite:${path.join(dir, 'rms.db')}`;
  const keyPassword = 'cluster-key-password';
  await provisionRootCluster({
    databaseUrl: url,
    clusterUrl: 'https://root.example.test',
    serviceAccount: 'rms-svc',
    admin: { name: 'admin', password: 'admin-password-1' },
    keyPassword,
    revocation: { kind: 'standard' },
    serverName: 'root-1',
    clock,
  });
  const store = await openStore(url);
  return {
    url,
    store,
    keyPassword,
    async dispose() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
