import { accessSync, constants, statSync } from 'node:fs';
import { initializeServer, type KerberosServer } from 'kerberos';
import { type NegotiateAcceptor, type NegotiateResult, RmsError } from '@openrms/domain';

/**
 * 64 KiB of base64 (48 KiB of token). Active Directory tickets carry the user's groups in the PAC
 * and Windows caps a token at 48,000 bytes (MaxTokenSize), so this admits every real one while
 * keeping a hostile header from reaching the ASN.1 parser.
 */
export const MAX_NEGOTIATE_TOKEN_BASE64 = 64 * 1024;

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const SPN = /^([A-Za-z][A-Za-z0-9_-]*)\/([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)@([A-Za-z0-9][A-Za-z0-9._-]*)$/;
/** What gss_display_name gives for a Kerberos client: `name[/instance]@REALM`, no controls. */
const CLIENT_PRINCIPAL = /^[^@\s\x00-\x1f\x7f]+(?:\\@[^@\s\x00-\x1f\x7f]*)*@[^@\s\x00-\x1f\x7f]+$/;

/** `HTTP/host@REALM` → `HTTP@host`, the GSS host-based service name the library imports. */
export function spnToHostService(spn: string): string {
  const m = SPN.exec(typeof spn === 'string' ? spn : '');
  if (!m) throw new RmsError('InvalidInput', `service principal must look like HTTP/host.example.com@REALM, got "${String(spn).slice(0, 200)}"`);
  return `${m[1]}@${m[2]}`;
}

/** The part of a GSS error worth keeping: the minor status says what was wrong, the major is boilerplate. */
function reason(e: unknown): string {
  const text = (e instanceof Error ? e.message : String(e)).replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  const minor = /Minor code may provide more information:\s*(.*)$/i.exec(text)?.[1]?.trim();
  const r = minor || text || 'unknown failure';
  return r.length > 200 ? `${r.slice(0, 200)}…` : r;
}

export interface KerberosNegotiateAcceptorOptions {
  /** The service's keytab file (must already be the process's KRB5_KTNAME, see useKerberosAcceptorKeytab). */
  keytab: string;
  /** `HTTP/host@REALM`: the name clients ask a ticket for (HTTP@host, from the URL's host). */
  spn: string;
}

/**
 * Accepts single-round SPNEGO/Kerberos tokens (RFC 4559) for one service principal.
 *
 * The MIT library takes the keytab from the process environment (KRB5_KTNAME), which only
 * @openrms/config may set: the composition root calls `useKerberosAcceptorKeytab(keytab)` before
 * the first `accept`. Each token gets a fresh acceptor context: HTTP Negotiate is stateless per
 * request, and a context left over from another request must never complete this one.
 */
export class KerberosNegotiateAcceptor implements NegotiateAcceptor {
  readonly servicePrincipal: string;
  readonly keytab: string;
  private readonly hostService: string;

  constructor(opts: KerberosNegotiateAcceptorOptions) {
    this.hostService = spnToHostService(opts.spn);
    this.servicePrincipal = opts.spn;
    if (typeof opts.keytab !== 'string' || opts.keytab === '') throw new RmsError('InvalidInput', 'Kerberos keytab path is empty');
    const file = opts.keytab.replace(/^FILE:/, '');
    try {
      accessSync(file, constants.R_OK);
      if (!statSync(file).isFile()) throw new Error('not a file');
    } catch {
      throw new RmsError('InvalidInput', `Kerberos keytab ${file} does not exist or is not a readable file`);
    }
    this.keytab = file;
  }

  /**
   * Acquires the acceptor credential once without a token: proves at start-up that the keytab the
   * library sees holds this SPN. Throws RmsError('Unavailable') otherwise.
   */
  async check(): Promise<void> {
    await this.server();
  }

  async accept(tokenBase64: string): Promise<NegotiateResult> {
    if (typeof tokenBase64 !== 'string' || tokenBase64.length === 0) throw new RmsError('AuthenticationRequired', 'empty Negotiate token');
    if (tokenBase64.length > MAX_NEGOTIATE_TOKEN_BASE64) throw new RmsError('AuthenticationRequired', 'Negotiate token too large');
    if (tokenBase64.length % 4 !== 0 || !BASE64.test(tokenBase64)) throw new RmsError('AuthenticationRequired', 'Negotiate token is not base64');

    const server = await this.server();
    try {
      await server.step(tokenBase64);
    } catch (e) {
      throw new RmsError('AuthenticationRequired', `Kerberos token refused: ${reason(e)}`, { cause: e });
    }
    // The binding marks any non-error status complete, including GSS_S_CONTINUE_NEEDED (a SPNEGO
    // exchange that wants another leg, which HTTP Negotiate cannot carry per request here): so
    // insist on a named client as well as the flag.
    const principal = server.username;
    if (!server.contextComplete || typeof principal !== 'string' || !CLIENT_PRINCIPAL.test(principal)) {
      throw new RmsError('AuthenticationRequired', 'Kerberos token did not complete authentication in one round trip');
    }
    const response = server.response;
    return { principal, responseToken: typeof response === 'string' && response.length > 0 ? response : null };
  }

  private async server(): Promise<KerberosServer> {
    try {
      return await initializeServer(this.hostService);
    } catch (e) {
      // No token was looked at yet: this is the keytab/configuration, not the client.
      throw new RmsError('Unavailable', `Kerberos acceptor for ${this.servicePrincipal} unusable: ${reason(e)}`, { cause: e });
    }
  }
}
