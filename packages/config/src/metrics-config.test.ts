import { isRmsError } from '@openrms/domain';
import { loadMetricsConfig } from './metrics-config';

describe('loadMetricsConfig', () => {
  it('has no token unless RMS_METRICS_TOKEN is set', () => {
    expect(loadMetricsConfig({})).toEqual({});
    expect(loadMetricsConfig({ RMS_METRICS_TOKEN: '' })).toEqual({});
  });

  it('takes a token a Bearer header can carry', () => {
    expect(loadMetricsConfig({ RMS_METRICS_TOKEN: 'abcdEFGH0123-._~+/==' })).toEqual({ token: 'abcdEFGH0123-._~+/==' });
  });

  it.each([
    ['too short', 'short-token'],
    ['with a space', 'abcdefgh ijklmnopq'],
    ['with a quote', 'abcdefghijklmnop"'],
  ])('refuses a token %s, with a message that does not repeat it', (_what, token) => {
    let err: unknown;
    try {
      loadMetricsConfig({ RMS_METRICS_TOKEN: token });
    } catch (e) {
      err = e;
    }
    expect(isRmsError(err, 'InvalidInput')).toBe(true);
    expect((err as Error).message).toMatch(/RMS_METRICS_TOKEN/);
    expect((err as Error).message).not.toContain(token);
  });
});
