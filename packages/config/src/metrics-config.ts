import { RmsError } from '@openrms/domain';
import type { Env } from './server-config';

/** Shorter tokens are guessable; the check is cheap insurance against `RMS_METRICS_TOKEN=metrics`. */
export const MIN_METRICS_TOKEN_LENGTH = 16;

export interface MetricsConfig {
  /**
   * Bearer token a Prometheus scraper presents on /metrics (RMS_METRICS_TOKEN). Without it only
   * members of RMS Administrators (HTTP Basic) can read /metrics.
   */
  token?: string;
}

export function loadMetricsConfig(env: Env = process.env): MetricsConfig {
  const token = env.RMS_METRICS_TOKEN;
  if (token === undefined || token === '') return {};
  // RFC 6750 b64token: what fits in "Authorization: Bearer …" without quoting.
  if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) {
    throw new RmsError('InvalidInput', 'RMS_METRICS_TOKEN may contain only letters, digits and - . _ ~ + / (then = padding)');
  }
  if (token.length < MIN_METRICS_TOKEN_LENGTH) {
    throw new RmsError('InvalidInput', `RMS_METRICS_TOKEN must be at least ${MIN_METRICS_TOKEN_LENGTH} characters`);
  }
  return { token };
}
