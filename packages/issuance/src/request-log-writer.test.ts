import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore, type RequestLogEvent, type Store } from '@openrms/store';
import { RequestLogWriter } from './request-log-writer';

const event = (i: number): RequestLogEvent => ({
  at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
  operation: 'AcquireLicense',
  endpoint: '/_wmcs/licensing/license.asmx',
  principal: `user${i}`,
  result: 'ok',
  durationMs: i,
  serverId: 's1',
  requestId: `r${i}`,
});

describe('RequestLogWriter against a real SQLite file', () => {
  let dir: string;
  let store: Store;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'openrms-rlog-'));
    store = await openStore(`sqlite:${path.join(dir, 'rms.db')}`, { migrate: true });
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes in batches, in order, and counts what it wrote', async () => {
    const w = new RequestLogWriter(store.requestLog, { flushMs: 60_000, batchSize: 100 });
    for (let i = 0; i < 250; i++) w.record(event(i));
    await w.close();
    expect(w.stats()).toEqual({ queued: 0, written: 250, dropped: 0, failedFlushes: 0 });
    const tail = await store.requestLog.tail(3);
    expect(tail.map((r) => r.requestId)).toEqual(['r247', 'r248', 'r249']);
  });

  it('keeps rows through a database outage and writes them once it is back', async () => {
    let down = true;
    const errors: unknown[] = [];
    const sink = { appendMany: (rows: RequestLogEvent[]) => (down ? Promise.reject(new Error('database down')) : store.requestLog.appendMany(rows)) };
    const w = new RequestLogWriter(sink, { flushMs: 60_000, batchSize: 1000, onFlushError: (e) => errors.push(e) });
    for (let i = 1000; i < 1010; i++) w.record(event(i));
    await w.flush();
    expect(w.stats()).toMatchObject({ queued: 10, written: 0, failedFlushes: 1 });
    expect(errors).toHaveLength(1);
    down = false;
    await w.close();
    expect(w.stats()).toMatchObject({ queued: 0, written: 10, dropped: 0 });
    expect((await store.requestLog.tail(1))[0]?.requestId).toBe('r1009');
  });

  it('drops the oldest rows past its bound and says how many', async () => {
    const drops: number[] = [];
    const sink = { appendMany: () => Promise.reject(new Error('still down')) };
    const w = new RequestLogWriter(sink, { flushMs: 60_000, batchSize: 10_000, maxQueued: 5, onDrop: (n) => drops.push(n) });
    for (let i = 0; i < 8; i++) w.record(event(i));
    expect(w.stats()).toMatchObject({ queued: 5, dropped: 3 });
    expect(drops.reduce((a, b) => a + b, 0)).toBe(3);
    await w.close();
  });
});

describe('RequestLogWriter with a spool file', () => {
  it('keeps rows in the spool until they are written, empties it after, and closes twice without failing', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const { RequestLogSpool } = await import('./request-log-spool');
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'openrms-spool-')), 'spool.ndjson');
    const spool = new RequestLogSpool(file);
    let fail = true;
    const written: unknown[] = [];
    const writer = new RequestLogWriter({ appendMany: async (rows) => { if (fail) throw new Error('database down'); written.push(...rows); return rows.length; } }, { spool, flushMs: 60_000 });
    const row = (i: number) => ({ at: new Date(), operation: 'Op', endpoint: '/x', principal: null, result: 'ok', durationMs: i, serverId: 's', requestId: `r${i}` });
    writer.record(row(1));
    writer.record(row(2));
    await writer.flush();
    expect(RequestLogSpool.read(file).map((r) => r.requestId)).toEqual(['r1', 'r2']);
    fail = false;
    await writer.flush();
    expect(written).toHaveLength(2);
    expect(RequestLogSpool.read(file)).toEqual([]);
    await writer.close();
    await writer.close();
  });
});
