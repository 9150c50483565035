import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { DAY_MS, fixedClock, newId } from '@openrms/domain';
import { provisionRootCluster } from '@openrms/issuance';
import { closeRedis, connectWorkerRedis, obliterateQueues } from '@openrms/jobs';
import { ClusterClient } from '@openrms/soap';
import { openStore, type Store } from '@openrms/store';
import { freePort, KEY_PASSWORD, startMember } from './support/clusters';
import { sqliteDatabase, type TestDatabase } from './support/databases';
import { background, REPO, TSX_BIN } from './support/processes';

const REDIS = 'redis://127.0.0.1:6379';
const PREFIX = `openrms-e2e-inproc-${randomBytes(4).toString('hex')}`;
const FAST = { RMS_JOBS_FIRST_RUN: '100ms', RMS_SLC_RENEWAL_EVERY: '500ms', RMS_EXPIRY_SWEEP_EVERY: '500ms' };
const admin = { name: 'root-admin', password: 'root-admin-password' };

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('background jobs without Redis (the embedded default) and with it', () => {
  let db: TestDatabase;
  let store: Store;
  let clusterId: string;
  let port: number;

  const state = async () => ({
    expired: await store.issued.count({ expired: true }),
    logRows: (await store.requestLog.tail(100)).filter((r) => r.operation.startsWith('seeded-')).map((r) => r.operation),
    chain: (await store.slcChains.getActive(clusterId)).id,
    renewals: (await store.audit.list({ limit: 200 })).filter((a) => a.action === 'slc.renew'),
  });

  beforeAll(async () => {
    db = sqliteDatabase();
    port = await freePort();
    // Provisioned 340 days ago: the SLC ends in 25 days, inside the renewal window.
    await provisionRootCluster({
      databaseUrl: db.url,
      clusterUrl: `http://127.0.0.1:${port}`,
      serviceAccount: 'root-svc',
      admin,
      keyPassword: KEY_PASSWORD,
      revocation: { kind: 'standard' },
      serverName: 'embedded-1',
      clock: fixedClock(new Date(Date.now() - 340 * DAY_MS)),
    });
    store = await openStore(db.url);
    clusterId = (await store.clusters.get()).id;
    const now = Date.now();
    for (const d of [3, 40]) {
      await store.issued.record({ id: newId(), clusterId, kind: 'UL', subject: 'x@example.test', documentGuid: `{${newId()}}`, issuedAt: new Date(now - 400 * DAY_MS), validUntil: new Date(now - d * DAY_MS), documentSha256: 'cd'.repeat(32) });
    }
    await store.requestLog.appendMany(
      [100, 95, 1].map((d) => ({ at: new Date(now - d * DAY_MS), operation: `seeded-${d}`, endpoint: '/_wmcs/licensing/license.asmx', principal: 'x', result: 'ok', durationMs: 1 })),
    );
  });
  afterAll(async () => {
    await store?.close();
    db?.dispose();
    const redis = await connectWorkerRedis(REDIS);
    await obliterateQueues({ connection: redis, prefix: PREFIX });
    await closeRedis(redis);
  });

  it('with Redis configured, the server reports it and never runs the jobs itself', async () => {
    const before = await state();
    const server = await startMember(db, port, 'embedded-1', { RMS_REDIS_URL: REDIS, RMS_QUEUE_PREFIX: PREFIX, ...FAST });
    try {
      const ready = (await (await fetch(`${server.url}/readyz`)).json()) as { jobs: string };
      expect(ready.jobs).toBe('redis');
      // Several intervals' worth of time: nothing may have run.
      await new Promise((r) => setTimeout(r, 1500));
      expect(await state()).toEqual(before);
    } finally {
      await server.close();
    }
  });

  it('without Redis, `rmsctl serve` says so in its log and on /readyz, renews the SLC and runs the sweep itself', async () => {
    const before = await state();
    expect(before.expired).toBe(0);
    const serve = background(TSX_BIN, [path.join(REPO, 'apps/cli/src/main.ts'), 'serve', '--database', db.url, '--listen', `127.0.0.1:${port}`, '--key-password-env', 'KP', '--server-name', 'embedded-1'], {
      env: { KP: KEY_PASSWORD, RMS_LOG_LEVEL: 'info', ...FAST },
    });
    try {
      await serve.waitFor(/listening on/);
      await serve.waitFor(/"jobs":"in-process".*runs the SLC renewal and expiry sweep itself/, 5000);
      const ready = (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as { jobs: string; status: string };
      expect(ready).toMatchObject({ status: 'ready', jobs: 'in-process' });

      // The sweep: both expired licences marked, log rows older than 90 days purged.
      const after = await until('the sweep', async () => {
        const s = await state();
        return s.expired >= 2 && s.logRows.length === 1 ? s : undefined;
      });
      expect(after.logRows).toEqual(['seeded-1']);
      await serve.waitFor(/"msg":"expiry sweep done"/);

      // The renewal: one new chain, served by this member right away.
      const renewed = await until('the renewal', async () => {
        const s = await state();
        return s.chain !== before.chain ? s : undefined;
      });
      expect(renewed.renewals).toHaveLength(1);
      expect(renewed.renewals[0]!.actor).toBe('server embedded-1');
      const active = await store.slcChains.getActive(clusterId);
      expect(active.validUntil.getTime() - Date.now()).toBeGreaterThan(360 * DAY_MS);
      const served = await until('the new chain to be served', async () => {
        const chain = await new ClusterClient({ baseUrl: `http://127.0.0.1:${port}/_wmcs`, credentials: admin }).getLicensorCertificate();
        return chain[0] === active.chain[0] ? chain : undefined;
      }, 7000);
      expect(served).toHaveLength(1);
      // Later runs find nothing due.
      await new Promise((r) => setTimeout(r, 1200));
      expect((await state()).renewals).toHaveLength(1);
    } finally {
      // Not its exit code: tsx reports 143 when its child is slow to acknowledge a relayed signal under load.
      await serve.stop();
    }
  }, 60_000);
});
