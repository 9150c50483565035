import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { RsaKeyPair } from '@openrms/keys';

/**
 * Users' key pairs opened recently, by the digest of their sealed form as stored. Opening one
 * costs an RSA-OAEP decryption and a PKCS#8 parse (about 0.8 ms) on every Certify of the same
 * person. What is kept is the opened key object (its private half inside packages/keys, never
 * exported) for a short time and a bounded number of people; the row is still read on every
 * request, so a replaced or removed key is never served from here (another sealed form is another
 * entry) and revocation is checked on every request by the caller. Expired entries are dropped
 * by a timer, not left in memory until they are overwritten. One cache per runtime, hence per
 * cluster key: the sealed forms open only with that key.
 */
export class UserKeyCache {
  readonly #lru: LRUCache<string, RsaKeyPair>;

  constructor(opts: { maxEntries?: number; ttlMs?: number } = {}) {
    this.#lru = new LRUCache({ max: Math.max(1, opts.maxEntries ?? 1000), ttl: opts.ttlMs ?? 60_000, ttlAutopurge: true });
  }

  /** The opened pair for this stored sealed form, opening it with `open` when not kept. */
  open(sealedBase64: string, open: () => RsaKeyPair): RsaKeyPair {
    const id = createHash('sha256').update(sealedBase64).digest('base64');
    let pair = this.#lru.get(id);
    if (!pair) {
      pair = open();
      this.#lru.set(id, pair);
    }
    return pair;
  }

  get size(): number {
    return this.#lru.size;
  }

  clear(): void {
    this.#lru.clear();
  }
}
