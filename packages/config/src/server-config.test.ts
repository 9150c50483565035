import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { embeddedDefaults, loadServerConfig, parseByteSize, parseListen, readSecretEnv } from './server-config';

describe('server configuration', () => {
  it('parses listen addresses, including IPv6', () => {
    expect(parseListen('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(() => parseListen('8080')).toThrow(/HOST:PORT/);
    expect(() => parseListen('h:99999')).toThrow(/HOST:PORT/);
  });

  it('reads secrets only from the named environment variable', () => {
    expect(readSecretEnv('PW', 'x', { PW: 's3cret' })).toBe('s3cret');
    expect(() => readSecretEnv('PW', 'key password', {})).toThrow('environment variable PW (the key password) is not set');
    expect(() => readSecretEnv('bad name', 'x', {})).toThrow(/not an environment variable name/);
    expect(() => readSecretEnv(undefined, 'key password', {})).toThrow(/name the environment variable/);
  });

  it('applies flags over environment over defaults', () => {
    const env = { RMS_DATABASE_URL: 'sqlite:/tmp/a.db', KP: 'k'.repeat(12), RMS_MAX_BODY_BYTES: '2m' };
    const c = loadServerConfig({ keyPasswordEnv: 'KP', listen: '0.0.0.0:9000' }, env);
    expect(c.databaseUrl).toBe('sqlite:/tmp/a.db');
    expect(c.listen).toEqual({ host: '0.0.0.0', port: 9000 });
    expect(c.maxBodyBytes).toBe(2 * 1024 * 1024);
    expect(c.tls).toBeUndefined();
    expect(() => loadServerConfig({ keyPasswordEnv: 'KP' }, { KP: 'x' })).toThrow(/--database is required/);
  });

  it('needs both TLS files and reads them', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cfg-'));
    writeFileSync(path.join(dir, 'c.pem'), 'CERT');
    writeFileSync(path.join(dir, 'k.pem'), 'KEY');
    const base = { database: 'sqlite::memory:', keyPasswordEnv: 'KP' };
    const env = { KP: 'pw' };
    expect(() => loadServerConfig({ ...base, tlsCert: path.join(dir, 'c.pem') }, env)).toThrow(/both a certificate and a key/);
    const c = loadServerConfig({ ...base, tlsCert: path.join(dir, 'c.pem'), tlsKey: path.join(dir, 'k.pem') }, env);
    expect(c.tls?.cert.toString()).toBe('CERT');
    expect(() => loadServerConfig({ ...base, tlsCert: '/nonexistent', tlsKey: '/nonexistent' }, env)).toThrow(/ENOENT/);
  });

  it('bounds the body size', () => {
    expect(parseByteSize('512k', 'x')).toBe(524288);
    expect(() => parseByteSize('12', 'x')).toThrow(/between/);
    expect(() => parseByteSize('lots', 'x')).toThrow(/size like/);
  });

  it('puts the embedded default under ./data', () => {
    const d = embeddedDefaults('/srv/rms', {});
    expect(d.databaseUrl).toBe('sqlite:/srv/rms/data/openrms.db');
    expect(d.credentialsFile).toBe('/srv/rms/data/credentials.json');
    expect(d.clusterUrl).toBe('http://127.0.0.1:8080/_wmcs');
  });
});
