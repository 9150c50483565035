import { accessSync, constants, readFileSync } from 'node:fs';
import path from 'node:path';
import { RmsError } from '@openrms/domain';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import type { OptionSpec } from './command-line';
import type { Env } from './env';
import {
  parseAuthSchemes,
  parseByteSize,
  parseCount,
  parseCountList,
  parseDatabaseUrl,
  parseDuration,
  parseEnvVarName,
  parseListen,
  parseLogLevel,
  parsePath,
  parsePrefix,
  parseRedisUrl,
  parseSpn,
  withoutPassword,
} from './setting-parsers';

/**
 * One name per setting: the key in a member's configuration file, the flag `--key` and the
 * environment variable. Precedence: flag > environment > file > default. docs/operations.md
 * ("Configuration") is the table of this file; keep the two in step.
 */

/** The processes that read member settings: `rmsctl serve` (apps/server) and `rmsctl worker` (apps/worker). */
export type Member = 'serve' | 'worker';

interface SettingSpec {
  env: string;
  /** An older name of the environment variable, still read, with a warning. */
  legacyEnv?: string;
  members: readonly Member[];
  placeholder: string;
  help: string;
  /** What applies when nothing sets it, as operators read it. */
  default: string;
  /** The value names the environment variable that holds a secret (never the secret itself). */
  secretEnv?: boolean;
  /** A file path: a relative one in the configuration file is relative to that file. */
  path?: boolean;
  /** The file may give a YAML list for the comma-separated text. */
  list?: boolean;
  /** A URL that may carry a password: shown without it. */
  url?: boolean;
  /** Throws RmsError('InvalidInput') with a message that starts with `what`. */
  check(value: string, what: string): unknown;
}

const BOTH = ['serve', 'worker'] as const;
const SERVE = ['serve'] as const;
const WORKER = ['worker'] as const;

const nonEmpty = (v: string, what: string) => {
  if (v.trim() === '' || v.length > 255) throw new RmsError('InvalidInput', `${what} must be 1 to 255 characters`);
  return v;
};

export const SETTING_KEYS = [
  'database',
  'listen',
  'key-password-env',
  'pkcs11-pin-env',
  'tls-cert',
  'tls-key',
  'max-body',
  'workers',
  'admission-concurrency',
  'admission-queue',
  'admission-wait',
  'server-name',
  'log-level',
  'state-dir',
  'metrics-token-env',
  'auth',
  'keytab',
  'spn',
  'krb5-config',
  'redis',
  'prefix',
  'renewal-window-days',
  'slc-renewal-every',
  'expiry-sweep-every',
  'request-log-retention-days',
  'slc-warn-days',
  'job-attempts',
  'job-backoff',
  'job-lock-duration',
  'job-stalled-interval',
  'job-scheduler-check',
  'job-concurrency',
  'jobs-first-run',
] as const;

export type SettingKey = (typeof SETTING_KEYS)[number];

