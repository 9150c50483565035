import { randomBytes } from 'node:crypto';
import { createSignOnThrottle, type SignOnThrottle } from './sign-on-throttle';

const rule = { failures: 3, windowSeconds: 60, blockSeconds: 30 };

describe('sign-on throttle', () => {
  const open: SignOnThrottle[] = [];
  afterAll(async () => {
    await Promise.all(open.map((t) => t.close()));
  });
  const throttle = (redisUrl: string | undefined, prefix: string) => {
    const t = createSignOnThrottle({ redisUrl, prefix, perUser: rule, perAddress: { ...rule, failures: 5 } });
    open.push(t);
    return t;
  };

  it('blocks an account after too many failures, for every member sharing Redis, and a success clears it', async () => {
    const prefix = `openrms-test-throttle-${randomBytes(4).toString('hex')}`;
    const a = throttle('redis://127.0.0.1:6379', prefix);
    const b = throttle('redis://127.0.0.1:6379', prefix);
    expect(a.shared).toBe(true);
    expect(await a.ready()).toBe(true);
    expect(await b.ready()).toBe(true);
    for (let i = 0; i < 2; i++) await a.failed('Alice', '10.1.1.1');
    expect((await b.blockedFor('alice', '10.1.1.2')).seconds).toBe(0);
    await b.failed('alice', '10.1.1.2');
    // The third failure, seen by the other member, blocks alice on both.
    const blocked = await a.blockedFor('ALICE', '10.9.9.9');
    expect(blocked.scope).toBe('user');
    expect(blocked.seconds).toBeGreaterThan(0);
    expect(blocked.seconds).toBeLessThanOrEqual(30);
    expect((await b.blockedFor('bob', '10.9.9.9')).seconds).toBe(0);
    const c = throttle('redis://127.0.0.1:6379', prefix);
    await c.ready();
    await c.succeeded('carol', '10.1.1.1');
    for (let i = 0; i < 2; i++) await c.failed('carol', '10.2.2.2');
    await c.succeeded('carol', '10.2.2.2');
    // Two more failures after the success: still under three.
    for (let i = 0; i < 2; i++) await c.failed('carol', '10.2.2.2');
    expect((await c.blockedFor('carol', '10.2.2.2')).seconds).toBe(0);
  });

  it('blocks an address that fails for many accounts', async () => {
    const t = throttle('redis://127.0.0.1:6379', `openrms-test-throttle-${randomBytes(4).toString('hex')}`);
    await t.ready();
    for (let i = 0; i < 5; i++) await t.failed(`user${i}`, '10.3.3.3');
    expect(await t.blockedFor('someone-new', '10.3.3.3')).toMatchObject({ scope: 'address' });
    expect((await t.blockedFor('someone-new', '10.3.3.4')).seconds).toBe(0);
  });

  it('falls back to counting in this member when Redis is unreachable, and still blocks', async () => {
    const t = throttle('redis://127.0.0.1:1', `openrms-test-throttle-${randomBytes(4).toString('hex')}`);
    expect(await t.ready(300)).toBe(false);
    for (let i = 0; i < 4; i++) await t.failed('dave', '10.4.4.4');
    expect(await t.blockedFor('dave', '10.4.4.5')).toMatchObject({ scope: 'user' });
  });

  it('counts in memory without Redis', async () => {
    const t = throttle(undefined, 'x');
    expect(t.shared).toBe(false);
    for (let i = 0; i < 4; i++) await t.failed('erin', '10.5.5.5');
    expect((await t.blockedFor('erin', '10.5.5.6')).scope).toBe('user');
  });
});
