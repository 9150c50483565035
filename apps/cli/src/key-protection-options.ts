import { readSecretEnv } from '@openrms/config';
import { RmsError } from '@openrms/domain';
import type { ProvisionKeyProtection } from '@openrms/issuance';
import { type OptionSpec, type ParsedArgs, str } from './command';

/**
 * Where `provision root|licensing` keeps the new cluster key: wrapped with the cluster key password
 * in the database (the default), or generated inside a PKCS#11 token (docs/adr/0016-pkcs11-key-protection.md).
 */
export const keyProtectionOptions: Record<string, OptionSpec> = {
  'key-protection': { type: 'string', placeholder: 'password|pkcs11', help: 'Where the cluster key is kept: wrapped with the key password in the database (password, the default) or generated in a PKCS#11 token it never leaves (pkcs11)' },
  'key-password-env': { type: 'string', placeholder: 'VAR', help: 'Environment variable holding the new cluster key password (with --key-protection password)' },
  'pkcs11-module': { type: 'string', placeholder: 'PATH', help: 'PKCS#11 module (the HSM vendor’s .so; SoftHSM2: /usr/lib/softhsm/libsofthsm2.so), the same path on every member' },
  'pkcs11-token': { type: 'string', placeholder: 'LABEL', help: 'Label of the token to generate the key in' },
  'pkcs11-pin-env': { type: 'string', placeholder: 'VAR', help: 'Environment variable holding the token’s user PIN (VAR_FILE may name a file holding it); never stored' },
  'pkcs11-key-label': { type: 'string', placeholder: 'LABEL', help: 'CKA_LABEL of the new key objects (default openrms-cluster-<cluster id>)' },
};

const PKCS11_ONLY = ['pkcs11-module', 'pkcs11-token', 'pkcs11-pin-env', 'pkcs11-key-label'] as const;

/** The provisioning input's key fields from the options above; one-line errors (exit code 2). */
export function keyProtectionFrom(args: ParsedArgs): { keyPassword?: string; keyProtection?: ProvisionKeyProtection } {
  const kind = str(args, 'key-protection') ?? 'password';
  if (kind === 'password') {
    const stray = PKCS11_ONLY.find((o) => str(args, o) !== undefined);
    if (stray) throw new RmsError('InvalidInput', `--${stray} only goes with --key-protection pkcs11`);
    return { keyPassword: readSecretEnv(str(args, 'key-password-env') ?? missing('key-password-env', 'password'), 'cluster key password') };
  }
  if (kind !== 'pkcs11') throw new RmsError('InvalidInput', `--key-protection must be password or pkcs11, got "${kind}"`);
  if (str(args, 'key-password-env') !== undefined) throw new RmsError('InvalidInput', '--key-password-env does not go with --key-protection pkcs11: the token PIN guards the key (--pkcs11-pin-env)');
  const module = str(args, 'pkcs11-module') ?? missing('pkcs11-module', 'pkcs11');
  const token = str(args, 'pkcs11-token') ?? missing('pkcs11-token', 'pkcs11');
  const pin = readSecretEnv(str(args, 'pkcs11-pin-env') ?? missing('pkcs11-pin-env', 'pkcs11'), 'PKCS#11 token PIN');
  const keyLabel = str(args, 'pkcs11-key-label');
  return { keyProtection: { kind: 'pkcs11', module, token, pin, ...(keyLabel ? { keyLabel } : {}) } };
}

function missing(option: string, kind: string): never {
  throw new RmsError('InvalidInput', `--${option} is required with --key-protection ${kind}`);
}