export const SETTINGS: Readonly<Record<SettingKey, SettingSpec>> = {
  database: { env: 'RMS_DATABASE_URL', members: BOTH, url: true, placeholder: 'URL', default: '(required)', help: 'Configuration database: sqlite:PATH, postgres://… or mssql://…', check: parseDatabaseUrl },
  listen: { env: 'RMS_LISTEN', members: SERVE, placeholder: 'HOST:PORT', default: '127.0.0.1:8080', help: 'Address to listen on', check: parseListen },
  'key-password-env': { env: 'RMS_KEY_PASSWORD_ENV', members: BOTH, secretEnv: true, placeholder: 'VAR', default: 'RMS_KEY_PASSWORD', help: 'Environment variable holding the cluster key password (VAR_FILE may name a file holding it)', check: parseEnvVarName },
  'pkcs11-pin-env': { env: 'RMS_PKCS11_PIN_ENV', members: BOTH, secretEnv: true, placeholder: 'VAR', default: '(none: key-password-env opens the key)', help: 'Environment variable holding the user PIN of the PKCS#11 token that keeps the cluster key, when it is in an HSM (VAR_FILE may name a file holding it)', check: parseEnvVarName },
  'tls-cert': { env: 'RMS_TLS_CERT', members: SERVE, path: true, placeholder: 'PEMFILE', default: '(none: plain HTTP)', help: 'TLS certificate chain; with tls-key the member speaks HTTPS', check: parsePath },
  'tls-key': { env: 'RMS_TLS_KEY', members: SERVE, path: true, placeholder: 'PEMFILE', default: '(none)', help: 'TLS private key', check: parsePath },
  'max-body': { env: 'RMS_MAX_BODY', legacyEnv: 'RMS_MAX_BODY_BYTES', members: SERVE, placeholder: 'SIZE', default: '1m', help: 'Largest accepted request body (1k to 64m)', check: parseByteSize },
  workers: { env: 'RMS_WORKERS', members: SERVE, placeholder: 'N', default: '(the number of cores)', help: 'Processes of this member that serve requests, sharing its port under one supervisor (not `rmsctl worker`); 1: one process serves alone', check: (v, w) => parseCount(v, w, 1, 256) },
  'admission-concurrency': { env: 'RMS_ADMISSION_CONCURRENCY', members: SERVE, placeholder: 'N', default: '4', help: 'SOAP requests one worker processes at once; the rest wait in its queue, oldest first', check: (v, w) => parseCount(v, w, 1, 1024) },
  'admission-queue': { env: 'RMS_ADMISSION_QUEUE', members: SERVE, placeholder: 'N', default: '64', help: 'SOAP requests that may wait per worker; one more is answered 503 with Retry-After at once (0: none wait)', check: (v, w) => parseCount(v, w, 0, 100_000) },
  'admission-wait': { env: 'RMS_ADMISSION_WAIT', members: SERVE, placeholder: 'DURATION', default: '1s', help: 'Longest a SOAP request waits in the queue before it is answered 503 with Retry-After', check: parseDuration },
  'server-name': { env: 'RMS_SERVER_NAME', members: BOTH, placeholder: 'NAME', default: '(the host name; a worker: HOST:PID)', help: 'Name of this member, in logs, heartbeats and on the jobs it ran', check: nonEmpty },
  'state-dir': { env: 'RMS_STATE_DIR', members: SERVE, path: true, placeholder: 'DIR', default: '(STATE_DIRECTORY under systemd, else the temp directory)', help: 'Where this member keeps the request-log rows not yet in the database, so a crash loses none', check: parsePath },
  'log-level': { env: 'RMS_LOG_LEVEL', members: BOTH, placeholder: 'LEVEL', default: 'info', help: 'fatal, error, warn, info, debug, trace or silent', check: parseLogLevel },
  'metrics-token-env': { env: 'RMS_METRICS_TOKEN_ENV', members: SERVE, secretEnv: true, placeholder: 'VAR', default: 'RMS_METRICS_TOKEN', help: 'Environment variable holding the /metrics bearer token (16+ characters)', check: parseEnvVarName },
  auth: { env: 'RMS_AUTH', members: SERVE, list: true, placeholder: 'SCHEMES', default: '(negotiate,basic with a keytab, else basic)', help: 'Sign-on offered: negotiate,basic or basic (or negotiate)', check: parseAuthSchemes },
  keytab: { env: 'RMS_KEYTAB', members: SERVE, path: true, placeholder: 'FILE', default: '(none: no Negotiate)', help: 'Service keytab for Negotiate (Kerberos) sign-on', check: parsePath },
  spn: { env: 'RMS_SPN', members: SERVE, placeholder: 'HTTP/host@REALM', default: '(none)', help: 'Service principal of this member in the keytab', check: parseSpn },
  'krb5-config': { env: 'RMS_KRB5_CONFIG', members: SERVE, path: true, placeholder: 'FILE', default: '(the system one)', help: 'krb5.conf for this member', check: parsePath },
  redis: { env: 'RMS_REDIS_URL', members: BOTH, url: true, placeholder: 'URL', default: '(none: jobs run in the server)', help: 'Redis of the job queues (redis://HOST:PORT[/DB] or rediss://…); with it `rmsctl worker` processes run the jobs', check: parseRedisUrl },
  prefix: { env: 'RMS_PREFIX', legacyEnv: 'RMS_QUEUE_PREFIX', members: BOTH, placeholder: 'P', default: 'openrms', help: 'Redis key prefix of the queues; one per cluster sharing a Redis', check: parsePrefix },
  'renewal-window-days': { env: 'RMS_RENEWAL_WINDOW_DAYS', legacyEnv: 'RMS_SLC_RENEWAL_WINDOW_DAYS', members: BOTH, placeholder: 'N', default: '30', help: 'Renew the SLC when it ends within N days', check: (v, w) => parseCount(v, w, 1, 3650) },
  'slc-renewal-every': { env: 'RMS_SLC_RENEWAL_EVERY', members: BOTH, placeholder: 'DURATION', default: '6h', help: 'How often the SLC renewal check runs', check: parseDuration },
  'expiry-sweep-every': { env: 'RMS_EXPIRY_SWEEP_EVERY', members: BOTH, placeholder: 'DURATION', default: '1h', help: 'How often the expiry sweep runs', check: parseDuration },
  'request-log-retention-days': { env: 'RMS_REQUEST_LOG_RETENTION_DAYS', members: BOTH, placeholder: 'N', default: '90', help: 'The sweep deletes request-log rows older than N days', check: (v, w) => parseCount(v, w, 1, 36500) },
  'slc-warn-days': { env: 'RMS_SLC_WARN_DAYS', members: BOTH, list: true, placeholder: 'N,N…', default: '30,7,1', help: 'Warn this many days before the SLC ends', check: (v, w) => parseCountList(v, w, 1, 3650) },
  'job-attempts': { env: 'RMS_JOB_ATTEMPTS', members: WORKER, placeholder: 'N', default: '8', help: 'Attempts of a job in all', check: (v, w) => parseCount(v, w, 1, 100) },
  'job-backoff': { env: 'RMS_JOB_BACKOFF', members: BOTH, placeholder: 'DURATION', default: '1s', help: 'First retry delay of a failed job, doubling', check: parseDuration },
  'job-lock-duration': { env: 'RMS_JOB_LOCK_DURATION', members: WORKER, placeholder: 'DURATION', default: '30s', help: 'A killed worker loses its job to another after about this', check: parseDuration },
  'job-stalled-interval': { env: 'RMS_JOB_STALLED_INTERVAL', members: WORKER, placeholder: 'DURATION', default: '30s', help: 'How often workers look for jobs of killed workers', check: parseDuration },
  'job-scheduler-check': { env: 'RMS_JOB_SCHEDULER_CHECK', members: WORKER, placeholder: 'DURATION', default: '15s', help: 'How often a worker checks that its job schedulers still exist in Redis', check: parseDuration },
  'job-concurrency': { env: 'RMS_JOB_CONCURRENCY', members: WORKER, placeholder: 'N', default: '1', help: 'Jobs one worker runs at once', check: (v, w) => parseCount(v, w, 1, 64) },
  'jobs-first-run': { env: 'RMS_JOBS_FIRST_RUN', members: SERVE, placeholder: 'DURATION', default: '10s', help: 'Without Redis: delay before the first run of the jobs after start-up', check: parseDuration },
};

