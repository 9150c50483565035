import { hashPassword, VerifiedPasswordCache, verifyPassword } from './passwords';

describe('password checks', () => {
  it('hash with scrypt and verify only the right password', async () => {
    const h = await hashPassword('correct-password');
    expect(h).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(await verifyPassword('correct-password', h)).toBe(true);
    expect(await verifyPassword('wrong-password', h)).toBe(false);
    expect(await verifyPassword('correct-password', null)).toBe(false);
    await expect(hashPassword('short')).rejects.toThrow(/at least 8/);
  });

  it('share one check between concurrent requests and remember success for a while', async () => {
    const h = await hashPassword('correct-password');
    const cache = new VerifiedPasswordCache(1000);
    const t0 = 1_000_000;
    const results = await Promise.all(Array.from({ length: 20 }, () => cache.verify('bob', 'correct-password', h, t0)));
    expect(results.every(Boolean)).toBe(true);
    expect(cache.has('bob', 'correct-password', h, t0 + 500)).toBe(true);
    expect(cache.has('bob', 'correct-password', h, t0 + 1500)).toBe(false);
    // A wrong password is never remembered, and a changed hash invalidates the entry.
    expect(await cache.verify('bob', 'wrong-password', h, t0)).toBe(false);
    expect(cache.has('bob', 'wrong-password', h, t0)).toBe(false);
    expect(cache.has('bob', 'correct-password', await hashPassword('correct-password'), t0 + 500)).toBe(false);
  });
});
