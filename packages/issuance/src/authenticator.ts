import { isRmsError, type NegotiateAcceptor } from '@openrms/domain';
import type { AuthenticatedPrincipal } from './authenticated-principal';
import type { Identities } from './identities';

export type AuthScheme = 'negotiate' | 'basic';

/** What a request's Authorization header proved. */
export interface SignOnResult {
  /** Set when the caller is a known, enabled person whose credentials are right. */
  principal?: AuthenticatedPrincipal;
  /** The name the caller claimed (Basic user name, Kerberos client principal), for the request log. */
  claimed: string | null;
  scheme: AuthScheme | null;
  /** Negotiate's mutual-authentication token, for `WWW-Authenticate: Negotiate <token>` on the answer. */
  responseToken?: string;
  /** Why sign-on failed, for the request log (never a password or a token). */
  failure?: string;
}

/** Basic credentials are short; anything longer is not worth decoding. */
const MAX_BASIC_HEADER = 4096;

/** Credentials from an HTTP Basic Authorization header, or undefined when absent or malformed. */
export function parseBasicAuthorization(header: string | undefined): { name: string; password: string } | undefined {
  if (!header || header.length > MAX_BASIC_HEADER) return undefined;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i <= 0) return undefined;
  const name = decoded.slice(0, i);
  // A NUL or another control character in a user name is never a person's logon.
  if (/[\u0000-\u001f\u007f]/.test(name)) return undefined;
  return { name, password: decoded.slice(i + 1) };
}

/**
 * The Authenticator port (DESIGN.md §5): HTTP Basic checked against the Directory port (a local
 * password or a directory bind), and Negotiate (SPNEGO/Kerberos) through an acceptor holding the
 * service keytab, its client principal mapped to a directory person. Only the schemes configured
 * are accepted and offered, the way IIS offers its enabled providers.
 */
export class Authenticator {
  constructor(
    private readonly identities: () => Identities,
    readonly schemes: readonly AuthScheme[],
    private readonly negotiate?: NegotiateAcceptor,
  ) {}

  /** `WWW-Authenticate` values for a 401, one per scheme, Negotiate first. */
  challenges(realm: string): string[] {
    return this.schemes.map((s) => (s === 'negotiate' ? 'Negotiate' : `Basic realm="${realm}", charset="UTF-8"`));
  }

  /**
   * Never throws for bad credentials (they give no principal); throws AdEntrySearchFailed when
   * the directory cannot answer, so the edge can tell an outage from a wrong password.
   */
  async signOn(authorization: string | undefined): Promise<SignOnResult> {
    if (!authorization) return { claimed: null, scheme: null, failure: 'no credentials' };
    const scheme = /^(\S+)/.exec(authorization)?.[1]?.toLowerCase();
    if (scheme === 'negotiate') {
      if (!this.negotiate || !this.schemes.includes('negotiate')) return { claimed: null, scheme: null, failure: 'Negotiate is not enabled here' };
      const token = authorization.slice('negotiate'.length).trim();
      let proved: { principal: string; responseToken: string | null };
      try {
        proved = await this.negotiate.accept(token);
      } catch (e) {
        if (isRmsError(e, 'AuthenticationRequired') || isRmsError(e, 'Unavailable')) return { claimed: null, scheme: 'negotiate', failure: `Negotiate refused: ${e.message}` };
        throw e;
      }
      const principal = await this.identities().signOnWithKerberos(proved.principal);
      return {
        claimed: proved.principal,
        scheme: 'negotiate',
        ...(principal ? { principal } : { failure: `${proved.principal} is not an enabled account here` }),
        ...(principal && proved.responseToken ? { responseToken: proved.responseToken } : {}),
      };
    }
    if (scheme === 'basic') {
      if (!this.schemes.includes('basic')) return { claimed: null, scheme: null, failure: 'Basic is not enabled here' };
      const c = parseBasicAuthorization(authorization);
      if (!c) return { claimed: null, scheme: 'basic', failure: 'malformed Basic credentials' };
      const principal = await this.identities().signOnWithPassword(c.name, c.password);
      return { claimed: c.name, scheme: 'basic', ...(principal ? { principal } : { failure: 'wrong credentials' }) };
    }
    return { claimed: null, scheme: null, failure: 'unsupported authorization scheme' };
  }
}
