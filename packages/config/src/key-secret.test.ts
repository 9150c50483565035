import { loadServerConfig } from './server-config';
import { loadWorkerConfig } from './jobs-config';
import { parseConfigFile } from './config-file';

describe('the secret that opens the cluster key', () => {
  const base = { database: 'sqlite:x' };

  it('is the key password unless a token PIN variable is named', () => {
    expect(loadServerConfig({ ...base, keyPasswordEnv: 'KP' }, { KP: 'the password' }).keyPassword).toBe('the password');
    expect(loadServerConfig(base, { RMS_KEY_PASSWORD: 'default var' }).keyPassword).toBe('default var');
  });

  it('is the token PIN from the variable pkcs11-pin-env names (flag, RMS_PKCS11_PIN_ENV or file; VAR_FILE too)', () => {
    expect(loadServerConfig({ ...base, pkcs11PinEnv: 'PIN' }, { PIN: '1234', RMS_KEY_PASSWORD: 'unused' }).keyPassword).toBe('1234');
    expect(loadServerConfig(base, { RMS_PKCS11_PIN_ENV: 'PIN', PIN: '5678' }).keyPassword).toBe('5678');
    const file = parseConfigFile('database: sqlite:x\nredis: redis://127.0.0.1:6379\npkcs11-pin-env: HSM_PIN\n', '/m.yaml');
    expect(loadWorkerConfig({}, { HSM_PIN: '2468' }, file).keyPassword).toBe('2468');
    expect(() => loadServerConfig({ ...base, pkcs11PinEnv: 'PIN' }, {})).toThrow('environment variable PIN (the PKCS#11 token PIN) is not set');
  });

  it('never comes from the configuration file itself', () => {
    expect(() => parseConfigFile('pkcs11-pin: 1234\n', 'm.yaml')).toThrow(/pkcs11-pin: the token PIN never goes in a configuration file; set pkcs11-pin-env/);
  });
});
