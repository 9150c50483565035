import { Admission, type AdmissionResult } from './admission';

const live = () => new AbortController();
const admitted = (r: AdmissionResult) => {
  if (!r.admitted) throw new Error(`turned away: ${r.reason}`);
  return r.ticket;
};

describe('Admission', () => {
  it('admits up to the concurrency, queues the rest and starts them oldest first', async () => {
    const a = new Admission({ concurrency: 2, queueLength: 3, maxWaitMs: 60_000 });
    const first = admitted(await a.acquire(live().signal));
    const second = admitted(await a.acquire(live().signal));
    const order: string[] = [];
    const waiting = ['c', 'd', 'e'].map((name) => a.acquire(live().signal).then((r) => (order.push(name), admitted(r))));
    expect(a.inFlight).toBe(2);
    expect(a.queued).toBe(3);
    // The queue is full: the next is refused at once.
    expect(await a.acquire(live().signal)).toMatchObject({ admitted: false, reason: 'queue_full' });
    first.release();
    const c = await waiting[0]!;
    expect(order).toEqual(['c']);
    second.release();
    c.release();
    (await waiting[1]!).release();
    (await waiting[2]!).release();
    expect(order).toEqual(['c', 'd', 'e']);
    expect(a.inFlight).toBe(0);
    expect(a.queued).toBe(0);
  });

  it('a release counts once', async () => {
    const a = new Admission({ concurrency: 1, queueLength: 1, maxWaitMs: 60_000 });
    const t = admitted(await a.acquire(live().signal));
    t.release();
    t.release();
    expect(a.inFlight).toBe(0);
  });

  it('drops a request whose client hung up while it waited, and never starts it', async () => {
    const a = new Admission({ concurrency: 1, queueLength: 4, maxWaitMs: 60_000 });
    const running = admitted(await a.acquire(live().signal));
    const gone = live();
    const dropped = a.acquire(gone.signal);
    const next = a.acquire(live().signal);
    gone.abort();
    expect(await dropped).toMatchObject({ admitted: false, reason: 'client_gone' });
    expect(a.queued).toBe(1);
    running.release();
    admitted(await next).release();
    // Already gone before asking: turned away without queueing.
    const before = live();
    before.abort();
    expect(await a.acquire(before.signal)).toMatchObject({ admitted: false, reason: 'client_gone' });
  });

  it('turns a request away once it has waited longer than the bound; with no queue, at once', async () => {
    const a = new Admission({ concurrency: 1, queueLength: 4, maxWaitMs: 20 });
    const running = admitted(await a.acquire(live().signal));
    const r = await a.acquire(live().signal);
    expect(r).toMatchObject({ admitted: false, reason: 'wait_timeout' });
    expect(r.waitedMs).toBeGreaterThan(0);
    expect(a.queued).toBe(0);
    running.release();
    const none = new Admission({ concurrency: 1, queueLength: 0, maxWaitMs: 60_000 });
    admitted(await none.acquire(live().signal));
    expect(await none.acquire(live().signal)).toMatchObject({ admitted: false, reason: 'queue_full' });
    expect(none.retryAfterSeconds).toBe(60);
    expect(a.retryAfterSeconds).toBe(1);
  });
});
