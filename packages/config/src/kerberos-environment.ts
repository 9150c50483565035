import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { RmsError } from '@openrms/domain';

/*
 * Why this is process-global: the MIT Kerberos library behind the `kerberos` package finds the
 * acceptor keytab through the KRB5_KTNAME environment variable (and its configuration through
 * KRB5_CONFIG), read by the C library from the real process environment on every
 * gss_acquire_cred. The package offers no per-context keytab, so one process accepts tickets from
 * one keytab. Switching it while requests are in flight would let a context built for one keytab
 * race a change of the other, so we set it once at start-up and refuse a different one later.
 *
 * Caveat for tests: jest gives each test file a copy of process.env, so this function called
 * inside jest does not reach the C library. Exercise the acceptor in a child process (a server
 * started with the keytab in its configuration, or a small driver script).
 */

let chosen: { keytab: string; krb5Config: string | undefined } | undefined;

function resolveReadable(file: string, what: string): string {
  if (typeof file !== 'string' || file.trim() === '') throw new RmsError('InvalidInput', `${what} path is empty`);
  const abs = path.resolve(file.replace(/^FILE:/, ''));
  try {
    accessSync(abs, constants.R_OK);
  } catch {
    throw new RmsError('InvalidInput', `${what} ${abs} does not exist or is not readable`);
  }
  return abs;
}

/**
 * Points the Kerberos library of this process at the service keytab (KRB5_KTNAME) and, when given,
 * at a krb5.conf (KRB5_CONFIG). Idempotent for the same paths; throws RmsError('InvalidInput')
 * for an unreadable file or for a different keytab/config than the one already chosen.
 */
export function useKerberosAcceptorKeytab(keytab: string, krb5Config?: string): void {
  const kt = resolveReadable(keytab, 'Kerberos keytab');
  const conf = krb5Config === undefined ? undefined : resolveReadable(krb5Config, 'krb5.conf');
  if (chosen) {
    if (chosen.keytab !== kt || (conf !== undefined && chosen.krb5Config !== conf)) {
      throw new RmsError('InvalidInput', `this process already accepts Kerberos tickets with keytab ${chosen.keytab}; one keytab per process`);
    }
    return;
  }
  const inherited = process.env.KRB5_KTNAME;
  if (inherited !== undefined && inherited !== '' && path.resolve(inherited.replace(/^(FILE|WRFILE):/, '')) !== kt) {
    throw new RmsError('InvalidInput', `KRB5_KTNAME is already set to ${inherited} in the environment; it differs from the configured keytab ${kt}`);
  }
  process.env.KRB5_KTNAME = `FILE:${kt}`;
  if (conf !== undefined) process.env.KRB5_CONFIG = conf;
  chosen = { keytab: kt, krb5Config: conf };
}

/** The keytab chosen by `useKerberosAcceptorKeytab`, if any (for start-up logs and readiness). */
export function kerberosAcceptorKeytab(): string | undefined {
  return chosen?.keytab;
}
