import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FormSecretSource } from './csrf';

/** Long enough for a slow redirect and a reload; the notice is a courtesy, not a record. */
export const FLASH_TTL_MS = 5 * 60 * 1000;

/** Notices are one sentence; a longer one is cut so the redirect URL stays small. */
const FLASH_MAX_CHARS = 400;

/**
 * What a change reported ("Granted Execute on …"), carried to the page the browser is redirected
 * to (post/redirect/get) in the redirect URL itself, so whichever member serves that GET shows it:
 * `flash=<ms>.<base64url(text)>.<HMAC(cluster secret, admin, ms, text)>`. Only this cluster can
 * make one, only for the administrator it was made for, and only for a few minutes; so a link
 * someone else crafted never puts their words on an administrator's page. The text is escaped when
 * shown like every other value. A reload within the lifetime shows the notice again, harmlessly.
 */
export class FlashNotices {
  readonly #secret: FormSecretSource;

  constructor(secret: FormSecretSource) {
    this.#secret = secret;
  }

  #mac(admin: string, issuedAt: number, text: string): Buffer {
    // JSON keeps the fields apart whatever characters the text holds.
    return createHmac('sha256', this.#secret()).update(`openrms-admin-flash\n${JSON.stringify([admin, issuedAt, text])}`).digest();
  }

  seal(admin: string, text: string, now: number = Date.now()): string {
    const t = text.length > FLASH_MAX_CHARS ? `${text.slice(0, FLASH_MAX_CHARS - 1)}…` : text;
    return `${now}.${Buffer.from(t, 'utf8').toString('base64url')}.${this.#mac(admin, now, t).toString('base64url')}`;
  }

  /** The text, or undefined for anything absent, malformed, expired, of another admin or tampered with. */
  open(admin: string, value: string | undefined, now: number = Date.now()): string | undefined {
    if (value === undefined || value.length > 4 * FLASH_MAX_CHARS + 100) return undefined;
    const m = /^(\d{1,16})\.([A-Za-z0-9_-]*)\.([A-Za-z0-9_-]{43})$/.exec(value);
    if (!m) return undefined;
    const issuedAt = Number(m[1]);
    if (!(now - issuedAt <= FLASH_TTL_MS && issuedAt - now <= 60_000)) return undefined;
    const text = Buffer.from(m[2]!, 'base64url').toString('utf8');
    // Compared as text, so a notice has exactly one spelling (base64url has spare bits).
    if (Buffer.from(text, 'utf8').toString('base64url') !== m[2]) return undefined;
    const given = Buffer.from(m[3]!);
    const expected = Buffer.from(this.#mac(admin, issuedAt, text).toString('base64url'));
    return given.length === expected.length && timingSafeEqual(given, expected) ? text : undefined;
  }
}
