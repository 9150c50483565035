import { defaultDacl, endpointPath, evaluateAccess, normalizeEndpoint, RESTRICTED_ENDPOINTS } from './access';
import { negotiateVersion } from './version-data';
import { clusterBaseUrl } from './cluster';
import { normalizeGuid } from './ids';

const P = { administrators: 'adm', serviceGroup: 'svc', authenticatedUsers: 'auth' };
const dacl = defaultDacl(P);
const subEnroll = endpointPath('/certification/SubEnrollService.asmx');
const license = endpointPath('/licensing/license.asmx');

describe('DACL evaluation', () => {
  it('normalises endpoints case-insensitively', () => {
    expect(normalizeEndpoint('/_WMCS/Certification/SubEnrollService.asmx/')).toBe('/_wmcs/certification/subenrollservice.asmx');
    expect(RESTRICTED_ENDPOINTS).toContain(subEnroll);
  });

  it('lets authenticated users execute client endpoints but not SubEnroll', () => {
    expect(evaluateAccess(dacl, license, new Set(['u1', 'auth']), 'Execute').allowed).toBe(true);
    expect(evaluateAccess(dacl, subEnroll, new Set(['u1', 'auth']), 'Execute')).toEqual({ allowed: false, reason: 'no-matching-entry' });
  });

  it('denies administrators on SubEnroll until granted, and the service group is allowed', () => {
    expect(evaluateAccess(dacl, subEnroll, new Set(['adm', 'auth']), 'Execute').allowed).toBe(false);
    expect(evaluateAccess(dacl, subEnroll, new Set(['svc', 'auth']), 'Execute').allowed).toBe(true);
    expect(evaluateAccess(dacl, license, new Set(['adm']), 'Read').allowed).toBe(true);
  });

  it('lets deny win over allow', () => {
    const withDeny = [...dacl, { endpoint: license, principalId: 'u1', right: 'Execute' as const, effect: 'deny' as const }];
    expect(evaluateAccess(withDeny, license, new Set(['u1', 'auth']), 'Execute')).toEqual({ allowed: false, reason: 'denied-by-entry' });
    expect(evaluateAccess(withDeny, license, new Set(['u1', 'auth']), 'Read').allowed).toBe(true);
  });
});

describe('VersionData negotiation', () => {
  it('accepts 1.0 and 1.1 ranges and allows batching from 1.1', () => {
    expect(negotiateVersion('1.0.0.0', '1.0.0.0').batchingAllowed).toBe(false);
    expect(negotiateVersion('1.0.0.0', '1.1.0.0').batchingAllowed).toBe(true);
  });
  it('faults malformed, inverted and too-new ranges', () => {
    expect(() => negotiateVersion(undefined, '1.0.0.0')).toThrow(expect.objectContaining({ code: 'MalformedDataVersion' }));
    expect(() => negotiateVersion('1.0', '1.0.0.0')).toThrow(expect.objectContaining({ code: 'MalformedDataVersion' }));
    expect(() => negotiateVersion('1.1.0.0', '1.0.0.0')).toThrow(expect.objectContaining({ code: 'MalformedDataVersion' }));
    expect(() => negotiateVersion('1.0.0.0', '1.2.0.0')).toThrow(expect.objectContaining({ code: 'UnsupportedDataVersion' }));
  });
});

describe('identifiers and URLs', () => {
  it('normalises GUIDs with or without braces', () => {
    expect(normalizeGuid('96C4CA87-B3FF-4DED-9C15-53272E26396F')).toBe('{96c4ca87-b3ff-4ded-9c15-53272e26396f}');
    expect(normalizeGuid('{96c4ca87-b3ff-4ded-9c15-53272e26396f}')).toBe('{96c4ca87-b3ff-4ded-9c15-53272e26396f}');
    expect(normalizeGuid('nope')).toBeUndefined();
  });
  it('normalises cluster URLs to their _wmcs base', () => {
    expect(clusterBaseUrl('http://rms.example.test')).toBe('http://rms.example.test/_wmcs');
    expect(clusterBaseUrl('https://rms.example.test:8443/_wmcs/')).toBe('https://rms.example.test:8443/_wmcs');
    expect(() => clusterBaseUrl('ftp://x')).toThrow(/http/);
  });
});
