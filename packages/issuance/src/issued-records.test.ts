/**
 * Group commit of the `issued` records (issued-records.ts) and the cache of opened user keys
 * (user-key-pair.ts), against a real SQLite database. No timings are asserted.
 */
import { fixedClock, isRmsError, newId } from '@openrms/domain';
import { RsaKeyPair } from '@openrms/keys';
import type { IssuedRecord } from '@openrms/store';
import { parseXrml, publicKeysEqual, readRac } from '@openrms/xrml';
import { ClusterRuntime } from './cluster-runtime';
import { IssuedRecorder } from './issued-records';
import { addUser } from './principal-admin';
import { callerNamed, certifiedClient } from './testing/fake-client';
import { provisionedSqlite, type ProvisionedSqlite } from './testing/provisioned-sqlite';
import { UserKeyCache } from './user-key-cache';

const clock = fixedClock(new Date());
let db: ProvisionedSqlite;
let clusterId: string;

beforeAll(async () => {
  db = await provisionedSqlite('issued-records', clock);
  clusterId = (await db.store.clusters.get()).id;
  await addUser(db.url, { name: 'bob', email: 'bob@example.test', password: 'bob-password-1', groups: [] });
});

afterAll(async () => {
  await db?.dispose();
});

const record = (over: Partial<IssuedRecord> = {}): IssuedRecord => ({
  id: newId(),
  clusterId,
  kind: 'UL',
  subject: 'bob@example.test',
  documentGuid: `{${newId()}}`,
  issuedAt: clock.now(),
  validUntil: new Date(clock.now().getTime() + 86_400_000),
  documentSha256: 'a'.repeat(64),
  ...over,
});

async function eventually(what: string, check: () => boolean, deadlineMs = 30_000): Promise<void> {
  const until = performance.now() + deadlineMs;
  while (!check()) {
    if (performance.now() > until) throw new Error(`not within ${deadlineMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('issued records, written together', () => {
  it('records handed in together are written in one batch, each in the database when its promise resolves', async () => {
    const recorder = new IssuedRecorder(db.store);
    const rows = Array.from({ length: 40 }, () => record());
    const seen = await Promise.all(rows.map((r) => recorder.record(r).then(() => db.store.issued.find(r.id))));
    expect(seen.every((row, i) => row?.documentGuid === rows[i]!.documentGuid)).toBe(true);
    expect(recorder.stats()).toEqual({ batches: 1, records: 40, waiting: 0 });

    // Handed in while a batch is being written: the next batch, not one transaction each.
    const first = Array.from({ length: 5 }, () => recorder.record(record()));
    await new Promise((r) => setImmediate(r));
    const second = Array.from({ length: 5 }, () => recorder.record(record()));
    await Promise.all([...first, ...second]);
    expect(recorder.stats().batches).toBeLessThanOrEqual(3);
    expect(recorder.stats().records).toBe(50);
  });

  it('a record that breaks a constraint fails alone; the others of its batch are written', async () => {
    const recorder = new IssuedRecorder(db.store);
    const existing = record();
    await recorder.record(existing);
    const good = [record(), record(), record()];
    const results = await Promise.allSettled([recorder.record(good[0]!), recorder.record({ ...existing }), recorder.record(good[1]!), recorder.record(record({ clusterId: newId() })), recorder.record(good[2]!)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
    expect(isRmsError((results[1] as PromiseRejectedResult).reason, 'AlreadyExists')).toBe(true);
    expect(isRmsError((results[3] as PromiseRejectedResult).reason, 'NotFound')).toBe(true);
    for (const g of good) expect(await db.store.issued.find(g.id)).toBeDefined();
  });

  it('every RAC of concurrent Certify requests is recorded by the time its answer is there', async () => {
    const rt = await ClusterRuntime.open({ store: db.store, keyPassword: db.keyPassword, serverName: 'm1', clock, refreshMs: 0 });
    try {
      const before = await db.store.issued.count({ kind: 'RAC' });
      const caller = await callerNamed(db.store, 'bob');
      const clients = await Promise.all(Array.from({ length: 6 }, () => certifiedClient(rt.licensing, caller, clock.now())));
      expect(await db.store.issued.count({ kind: 'RAC' })).toBe(before + 6);
      // All six carry bob's one key pair, opened once and then kept.
      const keys = clients.map((c) => readRac(parseXrml(c.racChain[0]!)).publicKey);
      expect(keys.every((k) => publicKeysEqual(k, keys[0]!))).toBe(true);
      expect(rt.userKeys.size).toBe(1);
    } finally {
      await rt.close();
    }
  });
});

describe('opened user keys', () => {
  it('opens a stored key once, another stored form again, and forgets them after the TTL', async () => {
    const pair = RsaKeyPair.generate(2048);
    const other = RsaKeyPair.generate(2048);
    const cache = new UserKeyCache({ ttlMs: 200 });
    let opened = 0;
    const opener = (p: RsaKeyPair) => () => {
      opened++;
      return p;
    };
    expect(cache.open('sealed-a', opener(pair))).toBe(pair);
    expect(cache.open('sealed-a', opener(other))).toBe(pair);
    expect(opened).toBe(1);
    // A replaced row is another sealed form: never the kept key.
    expect(cache.open('sealed-b', opener(other))).toBe(other);
    expect(opened).toBe(2);
    await eventually('expired keys are dropped', () => cache.size === 0);
    expect(cache.open('sealed-a', opener(pair))).toBe(pair);
    expect(opened).toBe(3);
  });
});