type CamelCase<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<CamelCase<T>>}` : S;
type FieldOf<K extends string> = K extends 'max-body' ? 'maxBodyBytes' : CamelCase<K>;

/** Settings as the loaders take them from flags: camelCase fields (`keyPasswordEnv`), text values. */
export type SettingFlags = { [K in SettingKey as FieldOf<K>]?: string | undefined };

/** The flags-object field of a setting (`key-password-env` → `keyPasswordEnv`). */
export function settingField(key: SettingKey): string {
  return key === 'max-body' ? 'maxBodyBytes' : key.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** Settings given by a configuration file, as text (lists comma-joined, paths made absolute). */
export type SettingValues = Partial<Record<SettingKey, string>>;

export interface ConfigFile {
  /** As the operator named it: messages use it. */
  path: string;
  values: SettingValues;
}

/** Where a setting's value came from, and the name to put in front of a message about it. */
export interface SettingSource {
  value: string;
  source: 'flag' | 'env' | 'file';
  /** `--listen`, `RMS_LISTEN` or `openrms.yaml: listen:`. */
  what: string;
}

/** Refused keys that look like secrets: the file names a variable, never holds the secret. */
const SECRET_KEYS: Record<string, string> = {
  'key-password': 'key-password-env',
  'pkcs11-pin': 'pkcs11-pin-env',
  'metrics-token': 'metrics-token-env',
};

const KEY_SET = new Set<string>(SETTING_KEYS);

function suggestionFor(key: string): string | undefined {
  const norm = key
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/[_\s.]+/g, '-')
    .toLowerCase();
  if (KEY_SET.has(norm)) return norm;
  const legacy = SETTING_KEYS.find((k) => SETTINGS[k].legacyEnv === `RMS_${norm.replace(/-/g, '_').toUpperCase()}`);
  if (legacy) return legacy;
  if (norm === 'name' || norm === 'worker-name') return 'server-name';
  if (norm === 'database-url' || norm === 'db') return 'database';
  if (norm === 'redis-url' || norm === 'queue-prefix') return norm === 'redis-url' ? 'redis' : 'prefix';
  return undefined;
}

function secretKeyMessage(key: string): string | undefined {
  const instead = SECRET_KEYS[key];
  if (instead) {
    const what = key === 'key-password' ? 'the cluster key password' : key === 'pkcs11-pin' ? 'the token PIN' : 'the metrics token';
    return `${key}: ${what} never goes in a configuration file; set ${instead} to the name of the environment variable that holds it`;
  }
  if (!KEY_SET.has(key) && /(password|passwd|secret|token)$/i.test(key)) {
    return `${key}: secrets never go in a configuration file; name the environment variable that holds it (a setting ending in -env)`;
  }
  return undefined;
}

const scalar = z
  .union([z.string(), z.number()], { error: (iss) => (iss.input === null || iss.input === undefined ? 'has no value' : 'must be a text or a number') })
  .transform(String);

function fieldSchema(key: SettingKey) {
  const spec = SETTINGS[key];
  const base = spec.list
    ? z.union([scalar, z.array(scalar).min(1)], { error: (iss) => (iss.input === null || iss.input === undefined ? 'has no value' : 'must be a text, a number or a list of them') }).transform((v) => (Array.isArray(v) ? v.join(',') : v))
    : scalar;
  return base.superRefine((v, ctx) => {
    try {
      spec.check(v, '');
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message.trimStart() });
      return;
    }
    if (spec.url && withoutPassword(v) !== v) {
      ctx.addIssue({ code: 'custom', message: `the URL holds a password, and secrets never go in a configuration file; give this URL in ${spec.env} instead` });
    }
  });
}

const fileSchema = z.strictObject(Object.fromEntries(SETTING_KEYS.map((k) => [k, fieldSchema(k).optional()])) as Record<SettingKey, z.ZodOptional<ReturnType<typeof fieldSchema>>>);

function formatIssue(file: string, issue: z.core.$ZodIssue): string[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => {
      const s = suggestionFor(k);
      return `${file}: ${k}: unknown setting${s ? ` (did you mean ${s}?)` : ''}`;
    });
  }
  const where = issue.path.length ? `${issue.path.map(String).join('.')}: ` : '';
  return [`${file}: ${where}${issue.message}`];
}

/** Parses the text of a configuration file; `file` names it in messages and anchors relative paths. */
export function parseConfigFile(text: string, file: string): ConfigFile {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const yamlError = doc.errors[0];
  if (yamlError) {
    const line = yamlError.linePos?.[0]?.line;
    throw new RmsError('InvalidInput', `${file}:${line ? ` line ${line}:` : ''} not valid YAML: ${yamlError.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`);
  }
  const data: unknown = doc.toJS() ?? {};
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new RmsError('InvalidInput', `${file}: must be a mapping of settings, one "key: value" per line`);
  }
  // Before the schema: "never put the password here" says more than "unknown setting".
  const secrets = Object.keys(data).map(secretKeyMessage).filter((m): m is string => m !== undefined);
  if (secrets.length) throw new RmsError('InvalidInput', secrets.map((m) => `${file}: ${m}`).join('; '));
  const r = fileSchema.safeParse(data);
  if (!r.success) throw new RmsError('InvalidInput', r.error.issues.flatMap((i) => formatIssue(file, i)).join('; '));
  const dir = path.dirname(path.resolve(file));
  const values: SettingValues = {};
  for (const k of SETTING_KEYS) {
    const v = r.data[k];
    if (v === undefined) continue;
    values[k] = SETTINGS[k].path ? path.resolve(dir, v) : v;
  }
  return { path: file, values };
}

/** Reads and validates a member's configuration file (YAML). */
export function readConfigFile(file: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new RmsError('InvalidInput', `cannot read the configuration file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  return parseConfigFile(text, file);
}

