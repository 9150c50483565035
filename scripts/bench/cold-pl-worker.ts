/**
 * One worker thread of the cold publishing-licence pool (cold-pls.ts): a client machine certified
 * for the author over HTTP (Certify, then GetClientLicensorCert), which then signs offline
 * publishing licences with its CLC key on request, as a client publishing offline does. It uses the
 * same document builders as the real client (packages/issuance/src/testing/fake-client.ts) without
 * the client's per-call state and chain checks, which would make the pool several times slower.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RmsServiceClient } from '@openrms/client';
import { parseGrantSpec } from '@openrms/domain';
import { FakeClient } from '../../packages/issuance/src/testing/fake-client';

export interface ColdPlWorkerData {
  serverUrl: string;
  user: string;
  password: string;
  ownerEmail: string;
  /** rmsctl-style grant spec, e.g. `bob@example.test:VIEW`. */
  grants: string;
}

export type ColdPlWorkerMessage = { type: 'ready' } | { type: 'chains'; chains: string[][] } | { type: 'error'; message: string };

async function main(): Promise<void> {
  const d = workerData as ColdPlWorkerData;
  const port = parentPort!;
  const grants = parseGrantSpec(d.grants);
  const service = new RmsServiceClient({ serverUrl: d.serverUrl, user: d.user, password: d.password, timeoutMs: 60_000 });
  const client = new FakeClient(new Date());
  client.acceptRac(await service.certify([client.spc]));
  const clcChain = await service.getClientLicensorCert(client.racChain);
  port.on('message', (m: { n: number }) => {
    try {
      const chains: string[][] = [];
      for (let i = 0; i < m.n; i++) chains.push([client.publishOffline(clcChain, d.ownerEmail, grants, { now: new Date() }).pl, ...clcChain]);
      port.postMessage({ type: 'chains', chains } satisfies ColdPlWorkerMessage);
    } catch (e) {
      port.postMessage({ type: 'error', message: (e as Error).stack ?? String(e) } satisfies ColdPlWorkerMessage);
    }
  });
  port.postMessage({ type: 'ready' } satisfies ColdPlWorkerMessage);
}

main().catch((e: unknown) => parentPort!.postMessage({ type: 'error', message: (e as Error)?.stack ?? String(e) } satisfies ColdPlWorkerMessage));
