import { createHash, type KeyObject } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { publicKeyFingerprint } from '@openrms/xrml';

/** What a cache entry was verified as: the same bytes read as a RAC and as a CLC are two entries. */
export type VerifiedKind = 'RAC' | 'CLC' | 'PL' | 'SPC' | 'CHAIN';

/**
 * The identity of the key that verified a document: an RSA public key (its SPKI fingerprint), or
 * `self` for a self-signed certificate verified with the key it certifies (a lone SPC).
 */
export type VerifyingKey = KeyObject | 'self';

export interface VerifiedDocumentStats {
  entries: number;
  maxEntries: number;
  /** Verifications a cached result stood in for. */
  hits: number;
  /** Documents verified (parsed, signature checked, read) and then remembered. */
  misses: number;
}

export interface VerifiedDocumentsOptions {
  /** Entries kept (least recently used first out); default 10,000. */
  maxEntries?: number;
  /**
   * Bound on the documents' total size (UTF-16 code units, counted twice for what was read from them);
   * default 16 Mi: a few thousand certificates, or about 800 publishing licences of 10 KB, which keeps
   * a worker under 300 MB of memory when every request brings a PL it has not seen (docs/performance.md).
   */
  maxSize?: number;
}

export const DEFAULT_VERIFIED_DOCUMENT_ENTRIES = 10_000;
const DEFAULT_MAX_SIZE = 16 * 1024 * 1024;
/** Recent digests: a request looks the same string up, then remembers it, often twice. */
const RECENT_DIGESTS = 64;

interface Entry {
  key: KeyObject | 'self';
  value: unknown;
  size: number;
}

/**
 * Results of signature verification, remembered by the SHA-256 of the exact document bytes and the
 * key that verified them: the verified, re-read content of a RAC, CLC, PL or SPC chain member.
 *
 * Only what follows from the bytes and the key is cached: a document's signature is as valid
 * tomorrow as today under the same key. Whether that key is still trusted (trusted user and
 * publishing domains, the SLC after a renewal), whether the document is still within its validity
 * time, whether its user is excluded or it was revoked: the use-cases decide all of that on every
 * request, from the current state and the clock. A lookup names the keys trusted *now*, so an
 * entry verified by a key that has since lost its trust is never found. A different byte anywhere
 * is a different digest, so a tampered copy of a cached document is verified (and refused) afresh;
 * failures are never cached.
 *
 * Cached values are shared by every request that hits them: callers must treat them as read-only.
 */
export class VerifiedDocuments {
  readonly #lru: LRUCache<string, Entry>;
  readonly #maxEntries: number;
  readonly #digests = new Map<string, string>();
  readonly #fingerprints = new WeakMap<KeyObject, string>();
  #hits = 0;
  #misses = 0;

  constructor(opts: VerifiedDocumentsOptions = {}) {
    this.#maxEntries = opts.maxEntries ?? DEFAULT_VERIFIED_DOCUMENT_ENTRIES;
    this.#lru = new LRUCache<string, Entry>({
      max: Math.max(1, this.#maxEntries),
      maxSize: opts.maxSize ?? DEFAULT_MAX_SIZE,
      sizeCalculation: (e) => Math.max(1, e.size),
    });
  }

  /**
   * The cached result for `xml` verified as `kind` by one of `keys` (the keys the caller trusts for
   * it now), with the key that verified it; undefined when none is cached.
   */
  lookup<T>(kind: VerifiedKind, xml: string, keys: readonly VerifyingKey[]): { value: T; key: VerifyingKey } | undefined {
    if (this.#maxEntries <= 0 || keys.length === 0) return undefined;
    const digest = this.#digest(xml);
    for (const k of keys) {
      const entry = this.#lru.get(this.#cacheKey(kind, digest, k));
      if (entry) {
        this.#hits++;
        return { value: entry.value as T, key: entry.key };
      }
    }
    return undefined;
  }

  /** Remembers what verifying `xml` as `kind` with `key` produced; returns `value`. */
  remember<T>(kind: VerifiedKind, xml: string, key: VerifyingKey, value: T): T {
    this.#misses++;
    if (this.#maxEntries > 0) {
      this.#lru.set(this.#cacheKey(kind, this.#digest(xml), key), { key, value, size: xml.length * 2 });
    }
    return value;
  }

  /** Counts a document that was not cached and failed verification (nothing is remembered for it). */
  missed(): void {
    this.#misses++;
  }

  stats(): VerifiedDocumentStats {
    return { entries: this.#lru.size, maxEntries: this.#maxEntries, hits: this.#hits, misses: this.#misses };
  }

  /** Forgets everything (the counters stay). */
  clear(): void {
    this.#lru.clear();
  }

  #cacheKey(kind: VerifiedKind, digest: string, key: VerifyingKey): string {
    return `${kind} ${digest} ${key === 'self' ? 'self' : this.#fingerprint(key)}`;
  }

  #fingerprint(key: KeyObject): string {
    let fp = this.#fingerprints.get(key);
    if (fp === undefined) {
      fp = publicKeyFingerprint(key);
      this.#fingerprints.set(key, fp);
    }
    return fp;
  }

  #digest(xml: string): string {
    let d = this.#digests.get(xml);
    if (d === undefined) {
      d = createHash('sha256').update(xml, 'utf8').digest('base64');
      if (this.#digests.size >= RECENT_DIGESTS) this.#digests.delete(this.#digests.keys().next().value!);
      this.#digests.set(xml, d);
    }
    return d;
  }
}

/**
 * Looks `xml` up as `kind` under the trusted `keys`; on a miss runs `verify` (which parses, checks
 * the signature with the key it names and reads the result, throwing as it always did) and
 * remembers its result. Without a cache, `verify` simply runs.
 */
export function verifiedThrough<T>(
  cache: VerifiedDocuments | undefined,
  kind: VerifiedKind,
  xml: string,
  keys: readonly VerifyingKey[],
  verify: () => { value: T; key: VerifyingKey },
): { value: T; key: VerifyingKey } {
  const hit = cache?.lookup<T>(kind, xml, keys);
  if (hit) return hit;
  let fresh: { value: T; key: VerifyingKey };
  try {
    fresh = verify();
  } catch (e) {
    cache?.missed();
    throw e;
  }
  cache?.remember(kind, xml, fresh.key, fresh.value);
  return fresh;
}