/** The file named by --config, else RMS_CONFIG; undefined when neither names one. */
export function readMemberConfig(flagPath: string | undefined, env: Env = process.env): ConfigFile | undefined {
  const file = flagPath || env.RMS_CONFIG || undefined;
  return file === undefined ? undefined : readConfigFile(file);
}

/** Resolves settings by precedence (flag > environment > file), collecting deprecation warnings. */
export class SettingReader {
  readonly warnings: string[] = [];
  private readonly flags: Readonly<Record<string, unknown>>;

  constructor(
    flags: object,
    private readonly env: Env,
    readonly file?: ConfigFile,
  ) {
    this.flags = flags as Record<string, unknown>;
  }

  get(key: SettingKey): SettingSource | undefined {
    const spec = SETTINGS[key];
    const flag = this.flags[settingField(key)];
    if (typeof flag === 'string' && flag !== '') return { value: flag, source: 'flag', what: `--${key}` };
    const env = this.env[spec.env];
    if (env !== undefined && env !== '') return { value: env, source: 'env', what: spec.env };
    const legacy = spec.legacyEnv === undefined ? undefined : this.env[spec.legacyEnv];
    if (legacy !== undefined && legacy !== '') {
      this.warn(`${spec.legacyEnv} is deprecated; use ${spec.env}`);
      return { value: legacy, source: 'env', what: spec.legacyEnv! };
    }
    const fromFile = this.file?.values[key];
    if (fromFile !== undefined) return { value: fromFile, source: 'file', what: `${this.file!.path}: ${key}:` };
    return undefined;
  }

