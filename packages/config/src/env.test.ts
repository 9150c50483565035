import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readSecretEnv } from './env';

describe('readSecretEnv', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'rms-env-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the named variable, which wins over VAR_FILE', () => {
    const f = path.join(dir, 'pw');
    writeFileSync(f, 'from-the-file\n');
    expect(readSecretEnv('KP', 'key password', { KP: 'from-env', KP_FILE: f })).toBe('from-env');
  });

  it('reads VAR_FILE (a systemd credential) when VAR is unset, dropping one trailing newline', () => {
    const f = path.join(dir, 'key-password');
    writeFileSync(f, 'cluster-key-password-1\n', { mode: 0o600 });
    chmodSync(f, 0o600);
    expect(readSecretEnv('RMS_KEY_PASSWORD', 'cluster key password', { RMS_KEY_PASSWORD_FILE: f })).toBe('cluster-key-password-1');
    writeFileSync(f, '  spaces kept \r\n\n');
    expect(readSecretEnv('RMS_KEY_PASSWORD', 'cluster key password', { RMS_KEY_PASSWORD_FILE: f })).toBe('  spaces kept \r\n');
  });

  it('says which file is missing or empty, without its contents', () => {
    expect(() => readSecretEnv('KP', 'key password', { KP_FILE: path.join(dir, 'nope') })).toThrow(/cannot read .*nope \(KP_FILE, the key password\): ENOENT/);
    const empty = path.join(dir, 'empty');
    writeFileSync(empty, '\n');
    expect(() => readSecretEnv('KP', 'key password', { KP_FILE: empty })).toThrow(/empty/);
    expect(() => readSecretEnv('KP', 'key password', {})).toThrow(/KP \(the key password\) is not set/);
  });
});
