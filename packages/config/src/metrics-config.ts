import { RmsError } from '@openrms/domain';
import { type Env, readSecretEnv } from './env';

/** Shorter tokens are guessable; the check is cheap insurance against `RMS_METRICS_TOKEN=metrics`. */
export const MIN_METRICS_TOKEN_LENGTH = 16;

export interface MetricsConfig {
  /**
   * Bearer token a Prometheus scraper presents on /metrics (RMS_METRICS_TOKEN). Without it only
   * members of RMS Administrators (HTTP Basic) can read /metrics.
   */
  token?: string;
}

/** `varName` is the metrics-token-env setting: the variable that holds the token (RMS_METRICS_TOKEN). */
export function loadMetricsConfig(env: Env = process.env, varName = 'RMS_METRICS_TOKEN'): MetricsConfig {
  // Like every secret: VAR, else the file VAR_FILE names (systemd LoadCredential=).
  const token = env[varName] || (env[`${varName}_FILE`] ? readSecretEnv(varName, '/metrics bearer token', env) : undefined);
  if (token === undefined || token === '') return {};
  // RFC 6750 b64token: what fits in "Authorization: Bearer …" without quoting.
  if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) {
    throw new RmsError('InvalidInput', `${varName} may contain only letters, digits and - . _ ~ + / (then = padding)`);
  }
  if (token.length < MIN_METRICS_TOKEN_LENGTH) {
    throw new RmsError('InvalidInput', `${varName} must be at least ${MIN_METRICS_TOKEN_LENGTH} characters`);
  }
  return { token };
}