  /** The parsed value, or undefined when nothing sets it; a parse error names the source. */
  parse<T>(key: SettingKey, parser: (value: string, what: string) => T): T | undefined {
    const s = this.get(key);
    return s === undefined ? undefined : parser(s.value, s.what);
  }

  warn(message: string): void {
    if (!this.warnings.includes(message)) this.warnings.push(message);
  }
}

export const DATABASE_REQUIRED = '--database is required (or set RMS_DATABASE_URL, or put database: in the --config file)';

/**
 * The database URL of an admin command: --database, else RMS_DATABASE_URL, else `database:` in the
 * --config file (else RMS_CONFIG). The file is read only when needed, unless --config names it.
 */
export function resolveDatabaseUrl(flag: string | undefined, configPath: string | undefined, env: Env = process.env): string {
  const file = configPath ? readConfigFile(configPath) : undefined;
  const reader = new SettingReader({ database: flag }, env, file ?? (flag || env.RMS_DATABASE_URL ? undefined : readMemberConfig(undefined, env)));
  const url = reader.parse('database', parseDatabaseUrl);
  if (url === undefined) throw new RmsError('InvalidInput', DATABASE_REQUIRED);
  return url;
}

/** The settings one member reads, as rmsctl options (`--key VALUE`), in table order. */
export function settingOptions(member: Member): Record<string, OptionSpec> {
  const out: Record<string, OptionSpec> = {};
  for (const k of SETTING_KEYS) {
    const s = SETTINGS[k];
    if (!s.members.includes(member)) continue;
    const dflt = s.default.startsWith('(') ? s.default.slice(1, -1) : `default ${s.default}`;
    out[k] = { type: 'string', placeholder: s.placeholder, help: `${s.help} (${dflt}; ${s.env})` };
  }
  return out;
}

