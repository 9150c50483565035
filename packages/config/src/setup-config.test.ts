import { loadSetupConfig } from './setup-config';

describe('serve --setup configuration', () => {
  it('starts without a database or a key password, and checks the other flags at once', () => {
    const c = loadSetupConfig({ listen: '127.0.0.1:0', serverName: 'm1' }, {});
    expect(c.databaseUrl).toBeUndefined();
    expect(c.keyPassword).toBeUndefined();
    expect(c.base.listen).toEqual({ host: '127.0.0.1', port: 0 });
    expect(c.serverConfig('sqlite:/tmp/x.db', 'kp', 'm2')).toMatchObject({ databaseUrl: 'sqlite:/tmp/x.db', keyPassword: 'kp', serverName: 'm2', listen: { port: 0 } });
    expect(c.serverConfig('sqlite:/tmp/x.db', 'kp').serverName).toBe('m1');
    expect(() => loadSetupConfig({ listen: 'nope' }, {})).toThrow(/HOST:PORT/);
  });

  it('takes the database and key password from flags or the environment when they are there', () => {
    const c = loadSetupConfig({ keyPasswordEnv: 'KP' }, { RMS_DATABASE_URL: 'sqlite:/tmp/a.db', KP: 'secret-1' });
    expect(c.databaseUrl).toBe('sqlite:/tmp/a.db');
    expect(c.keyPassword).toBe('secret-1');
    // An empty variable is "not given", as for a server being set up.
    expect(loadSetupConfig({ database: 'sqlite:/tmp/b.db', keyPasswordEnv: 'KP' }, { KP: '' }).keyPassword).toBeUndefined();
  });
});
