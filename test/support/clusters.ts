import { loadServerConfig } from '@openrms/config';
import { addUser, provisionLicensingCluster, provisionRootCluster } from '@openrms/issuance';
import { startServer, type RunningServer } from '@openrms/server';
import { ClusterClient } from '@openrms/soap';
import type { TestDatabase } from './databases';
import { freePort } from './root-cluster';

export const KEY_PASSWORD = 'cluster-key-password-1';

export interface Person {
  name: string;
  email: string;
  password: string;
}

export const person = (name: string): Person => ({ name, email: `${name}@example.test`, password: `${name}-password-1` });

export async function provisionRoot(db: TestDatabase, port: number): Promise<string> {
  const url = `http://127.0.0.1:${port}`;
  await provisionRootCluster({
    databaseUrl: db.url,
    clusterUrl: url,
    serviceAccount: 'root-svc',
    admin: { name: 'root-admin', password: 'root-admin-password', email: 'root-admin@example.test' },
    keyPassword: KEY_PASSWORD,
    revocation: { kind: 'standard' },
    serverName: `root-${port}`,
  });
  return `${url}/_wmcs`;
}

export async function provisionLicensing(db: TestDatabase, port: number, rootBase: string, rootAccount: Person) {
  const url = `http://127.0.0.1:${port}`;
  return provisionLicensingCluster({
    rootUrl: rootBase,
    root: new ClusterClient({ baseUrl: rootBase, credentials: { name: rootAccount.name, password: rootAccount.password }, timeoutMs: 5000 }),
    rootCredentials: { name: rootAccount.name, password: rootAccount.password },
    databaseUrl: db.url,
    clusterUrl: url,
    serviceAccount: 'lic-svc',
    admin: { name: 'lic-admin', password: 'lic-admin-password', email: 'lic-admin@example.test' },
    keyPassword: KEY_PASSWORD,
    serverName: `lic-${port}`,
  });
}

/** `env` adds settings, e.g. RMS_REDIS_URL (jobs run on workers) or RMS_EXPIRY_SWEEP_EVERY. */
export async function startMember(db: TestDatabase, port: number, name: string, env: Record<string, string> = {}): Promise<RunningServer> {
  return startServer(loadServerConfig({ database: db.url, listen: `127.0.0.1:${port}`, keyPasswordEnv: 'KP', serverName: name }, { KP: KEY_PASSWORD, RMS_LOG_LEVEL: 'silent', ...env }));
}

export async function addPeople(db: TestDatabase, people: Person[], groups: string[] = []): Promise<void> {
  for (const p of people) await addUser(db.url, { ...p, groups });
}

export { freePort };