export const CONFIG_OPTION: OptionSpec = {
  type: 'string',
  placeholder: 'FILE',
  help: 'Configuration file of this member (YAML, else RMS_CONFIG); flags and RMS_* variables override it',
};

/** parseArgs options of a process entry: every setting of the member, and --config. */
export function settingArgOptions(member: Member): Record<SettingKey | 'config', { type: 'string' }> {
  const out: Record<string, { type: 'string' }> = { config: { type: 'string' } };
  for (const k of SETTING_KEYS) if (SETTINGS[k].members.includes(member)) out[k] = { type: 'string' };
  // Typed as every key so parseArgs types each value as a string; at run time only the member's are accepted.
  return out as Record<SettingKey | 'config', { type: 'string' }>;
}

/** parseArgs values (`--key-password-env`) → the loaders' flags (`keyPasswordEnv`). */
export function settingFlags(values: Readonly<Record<string, unknown>>): SettingFlags {
  const out: Record<string, string> = {};
  for (const k of SETTING_KEYS) {
    const v = values[k];
    if (typeof v === 'string') out[settingField(k)] = v;
  }
  return out as SettingFlags;
}

/** The `--key VALUE` pairs of the settings given on a command line, to hand to a child process. */
export function settingArgs(values: Readonly<Record<string, unknown>>, member: Member): string[] {
  const out: string[] = [];
  for (const k of ['config', ...SETTING_KEYS] as const) {
    if (k !== 'config' && !SETTINGS[k].members.includes(member)) continue;
    const v = values[k];
    if (typeof v === 'string') out.push(`--${k}`, v);
  }
  return out;
}

export interface EffectiveSetting {
  key: SettingKey;
  /** For people: secrets as "from $VAR", URLs without their password. */
  shown: string;
  /** `default`, `not set`, or where it came from (`--listen`, `RMS_LISTEN`, the file). */
  from: string;
}

function readable(p: string, what: string): void {
  try {
    accessSync(p, constants.R_OK);
  } catch (e) {
    throw new RmsError('InvalidInput', `${what} cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/**
 * `rmsctl config check`: validates a configuration file together with the environment it would
 * start in, and lists what a member would use. Throws the first problem as RmsError('InvalidInput').
 */
export function checkConfigFile(file: string, env: Env = process.env): { settings: EffectiveSetting[]; warnings: string[] } {
  const config = readConfigFile(file);
  const reader = new SettingReader({}, env, config);
  const settings: EffectiveSetting[] = [];
  const sources = new Map<SettingKey, SettingSource>();
  for (const key of SETTING_KEYS) {
    const spec = SETTINGS[key];
    const s = reader.get(key);
    if (s === undefined) {
      // A default in parentheses says what applies instead of a variable.
      const shown = spec.secretEnv && !spec.default.startsWith('(') ? `from $${spec.default}${env[spec.default] || env[`${spec.default}_FILE`] ? '' : ' (not set here)'}` : spec.default;
      settings.push({ key, shown, from: key === 'database' ? 'not set' : 'default' });
      continue;
    }
    spec.check(s.value, s.what);
    if (spec.path) readable(s.value, s.what);
    sources.set(key, s);
    const from = s.source === 'file' ? config.path : s.what;
    const shown = spec.secretEnv ? `from $${s.value}${env[s.value] || env[`${s.value}_FILE`] ? '' : ' (not set here)'}` : spec.url ? withoutPassword(s.value) : s.value;
    settings.push({ key, shown, from });
  }
  const has = (k: SettingKey) => sources.has(k);
  if (has('tls-cert') !== has('tls-key')) throw new RmsError('InvalidInput', `${config.path}: TLS needs both tls-cert and tls-key`);
  if (has('keytab') !== has('spn')) throw new RmsError('InvalidInput', `${config.path}: Negotiate needs both keytab and spn`);
  const auth = sources.get('auth');
  if (auth && parseAuthSchemes(auth.value, auth.what).includes('negotiate') && !has('keytab')) {
    throw new RmsError('InvalidInput', `${auth.what} negotiate needs keytab and spn`);
  }
  return { settings, warnings: reader.warnings };
}
