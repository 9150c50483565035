import { createHmac, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { RmsError } from '@openrms/domain';

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number, opts: object) => Promise<Buffer>;
const PARAMS = { N: 1 << 14, r: 8, p: 1 } as const;

export const MIN_USER_PASSWORD_LENGTH = 8;

/** `scrypt$N$r$p$salt$hash`, all base64; self-describing so the parameters can be raised later. */
export async function hashPassword(password: string): Promise<string> {
  if (password.length < MIN_USER_PASSWORD_LENGTH) {
    throw new RmsError('InvalidInput', `passwords must be at least ${MIN_USER_PASSWORD_LENGTH} characters`);
  }
  const salt = randomBytes(16);
  const hash = await scrypt(password.normalize('NFC'), salt, 32, PARAMS);
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64'), hash.toString('base64')].join('$');
}

export async function verifyPassword(password: string, stored: string | null | undefined): Promise<boolean> {
  if (!stored) return false;
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, saltB64, hashB64] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hashB64, 'base64');
  const got = await scrypt(password.normalize('NFC'), Buffer.from(saltB64, 'base64'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: 64 * 1024 * 1024,
  });
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/**
 * Remembers recent successful password checks, so HTTP Basic on every request does not pay a scrypt
 * each time. Entries are keyed by an HMAC under a per-process random key (no password is kept) and
 * bound to the stored hash, so a password change invalidates them at once.
 */
export class VerifiedPasswordCache {
  readonly #key = randomBytes(32);
  readonly #entries = new Map<string, number>();
  constructor(
    private readonly ttlMs = 60_000,
    private readonly maxEntries = 10_000,
  ) {}

  #id(name: string, password: string, stored: string): string {
    return createHmac('sha256', this.#key).update(name).update('\0').update(password).update('\0').update(stored).digest('base64');
  }

  has(name: string, password: string, stored: string, nowMs: number): boolean {
    const id = this.#id(name, password, stored);
    const exp = this.#entries.get(id);
    if (exp === undefined) return false;
    if (exp <= nowMs) {
      this.#entries.delete(id);
      return false;
    }
    return true;
  }

  readonly #inFlight = new Map<string, Promise<boolean>>();

  /**
   * Checks a password once for all concurrent requests with the same credentials: when an entry
   * expires under load, one scrypt runs, not one per request in flight.
   */
  async verify(name: string, password: string, stored: string, nowMs: number): Promise<boolean> {
    if (this.has(name, password, stored, nowMs)) return true;
    const id = this.#id(name, password, stored);
    let pending = this.#inFlight.get(id);
    if (!pending) {
      pending = verifyPassword(password, stored).finally(() => this.#inFlight.delete(id));
      this.#inFlight.set(id, pending);
    }
    const ok = await pending;
    if (ok) this.add(name, password, stored, nowMs);
    return ok;
  }

  add(name: string, password: string, stored: string, nowMs: number): void {
    if (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(this.#id(name, password, stored), nowMs + this.ttlMs);
  }
}
