import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isRmsError } from '@openrms/domain';
import {
  checkConfigFile,
  type ConfigFile,
  parseConfigFile,
  readConfigFile,
  readMemberConfig,
  resolveDatabaseUrl,
  SETTING_KEYS,
  settingArgOptions,
  settingArgs,
  settingField,
  settingFlags,
  settingOptions,
  SettingReader,
  SETTINGS,
  type SettingKey,
} from './config-file';
import { loadJobsConfig, loadWorkerConfig } from './jobs-config';
import { loadServerConfig } from './server-config';

/** A valid value of every setting, as text. */
const SAMPLE: Record<SettingKey, string> = {
  database: 'sqlite:/srv/rms/rms.db',
  listen: '0.0.0.0:8443',
  'key-password-env': 'KEY_PW',
  'pkcs11-pin-env': 'HSM_PIN',
  'tls-cert': '/etc/openrms/cert.pem',
  'tls-key': '/etc/openrms/key.pem',
  'max-body': '2m',
  workers: '3',
  'admission-concurrency': '2',
  'admission-queue': '0',
  'admission-wait': '750ms',
  'server-name': 'member1',
  'log-level': 'warn',
  'state-dir': '/var/lib/openrms',
  'metrics-token-env': 'SCRAPE_TOKEN',
  auth: 'basic',
  keytab: '/etc/openrms/rms.keytab',
  spn: 'HTTP/rms.example.test@EXAMPLE.TEST',
  'krb5-config': '/etc/openrms/krb5.conf',
  redis: 'redis://127.0.0.1:6379/2',
  prefix: 'cluster-a',
  'renewal-window-days': '20',
  'slc-renewal-every': '2h',
  'expiry-sweep-every': '30m',
  'request-log-retention-days': '30',
  'slc-warn-days': '60,14',
  'job-attempts': '5',
  'job-backoff': '500ms',
  'job-lock-duration': '20s',
  'job-stalled-interval': '20s',
  'job-scheduler-check': '5s',
  'job-concurrency': '2',
  'jobs-first-run': '1s',
};

function messageOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(isRmsError(e, 'InvalidInput')).toBe(true);
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

const tmp = () => mkdtempSync(path.join(tmpdir(), 'cfgfile-'));

