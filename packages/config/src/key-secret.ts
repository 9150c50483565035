import type { SettingReader } from './config-file';
import { type Env, readSecretEnv } from './env';
import { parseEnvVarName } from './setting-parsers';

/**
 * The secret that opens the cluster key: the user PIN of the PKCS#11 token that keeps it when
 * `pkcs11-pin-env` names its variable, else the cluster key password (`key-password-env`). Which
 * one the key needs is in the database; the key package tells a wrong one apart (exit code 4).
 */
export function readKeySecret(r: SettingReader, env: Env): string {
  const pinVar = r.parse('pkcs11-pin-env', parseEnvVarName);
  if (pinVar) return readSecretEnv(pinVar, 'PKCS#11 token PIN', env);
  return readSecretEnv(r.parse('key-password-env', parseEnvVarName) ?? 'RMS_KEY_PASSWORD', 'cluster key password', env);
}
