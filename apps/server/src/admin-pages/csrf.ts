import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';

/** A page left open over a working day can still submit; older tokens are refused. */
export const CSRF_TOKEN_TTL_MS = 12 * 60 * 60 * 1000;

/** Where the admin pages get the cluster's form secret (ClusterRuntime.adminFormSecret, re-read on refresh). */
export type FormSecretSource = () => Buffer;

/**
 * Form tokens for the admin pages. A browser sends Basic credentials to this origin on its own, so
 * a page elsewhere could make an administrator's browser POST a change; the token proves the form
 * came from a page this cluster rendered for this administrator. It is `<ms>.<HMAC(secret, name,
 * ms)>`: bound to the administrator's name (a token copied from someone else's page is useless),
 * dated (it expires), and checked without server-side state. The secret is the cluster's (stored
 * sealed in the configuration database), so a form rendered by one member is accepted by any other
 * behind the balancer, and a token of another cluster is not; rotating the secret voids them all.
 */
export class CsrfTokens {
  readonly #secret: FormSecretSource;

  constructor(secret: FormSecretSource) {
    this.#secret = secret;
  }

  #mac(name: string, issuedAt: number): Buffer {
    return createHmac('sha256', this.#secret()).update(`openrms-admin-form\n${name}\n${issuedAt}`).digest();
  }

  issue(name: string, now: number = Date.now()): string {
    return `${now}.${this.#mac(name, now).toString('base64url')}`;
  }

  verify(name: string, token: unknown, now: number = Date.now()): boolean {
    if (typeof token !== 'string' || token.length > 200) return false;
    const m = /^(\d{1,16})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (!m) return false;
    const issuedAt = Number(m[1]);
    // A little clock slack between the page and the POST, but nothing from the future beyond it.
    if (!(now - issuedAt <= CSRF_TOKEN_TTL_MS && issuedAt - now <= 60_000)) return false;
    // Compared as text: base64url has spare bits, and a token must have exactly one spelling.
    const given = Buffer.from(m[2]!);
    const expected = Buffer.from(this.#mac(name, issuedAt).toString('base64url'));
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}

/**
 * A change must come from a page of this origin: the Origin header (every current browser sends it
 * on a form POST) or, failing that, the Referer must name this host, and Sec-Fetch-Site, when sent,
 * must say same-origin. Neither header at all is refused: a browser form always sends one.
 * Only the host is compared: behind a TLS-terminating balancer this server sees plain HTTP.
 */
export function isSameOrigin(req: Request): boolean {
  const host = req.get('host');
  if (!host) return false;
  const site = req.get('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin') return false;
  const origin = req.get('origin');
  if (origin !== undefined) return origin !== 'null' && hostOf(origin) === host;
  const referer = req.get('referer');
  return referer !== undefined && hostOf(referer) === host;
}