describe('configuration file', () => {
  it('gives every setting one name: file key, --key flag and RMS_ variable', () => {
    for (const key of SETTING_KEYS) {
      const spec = SETTINGS[key];
      expect(key).toMatch(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/);
      // RMS_ + the key in upper snake case; a URL-valued setting ends in _URL.
      expect(spec.env).toBe(`RMS_${key.replace(/-/g, '_').toUpperCase()}${spec.url ? '_URL' : ''}`);
      const file: ConfigFile = { path: 'm.yaml', values: { [key]: SAMPLE[key] } };
      expect(new SettingReader({ [settingField(key)]: SAMPLE[key] }, {}).get(key)).toEqual({ value: SAMPLE[key], source: 'flag', what: `--${key}` });
      expect(new SettingReader({}, { [spec.env]: SAMPLE[key] }).get(key)).toEqual({ value: SAMPLE[key], source: 'env', what: spec.env });
      expect(new SettingReader({}, {}, file).get(key)).toEqual({ value: SAMPLE[key], source: 'file', what: `m.yaml: ${key}:` });
      expect(new SettingReader({}, {}).get(key)).toBeUndefined();
      // The sample is valid in a file, and each member offers the flag it reads.
      expect(parseConfigFile(`${key}: "${SAMPLE[key]}"\n`, '/m.yaml').values[key]).toBe(SAMPLE[key]);
      for (const member of spec.members) {
        expect(settingOptions(member)[key]?.help).toContain(spec.env);
        expect(settingArgOptions(member)[key]).toEqual({ type: 'string' });
      }
    }
  });

  it('has one table of the settings in docs/operations.md, in step with the code', () => {
    const doc = readFileSync(path.resolve(__dirname, '../../../docs/operations.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## Configuration'), doc.indexOf('\n## ', doc.indexOf('## Configuration') + 5));
    const rows = [...section.matchAll(/^\| `([a-z0-9-]+)` \| `--([a-z0-9-]+)` \| `(RMS_[A-Z0-9_]+)`(?: \(`(RMS_[A-Z0-9_]+)`\))? \|/gm)];
    expect(rows.map((r) => r[1])).toEqual([...SETTING_KEYS]);
    for (const [, key, flag, env, legacy] of rows) {
      const spec = SETTINGS[key as SettingKey];
      expect([flag, env, legacy]).toEqual([key, spec.env, spec.legacyEnv]);
    }
  });

  it('takes a flag over the environment over the file over the default', () => {
    const file: ConfigFile = { path: 'm.yaml', values: { database: 'sqlite:/file.db', listen: '10.0.0.1:1', 'server-name': 'from-file', prefix: 'file', 'log-level': 'debug' } };
    const env = { KP: 'pw', RMS_LISTEN: '10.0.0.2:2', RMS_PREFIX: 'env' };
    const flags = { keyPasswordEnv: 'KP', listen: '10.0.0.3:3' };
    // The table: [flags, env, expected listen]
    const cases: [object, object, string][] = [
      [{}, {}, '10.0.0.1:1'],
      [{}, env, '10.0.0.2:2'],
      [flags, env, '10.0.0.3:3'],
      [flags, {}, '10.0.0.3:3'],
    ];
    for (const [f, e, want] of cases) {
      const c = loadServerConfig({ keyPasswordEnv: 'KP', ...f }, { KP: 'pw', ...e }, file);
      expect(`${c.listen.host}:${c.listen.port}`).toBe(want);
    }
    const c = loadServerConfig(flags, env, file);
    expect(c).toMatchObject({ databaseUrl: 'sqlite:/file.db', serverName: 'from-file', logLevel: 'debug', maxBodyBytes: 1024 * 1024 });
    expect(c.jobs.prefix).toBe('env');
    expect(loadServerConfig({ ...flags, database: 'sqlite:/flag.db' }, { ...env, RMS_DATABASE_URL: 'sqlite:/env.db' }, file).databaseUrl).toBe('sqlite:/flag.db');
    expect(loadServerConfig(flags, { ...env, RMS_DATABASE_URL: 'sqlite:/env.db' }, file).databaseUrl).toBe('sqlite:/env.db');
    // metrics-token-env names the variable holding the /metrics token; the message names the variable, never the token.
    const tokenFile: ConfigFile = { path: 'm.yaml', values: { database: 'sqlite:x', 'metrics-token-env': 'SCRAPE' } };
    expect(loadServerConfig(flags, { ...env, SCRAPE: 't'.repeat(20) }, tokenFile).metrics).toEqual({ token: 't'.repeat(20) });
    expect(messageOf(() => loadServerConfig(flags, { ...env, SCRAPE: 'short-one' }, tokenFile))).toBe('SCRAPE must be at least 16 characters');
    expect(loadServerConfig(flags, env, file).metrics).toBeUndefined();
    // An empty variable is not set.
    expect(loadServerConfig(flags, { ...env, RMS_DATABASE_URL: '' }, file).databaseUrl).toBe('sqlite:/file.db');
  });

  it('reads every job setting from the file, and the worker its name', () => {
    const values = Object.fromEntries(SETTING_KEYS.map((k) => [k, SAMPLE[k]]));
    const file: ConfigFile = { path: 'w.yaml', values };
    const j = loadJobsConfig({}, {}, file);
    expect(j).toMatchObject({
      redisUrl: 'redis://127.0.0.1:6379/2',
      prefix: 'cluster-a',
      renewalWindowDays: 20,
      renewalEveryMs: 2 * 3_600_000,
      expiryEveryMs: 30 * 60_000,
      retentionDays: 30,
      warnDays: [60, 14],
      attempts: 5,
      backoffMs: 500,
      lockDurationMs: 20_000,
      stalledIntervalMs: 20_000,
      schedulerCheckEveryMs: 5000,
      concurrency: 2,
      firstRunDelayMs: 1000,
    });
    // The file names a token PIN variable too: the PIN opens the key (an HSM-kept cluster key).
    const w = loadWorkerConfig({}, { KEY_PW: 'pw', HSM_PIN: 'token-pin' }, file);
    expect(w).toMatchObject({ databaseUrl: 'sqlite:/srv/rms/rms.db', keyPassword: 'token-pin', workerName: 'member1', logLevel: 'warn' });
    expect(w.warnings).toBeUndefined();
  });

  it('keeps the old names working, with a warning', () => {
    const base = { database: 'sqlite:x', redis: 'redis://h:1', keyPasswordEnv: 'KP' };
    const w = loadWorkerConfig({ ...base, name: 'w1' }, { KP: 'pw', RMS_QUEUE_PREFIX: 'old', RMS_SLC_RENEWAL_WINDOW_DAYS: '9' });
    expect(w).toMatchObject({ workerName: 'w1', jobs: { prefix: 'old', renewalWindowDays: 9 } });
    expect(w.warnings).toEqual(['RMS_QUEUE_PREFIX is deprecated; use RMS_PREFIX', 'RMS_SLC_RENEWAL_WINDOW_DAYS is deprecated; use RMS_RENEWAL_WINDOW_DAYS', '--name is deprecated; use --server-name']);
    expect(loadWorkerConfig(base, { KP: 'pw', RMS_WORKER_NAME: 'w2' })).toMatchObject({ workerName: 'w2', warnings: ['RMS_WORKER_NAME is deprecated; use RMS_SERVER_NAME'] });
    // The new name wins over the old.
    expect(loadWorkerConfig({ ...base, name: 'old', serverName: 'new' }, { KP: 'pw', RMS_PREFIX: 'new', RMS_QUEUE_PREFIX: 'old' })).toMatchObject({ workerName: 'new', jobs: { prefix: 'new' } });
    const s = loadServerConfig({ database: 'sqlite:x', keyPasswordEnv: 'KP' }, { KP: 'pw', RMS_MAX_BODY_BYTES: '2m' });
    expect(s.maxBodyBytes).toBe(2 * 1024 * 1024);
    expect(s.warnings).toEqual(['RMS_MAX_BODY_BYTES is deprecated; use RMS_MAX_BODY']);
  });

  it('names the file and the key in every message', () => {
    expect(messageOf(() => parseConfigFile('listen: x\n', 'openrms.yaml'))).toBe('openrms.yaml: listen: must be HOST:PORT (e.g. 127.0.0.1:8080), got "x"');
    expect(messageOf(() => parseConfigFile('max-body: lots\n', 'm.yaml'))).toBe('m.yaml: max-body: must be a size like 1048576, 512k or 4m, got "lots"');
    expect(messageOf(() => parseConfigFile('job-backoff: soon\n', 'm.yaml'))).toMatch(/^m\.yaml: job-backoff: must be a duration/);
    expect(messageOf(() => parseConfigFile('log-level: loud\n', 'm.yaml'))).toMatch(/^m\.yaml: log-level: must be one of fatal, error, warn, info/);
    expect(messageOf(() => parseConfigFile('redis: http://x\n', 'm.yaml'))).toMatch(/^m\.yaml: redis: must be a redis:\/\/ or rediss:\/\/ URL/);
    expect(messageOf(() => parseConfigFile('database: oracle://x\n', 'm.yaml'))).toMatch(/^m\.yaml: database: must be sqlite:PATH, postgres/);
    expect(messageOf(() => parseConfigFile('spn: rms\n', 'm.yaml'))).toMatch(/^m\.yaml: spn: must be HTTP\/host@REALM/);
    expect(messageOf(() => parseConfigFile('auth: [basic, ntlm]\n', 'm.yaml'))).toMatch(/^m\.yaml: auth: takes negotiate and\/or basic/);
    expect(messageOf(() => parseConfigFile('job-concurrency: 0\n', 'm.yaml'))).toMatch(/^m\.yaml: job-concurrency: must be a whole number from 1 to 64/);
    expect(messageOf(() => parseConfigFile('listen:\n', 'm.yaml'))).toBe('m.yaml: listen: has no value');
    expect(messageOf(() => parseConfigFile('listen: true\n', 'm.yaml'))).toBe('m.yaml: listen: must be a text or a number');
    expect(messageOf(() => parseConfigFile('listen: x\nprefix: "a b"\n', 'm.yaml'))).toMatch(/^m\.yaml: listen: .*; m\.yaml: prefix: /);
    expect(messageOf(() => parseConfigFile('listen: a\nlisten: b\n', 'm.yaml'))).toMatch(/^m\.yaml: line 2: not valid YAML: Map keys must be unique$/);
    expect(messageOf(() => parseConfigFile('- listen\n', 'm.yaml'))).toMatch(/^m\.yaml: must be a mapping of settings/);
    expect(messageOf(() => readConfigFile('/nonexistent/m.yaml'))).toBe('cannot read the configuration file /nonexistent/m.yaml: ENOENT');
    // From the environment or a flag, the message names the variable or the flag instead.
    expect(messageOf(() => loadServerConfig({ database: 'sqlite:x', keyPasswordEnv: 'KP' }, { KP: 'p', RMS_LISTEN: 'x' }))).toMatch(/^RMS_LISTEN must be HOST:PORT/);
    expect(messageOf(() => loadServerConfig({ database: 'sqlite:x', keyPasswordEnv: 'KP', listen: 'x' }, { KP: 'p' }))).toMatch(/^--listen must be HOST:PORT/);
    expect(messageOf(() => parseConfigFile('slc-renewal-every: 0\n', 'm.yaml'))).toBe('m.yaml: slc-renewal-every: must be between 1 ms and a year');
  });

  it('refuses unknown keys, suggesting the right name', () => {
    expect(messageOf(() => parseConfigFile('tls_cert: a.pem\n', 'm.yaml'))).toBe('m.yaml: tls_cert: unknown setting (did you mean tls-cert?)');
    expect(messageOf(() => parseConfigFile('keyPasswordEnv: KP\n', 'm.yaml'))).toBe('m.yaml: keyPasswordEnv: unknown setting (did you mean key-password-env?)');
    expect(messageOf(() => parseConfigFile('name: w1\n', 'm.yaml'))).toBe('m.yaml: name: unknown setting (did you mean server-name?)');
    expect(messageOf(() => parseConfigFile('queue-prefix: p\n', 'm.yaml'))).toBe('m.yaml: queue-prefix: unknown setting (did you mean prefix?)');
    expect(messageOf(() => parseConfigFile('colour: blue\n', 'm.yaml'))).toBe('m.yaml: colour: unknown setting');
    expect(messageOf(() => parseConfigFile('server:\n  listen: 1.2.3.4:5\n', 'm.yaml'))).toBe('m.yaml: server: unknown setting');
  });

  it('never holds a secret: it names the variable that does', () => {
    expect(messageOf(() => parseConfigFile('key-password: hunter2hunter2\n', 'm.yaml'))).toBe(
      'm.yaml: key-password: the cluster key password never goes in a configuration file; set key-password-env to the name of the environment variable that holds it',
    );
    expect(messageOf(() => parseConfigFile('metrics-token: abcdefghijklmnopq\n', 'm.yaml'))).toMatch(/^m\.yaml: metrics-token: the metrics token never goes .* set metrics-token-env/);
    expect(messageOf(() => parseConfigFile('admin-password: x\n', 'm.yaml'))).toMatch(/^m\.yaml: admin-password: secrets never go in a configuration file/);
    expect(messageOf(() => parseConfigFile('database: postgres://rms:s3cret@db/rms\n', 'm.yaml'))).toBe(
      'm.yaml: database: the URL holds a password, and secrets never go in a configuration file; give this URL in RMS_DATABASE_URL instead',
    );
    expect(messageOf(() => parseConfigFile('redis: redis://:s3cret@r:6379\n', 'm.yaml'))).toMatch(/^m\.yaml: redis: the URL holds a password.*RMS_REDIS_URL/);
    // The value of a -env key is a variable name; a password with spaces or symbols is refused without being repeated.
    const pw = 'correct horse battery staple!';
    const m = messageOf(() => parseConfigFile(`key-password-env: ${pw}\n`, 'm.yaml'));
    expect(m).toMatch(/^m\.yaml: key-password-env: must name an environment variable/);
    // The messages name secrets' variables, never the values.
    for (const text of ['key-password: hunter2hunter2\n', 'database: postgres://rms:s3cret@db/rms\n']) {
      const msg = messageOf(() => parseConfigFile(text, 'm.yaml'));
      expect(msg).not.toMatch(/hunter2|s3cret/);
    }
    // A URL without a password is fine (PGPASSWORD, ~/.pgpass or RMS_DATABASE_URL supply one).
    expect(parseConfigFile('database: postgres://rms@db/rms\n', 'm.yaml').values.database).toBe('postgres://rms@db/rms');
  });

  it('takes YAML lists and numbers, and resolves paths against the file', () => {
    const f = parseConfigFile('slc-warn-days: [60, 14, 2]\nauth: [negotiate, basic]\nrenewal-window-days: 25\ntls-cert: tls/cert.pem\nkeytab: /abs/rms.keytab\n', '/etc/openrms/m.yaml');
    expect(f.values).toEqual({
      'slc-warn-days': '60,14,2',
      auth: 'negotiate,basic',
      'renewal-window-days': '25',
      'tls-cert': '/etc/openrms/tls/cert.pem',
      keytab: '/abs/rms.keytab',
    });
    expect(parseConfigFile('# nothing yet\n', 'm.yaml').values).toEqual({});
  });

  it('reads the file named by --config, else RMS_CONFIG', () => {
    const dir = tmp();
    const a = path.join(dir, 'a.yaml');
    const b = path.join(dir, 'b.yaml');
    writeFileSync(a, 'database: sqlite:/a.db\n');
    writeFileSync(b, 'database: sqlite:/b.db\n');
    expect(readMemberConfig(undefined, {})).toBeUndefined();
    expect(readMemberConfig(undefined, { RMS_CONFIG: b })?.values.database).toBe('sqlite:/b.db');
    expect(readMemberConfig(a, { RMS_CONFIG: b })?.values.database).toBe('sqlite:/a.db');
  });

  it('finds an admin command its database: --database > RMS_DATABASE_URL > --config file > RMS_CONFIG', () => {
    const dir = tmp();
    const a = path.join(dir, 'a.yaml');
    writeFileSync(a, 'database: sqlite:/a.db\nlisten: 1.2.3.4:5\n');
    const b = path.join(dir, 'b.yaml');
    writeFileSync(b, 'database: sqlite:/b.db\n');
    expect(resolveDatabaseUrl('sqlite:/flag.db', a, { RMS_DATABASE_URL: 'sqlite:/env.db' })).toBe('sqlite:/flag.db');
    expect(resolveDatabaseUrl(undefined, a, { RMS_DATABASE_URL: 'sqlite:/env.db' })).toBe('sqlite:/env.db');
    expect(resolveDatabaseUrl(undefined, a, {})).toBe('sqlite:/a.db');
    expect(resolveDatabaseUrl(undefined, undefined, { RMS_CONFIG: b })).toBe('sqlite:/b.db');
    expect(resolveDatabaseUrl(undefined, a, { RMS_CONFIG: b })).toBe('sqlite:/a.db');
    expect(messageOf(() => resolveDatabaseUrl(undefined, undefined, {}))).toBe('--database is required (or set RMS_DATABASE_URL, or put database: in the --config file)');
    expect(messageOf(() => resolveDatabaseUrl('oracle://x', undefined, {}))).toMatch(/^--database must be sqlite:PATH/);
    expect(messageOf(() => resolveDatabaseUrl(undefined, undefined, { RMS_DATABASE_URL: 'oracle://x' }))).toMatch(/^RMS_DATABASE_URL must be/);
    // A bad --config file is an error even when the database comes from elsewhere.
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'listen: x\n');
    expect(messageOf(() => resolveDatabaseUrl('sqlite:/flag.db', bad, {}))).toBe(`${bad}: listen: must be HOST:PORT (e.g. 127.0.0.1:8080), got "x"`);
  });

  it('hands the settings given as flags to a child process and back', () => {
    const values = { listen: '1.2.3.4:5', 'key-password-env': 'KP', config: '/m.yaml', 'job-concurrency': '3', setup: true };
    expect(settingArgs(values, 'serve')).toEqual(['--config', '/m.yaml', '--listen', '1.2.3.4:5', '--key-password-env', 'KP']);
    expect(settingArgs(values, 'worker')).toEqual(['--config', '/m.yaml', '--key-password-env', 'KP', '--job-concurrency', '3']);
    expect(settingFlags({ 'max-body': '2m', 'tls-cert': 'c.pem', bogus: 'x' })).toEqual({ maxBodyBytes: '2m', tlsCert: 'c.pem' });
  });

  it('checks a file with the environment it would start in, and never prints a secret', () => {
    const dir = tmp();
    mkdirSync(path.join(dir, 'tls'));
    writeFileSync(path.join(dir, 'tls', 'cert.pem'), 'CERT');
    writeFileSync(path.join(dir, 'tls', 'key.pem'), 'KEY');
    const file = path.join(dir, 'openrms.yaml');
    writeFileSync(file, 'database: postgres://rms@db/rms\nkey-password-env: KEY_PW\ntls-cert: tls/cert.pem\ntls-key: tls/key.pem\n');
    const env = { KEY_PW: 'the-cluster-key-password', RMS_LISTEN: '0.0.0.0:8443', RMS_REDIS_URL: 'redis://:redis-pw@r:6379', RMS_QUEUE_PREFIX: 'p' };
    const { settings, warnings } = checkConfigFile(file, env);
    const by = Object.fromEntries(settings.map((s) => [s.key, s]));
    expect(by.database).toEqual({ key: 'database', shown: 'postgres://rms@db/rms', from: file });
    expect(by['key-password-env']).toEqual({ key: 'key-password-env', shown: 'from $KEY_PW', from: file });
    expect(by['metrics-token-env']).toEqual({ key: 'metrics-token-env', shown: 'from $RMS_METRICS_TOKEN (not set here)', from: 'default' });
    expect(by.listen).toEqual({ key: 'listen', shown: '0.0.0.0:8443', from: 'RMS_LISTEN' });
    expect(by.redis).toEqual({ key: 'redis', shown: 'redis://:***@r:6379', from: 'RMS_REDIS_URL' });
    expect(by['tls-cert']?.shown).toBe(path.join(dir, 'tls', 'cert.pem'));
    expect(by['max-body']).toEqual({ key: 'max-body', shown: '1m', from: 'default' });
    expect(warnings).toEqual(['RMS_QUEUE_PREFIX is deprecated; use RMS_PREFIX']);
    expect(JSON.stringify(settings)).not.toMatch(/the-cluster-key-password|redis-pw/);

    writeFileSync(file, 'tls-cert: tls/cert.pem\n');
    expect(messageOf(() => checkConfigFile(file, {}))).toBe(`${file}: TLS needs both tls-cert and tls-key`);
    writeFileSync(file, 'tls-cert: tls/none.pem\ntls-key: tls/key.pem\n');
    expect(messageOf(() => checkConfigFile(file, {}))).toBe(`${file}: tls-cert: cannot read ${path.join(dir, 'tls', 'none.pem')}: ENOENT`);
    writeFileSync(file, 'auth: negotiate\n');
    expect(messageOf(() => checkConfigFile(file, {}))).toBe(`${file}: auth: negotiate needs keytab and spn`);
    writeFileSync(file, 'listen: 1.2.3.4:5\n');
    expect(messageOf(() => checkConfigFile(file, { RMS_LISTEN: 'nope' }))).toMatch(/^RMS_LISTEN must be HOST:PORT/);
  });
});
