import { Redis } from 'ioredis';
import { type IRateLimiterOptions, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { DEFAULT_PREFIX } from './queue-names';

/** How many failed sign-ons within a window block a key, and for how long. */
export interface ThrottleRule {
  failures: number;
  windowSeconds: number;
  blockSeconds: number;
}

export interface SignOnThrottleOptions {
  /** Shared by every member when given; without it (or while it is down) each member counts alone. */
  redisUrl?: string | undefined;
  prefix?: string | undefined;
  /** Password guessing against one account. */
  perUser?: ThrottleRule;
  /** Guessing or spraying from one address. */
  perAddress?: ThrottleRule;
}

export const DEFAULT_SIGN_ON_THROTTLE = {
  perUser: { failures: 10, windowSeconds: 300, blockSeconds: 300 },
  // Generous: many people may share one address (a proxy, a NAT), and a stale password of a few must not lock out all.
  perAddress: { failures: 200, windowSeconds: 300, blockSeconds: 300 },
} as const;

export interface SignOnThrottle {
  /** Seconds to wait when the user or the address is blocked now; 0 when sign-on may be tried. */
  blockedFor(user: string | null, address: string): Promise<{ seconds: number; scope: 'user' | 'address' | null }>;
  /** A sign-on with credentials that failed (wrong password, unknown user, bad ticket). */
  failed(user: string | null, address: string): Promise<void>;
  /** A successful sign-on clears the user's count (not the address's). */
  succeeded(user: string, address: string): Promise<void>;
  /** Whether the counts are shared through Redis (false: this member only). */
  readonly shared: boolean;
  /** Resolves once Redis answers (at once without Redis); until then this member counts alone. */
  ready(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

const userKey = (u: string) => u.trim().toLowerCase().slice(0, 256);

/**
 * Failed sign-on counting on rate-limiter-flexible: in Redis, shared by every member of the
 * cluster, with an in-memory limiter as insurance that takes over per member while Redis is
 * unreachable (so an outage never opens the door, and never locks everyone out either).
 */
export function createSignOnThrottle(o: SignOnThrottleOptions = {}): SignOnThrottle {
  const prefix = `${o.prefix ?? DEFAULT_PREFIX}:signon`;
  const perUser = o.perUser ?? DEFAULT_SIGN_ON_THROTTLE.perUser;
  const perAddress = o.perAddress ?? DEFAULT_SIGN_ON_THROTTLE.perAddress;
  let redis: Redis | undefined;
  if (o.redisUrl) {
    // No offline queue: while Redis is down a call fails at once and the insurance limiter answers.
    redis = new Redis(o.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000, lazyConnect: false });
    redis.on('error', () => undefined);
  }
  const make = (name: string, rule: ThrottleRule) => {
    // The Nth failure is the one over the limit: it starts the block.
    const opts: IRateLimiterOptions = { keyPrefix: `${prefix}:${name}`, points: Math.max(0, rule.failures - 1), duration: rule.windowSeconds, blockDuration: rule.blockSeconds };
    const memory = new RateLimiterMemory(opts);
    return redis ? new RateLimiterRedis({ ...opts, storeClient: redis, insuranceLimiter: memory, rejectIfRedisNotReady: true }) : memory;
  };
  const users = make('user', perUser);
  const addresses = make('address', perAddress);

  const waitOf = async (limiter: RateLimiterMemory | RateLimiterRedis, key: string, rule: ThrottleRule): Promise<number> => {
    const r = await limiter.get(key);
    if (!r || r.consumedPoints < rule.failures) return 0;
    return Math.max(1, Math.ceil(r.msBeforeNext / 1000));
  };
  const consume = async (limiter: RateLimiterMemory | RateLimiterRedis, key: string) => {
    try {
      await limiter.consume(key, 1);
    } catch (e) {
      // Over the limit: the key is now blocked for blockDuration. Anything else is unexpected.
      if (!(e instanceof RateLimiterRes)) throw e;
    }
  };

  return {
    shared: redis !== undefined,
    async ready(timeoutMs = 5000) {
      const r = redis;
      if (!r) return true;
      if (r.status === 'ready') return true;
      return new Promise<boolean>((resolve) => {
        const t = setTimeout(() => {
          r.off('ready', onReady);
          resolve(false);
        }, timeoutMs);
        const onReady = () => {
          clearTimeout(t);
          resolve(true);
        };
        r.once('ready', onReady);
      });
    },
    async blockedFor(user, address) {
      const a = await waitOf(addresses, address, perAddress);
      if (a > 0) return { seconds: a, scope: 'address' };
      const u = user ? await waitOf(users, userKey(user), perUser) : 0;
      return u > 0 ? { seconds: u, scope: 'user' } : { seconds: 0, scope: null };
    },
    async failed(user, address) {
      await consume(addresses, address);
      if (user) await consume(users, userKey(user));
    },
    async succeeded(user) {
      await users.delete(userKey(user)).catch(() => undefined);
    },
    async close() {
      if (redis) {
        redis.disconnect();
        redis = undefined;
      }
    },
  };
}
