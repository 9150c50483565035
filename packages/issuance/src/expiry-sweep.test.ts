import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DAY_MS, fixedClock, newId } from '@openrms/domain';
import { openStore, type Store } from '@openrms/store';
import { runExpirySweep } from './expiry-sweep';
import { provisionRootCluster } from './provision-root';
import { SETTINGS } from './settings';
import { renewSlcIfDue } from './slc-renewal';

const KEY_PASSWORD = 'cluster-key-password';
const T0 = new Date('2026-03-01T10:20:30.000Z');
const day = (n: number) => new Date(T0.getTime() + n * DAY_MS);
const dirs: string[] = [];

async function freshRoot(): Promise<{ store: Store; url: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'openrms-sweep-'));
  dirs.push(dir);
  const url = `sqlite:${path.join(dir, 'rms.db')}`;
  await provisionRootCluster({
    databaseUrl: url,
    clusterUrl: 'https://root.example.test',
    serviceAccount: 'rms-svc',
    admin: { name: 'admin', password: 'admin-password-1' },
    keyPassword: KEY_PASSWORD,
    revocation: { kind: 'standard' },
    serverName: 'root-1',
    clock: fixedClock(T0),
  });
  return { store: await openStore(url), url };
}

const warningAudits = async (store: Store) => (await store.audit.list({ limit: 200 })).filter((a) => a.action === 'slc.expiry-warning');

afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('runExpirySweep', () => {
  let store: Store;
  const clock = fixedClock(T0);

  beforeAll(async () => {
    ({ store } = await freshRoot());
  });
  afterAll(() => store.close());

  it('marks what has expired, once, and leaves the rest', async () => {
    const cluster = await store.clusters.get();
    const rec = (kind: 'UL' | 'RAC', validUntil: Date) =>
      store.issued.record({ id: newId(), clusterId: cluster.id, kind, subject: 'x@example.test', documentGuid: `{${newId()}}`, issuedAt: T0, validUntil, documentSha256: 'ab'.repeat(32) });
    await rec('UL', day(1));
    await rec('UL', day(5));
    await rec('RAC', day(5));
    await rec('UL', day(500));
    clock.set(day(10));
    const r = await runExpirySweep(store, { clock });
    expect(r.markedExpired).toBe(3);
    expect(r.warnings).toEqual([]);
    expect(await store.issued.count({ expired: true })).toBe(3);
    expect(await store.issued.count({ kind: 'UL', expired: false })).toBe(1);
    expect((await runExpirySweep(store, { clock })).markedExpired).toBe(0);
  });

  it('purges request-log rows older than the retention and keeps the newer ones', async () => {
    clock.set(day(200));
    const row = (at: Date, op: string) => ({ at, operation: op, endpoint: '/_wmcs/licensing/license.asmx', principal: 'alice', result: 'ok', durationMs: 3 });
    await store.requestLog.appendMany([row(day(100), 'old-1'), row(day(109), 'old-2'), row(day(111), 'recent-1'), row(day(199), 'recent-2')]);
    const r = await runExpirySweep(store, { clock, retentionDays: 90 });
    expect(r.purgedLogRows).toBe(2);
    expect((await store.requestLog.tail(10)).map((e) => e.operation)).toEqual(['recent-1', 'recent-2']);
    expect((await runExpirySweep(store, { clock, retentionDays: 90 })).purgedLogRows).toBe(0);
  });

  it('warns once per threshold as the SLC nears its end, audited, and starts over for a renewed SLC', async () => {
    const sweep = async (d: number) => (await runExpirySweep(store, { clock: fixedClock(day(d)) })).warnings;
    expect(await sweep(300)).toEqual([]);
    const w30 = await sweep(340);
    expect(w30).toHaveLength(1);
    expect(w30[0]).toMatch(/ends in 24 day\(s\).*threshold 30 days/);
    expect(await sweep(341)).toEqual([]);
    expect(await sweep(357)).toEqual([]);
    expect(await sweep(359)).toEqual([expect.stringMatching(/threshold 7 days/)]);
    expect(await sweep(360)).toEqual([]);
    expect(await sweep(364.6)).toEqual([expect.stringMatching(/ends in 0 day\(s\).*threshold 1 days/)]);
    expect(await sweep(364.7)).toEqual([]);
    expect(await sweep(366)).toEqual([]);
    const audits = await warningAudits(store);
    expect(audits.map((a) => (a.after as { threshold: number }).threshold)).toEqual([1, 7, 30]);
    expect((await store.settings.get(SETTINGS.slcWarned)) as { thresholds: number[] }).toMatchObject({ thresholds: [30, 7, 1] });

    // A renewed SLC has its own thresholds.
    expect((await renewSlcIfDue(store, { keyPassword: KEY_PASSWORD, clock: fixedClock(day(364.8)) })).renewed).toBe(true);
    expect(await sweep(365)).toEqual([]);
    expect(await sweep(364.8 + 340)).toEqual([expect.stringMatching(/threshold 30 days/)]);
  });

  it('warns once, for the tightest threshold, when it first runs late; and says so when the SLC has expired', async () => {
    const { store: s } = await freshRoot();
    try {
      const first = await runExpirySweep(s, { clock: fixedClock(day(361)) });
      expect(first.warnings).toEqual([expect.stringMatching(/threshold 7 days/)]);
      expect((await runExpirySweep(s, { clock: fixedClock(day(362)) })).warnings).toEqual([]);
      expect(await warningAudits(s)).toHaveLength(1);
      const expired = await runExpirySweep(s, { clock: fixedClock(day(370)) });
      expect(expired.warnings).toEqual([expect.stringMatching(/expired at/)]);
      expect((await runExpirySweep(s, { clock: fixedClock(day(371)) })).warnings).toEqual([]);
      // Custom thresholds.
      const { store: s2 } = await freshRoot();
      try {
        expect((await runExpirySweep(s2, { clock: fixedClock(day(300)), warnDays: [90] })).warnings).toHaveLength(1);
        expect((await runExpirySweep(s2, { clock: fixedClock(day(301)), warnDays: [90] })).warnings).toHaveLength(0);
      } finally {
        await s2.close();
      }
    } finally {
      await s.close();
    }
  });
});
