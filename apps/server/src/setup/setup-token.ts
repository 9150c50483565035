import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 192 random bits: far beyond guessing over the network, short enough to paste. */
const TOKEN_BYTES = 24;

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * The one secret that opens the set-up page of an unprovisioned server. It is printed once at start
 * (whoever reads the server's output is the operator) and is void the moment a set-up completes, so
 * a leaked link is worth nothing afterwards. Compared through SHA-256 digests with timingSafeEqual:
 * equal lengths whatever was sent, and no early exit that times the matching prefix.
 */
export class SetupToken {
  readonly #value = randomBytes(TOKEN_BYTES).toString('base64url');
  readonly #digest = digest(this.#value);
  #spent = false;

  /** The token itself, for the line printed at start; never logged through the logger. */
  reveal(): string {
    return this.#value;
  }

  matches(given: unknown): boolean {
    if (this.#spent || typeof given !== 'string' || given.length === 0 || given.length > 256) return false;
    return timingSafeEqual(digest(given), this.#digest);
  }

  /** Set-up is done: the token opens nothing any more. */
  spend(): void {
    this.#spent = true;
  }

  get spent(): boolean {
    return this.#spent;
  }
}
