import { readFileSync } from 'node:fs';
import { availableParallelism, hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { RmsError } from '@openrms/domain';
import { type ConfigFile, DATABASE_REQUIRED, type SettingFlags, SettingReader } from './config-file';
import { type Env, readSecretEnv } from './env';
import { type JobsConfig, type JobsFlags, readJobsConfig } from './jobs-config';
import { readKeySecret } from './key-secret';
import { loadMetricsConfig, type MetricsConfig } from './metrics-config';
import { type AuthScheme, type ListenAddress, parseAuthSchemes, parseByteSize, parseCount, parseDatabaseUrl, parseDuration, parseEnvVarName, parseListen, parseLogLevel, parsePath, parseSpn } from './setting-parsers';

// Env and readSecretEnv live in ./env so jobs-config can use them without importing this file.
export { type Env, readSecretEnv } from './env';
// The parsers live in ./setting-parsers so config-file can use them without importing this file.
export { type AuthScheme, type ListenAddress, parseAuthSchemes, parseByteSize, parseListen } from './setting-parsers';

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const DEFAULT_LISTEN = { host: '127.0.0.1', port: 8080 } as const;
/** Per process: a few requests interleave (one waits on the database while another computes), the rest queue. */
export const DEFAULT_ADMISSION = { concurrency: 4, queueLength: 64, maxWaitMs: 1000 } as const;

/**
 * How many SOAP requests one serving process works on at once, and how many may wait for their
 * turn and for how long; past either bound a request is answered 503 with Retry-After at once.
 */
export interface AdmissionConfig {
  concurrency: number;
  /** Requests that may wait (0: none; every request beyond `concurrency` is refused). */
  queueLength: number;
  maxWaitMs: number;
}

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

export interface ServerConfig {
  databaseUrl: string;
  listen: ListenAddress;
  /** What opens the cluster key: its password, or the token PIN when it is kept in an HSM (pkcs11-pin-env). */
  keyPassword: string;
  maxBodyBytes: number;
  /** Serving processes under one supervisor sharing the port; 1: this process serves alone. */
  workers: number;
  admission: AdmissionConfig;
  tls?: TlsFiles;
  serverName: string;
  logLevel: string;
  /** This member's own folder: the request-log spool (rows not yet in the database). */
  stateDir: string;
  /** Background jobs: on BullMQ workers when jobs.redisUrl is set, else in this process. */
  jobs: JobsConfig;
  /** HTTP authentication schemes offered in the 401 challenge, in order (IIS offers Negotiate first). */
  authSchemes: AuthScheme[];
  /** Negotiate (SPNEGO/Kerberos): the service keytab and principal; required when authSchemes has negotiate. */
  kerberos?: KerberosServiceConfig;
  /** The /metrics bearer token, when metrics-token-env names a variable or the variable holds one. */
  metrics?: MetricsConfig;
  /** Deprecated names that were used; the server logs them at start. */
  warnings?: string[];
}

export interface KerberosServiceConfig {
  keytab: string;
  /** HTTP/host@REALM */
  spn: string;
  realm: string;
  /** A krb5.conf for this process (KRB5_CONFIG), when not the system's. */
  krb5Config?: string;
}

function loadKerberos(r: SettingReader): KerberosServiceConfig | undefined {
  const keytab = r.parse('keytab', parsePath);
  const spnSource = r.get('spn');
  const krb5Config = r.parse('krb5-config', parsePath);
  if (!keytab && !spnSource) return undefined;
  if (!keytab || !spnSource) throw new RmsError('InvalidInput', 'Negotiate needs both --keytab FILE and --spn HTTP/host@REALM');
  const { spn, realm } = parseSpn(spnSource.value, spnSource.what);
  readFileFor(keytab, 'Kerberos keytab');
  if (krb5Config) readFileFor(krb5Config, 'krb5.conf');
  return { keytab: path.resolve(keytab), spn, realm, ...(krb5Config ? { krb5Config: path.resolve(krb5Config) } : {}) };
}

/** Settings of a member as flags give them (text); see SETTINGS in ./config-file for every name. */
export interface ServerFlags extends SettingFlags, JobsFlags {
  /** An already-resolved key password (the embedded default reads it from its credentials file). */
  keyPassword?: string;
}

function readFileFor(p: string, what: string): Buffer {
  try {
    return readFileSync(p);
  } catch (e) {
    throw new RmsError('InvalidInput', `cannot read the ${what} file ${p}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** Flag > environment (RMS_*) > configuration file (`file`, from --config or RMS_CONFIG) > default. */
export function loadServerConfig(flags: ServerFlags, env: Env = process.env, file?: ConfigFile): ServerConfig {
  const r = new SettingReader(flags, env, file);
  const databaseUrl = r.parse('database', parseDatabaseUrl);
  if (!databaseUrl) throw new RmsError('InvalidInput', DATABASE_REQUIRED);
  const listen = r.parse('listen', parseListen) ?? { ...DEFAULT_LISTEN };
  const keyPassword = flags.keyPassword ?? readKeySecret(r, env);
  const maxBodyBytes = r.parse('max-body', parseByteSize) ?? DEFAULT_MAX_BODY_BYTES;
  const workers = r.parse('workers', (v, w) => parseCount(v, w, 1, 256)) ?? availableParallelism();
  const admission: AdmissionConfig = {
    concurrency: r.parse('admission-concurrency', (v, w) => parseCount(v, w, 1, 1024)) ?? DEFAULT_ADMISSION.concurrency,
    queueLength: r.parse('admission-queue', (v, w) => parseCount(v, w, 0, 100_000)) ?? DEFAULT_ADMISSION.queueLength,
    maxWaitMs: r.parse('admission-wait', parseDuration) ?? DEFAULT_ADMISSION.maxWaitMs,
  };
  const certPath = r.parse('tls-cert', parsePath);
  const keyPath = r.parse('tls-key', parsePath);
  if (Boolean(certPath) !== Boolean(keyPath)) {
    throw new RmsError('InvalidInput', 'TLS needs both a certificate and a key (--tls-cert and --tls-key)');
  }
  const tls = certPath && keyPath ? { cert: readFileFor(certPath, 'TLS certificate'), key: readFileFor(keyPath, 'TLS key') } : undefined;
  const kerberos = loadKerberos(r);
  const authSchemes = r.parse('auth', parseAuthSchemes) ?? (kerberos ? (['negotiate', 'basic'] as AuthScheme[]) : (['basic'] as AuthScheme[]));
  if (authSchemes.includes('negotiate') && !kerberos) throw new RmsError('InvalidInput', '--auth negotiate needs --keytab FILE and --spn HTTP/host@REALM');
  const metricsVar = r.parse('metrics-token-env', parseEnvVarName);
  const metrics = loadMetricsConfig(env, metricsVar ?? 'RMS_METRICS_TOKEN');
  const serverName = r.parse('server-name', (v) => v) ?? hostname();
  const logLevel = r.parse('log-level', parseLogLevel) ?? 'info';
  const jobs = readJobsConfig(r, env);
  // systemd's StateDirectory= sets STATE_DIRECTORY; otherwise a per-member folder under the temp directory.
  const stateDir = r.parse('state-dir', parsePath) ?? env.STATE_DIRECTORY?.split(':')[0] ?? path.join(tmpdir(), `openrms-${serverName.replace(/[^A-Za-z0-9._-]/g, '_')}`);
  return {
    stateDir,
    databaseUrl,
    listen,
    keyPassword,
    maxBodyBytes,
    workers,
    admission,
    ...(tls ? { tls } : {}),
    serverName,
    logLevel,
    jobs,
    authSchemes,
    ...(kerberos ? { kerberos } : {}),
    // Without a named variable or a token here, startServer reads RMS_METRICS_TOKEN itself.
    ...(metricsVar !== undefined || metrics.token ? { metrics } : {}),
    ...(r.warnings.length ? { warnings: r.warnings } : {}),
  };
}

/**
 * The variable the supervisor of `serve --workers N` sets on each serving process it forks: its
 * slot (0 … N-1), which a replacement takes over with the slot's request-log spool folder.
 */
export const WORKER_SLOT_ENV = 'OPENRMS_WORKER_SLOT';

/** This serving process's slot under a supervisor, or undefined when none set it. */
export function readWorkerSlot(env: Env = process.env): number | undefined {
  const v = env[WORKER_SLOT_ENV];
  return v === undefined || v === '' ? undefined : parseCount(v, WORKER_SLOT_ENV, 0, 255);
}

export interface EmbeddedDefaults {
  dataDir: string;
  databaseUrl: string;
  credentialsFile: string;
  listen: ListenAddress;
  clusterUrl: string;
}

/** What `pnpm start` uses: a SQLite file and a credentials file under ./data, or RMS_DATA_DIR. */
export function embeddedDefaults(cwd: string = process.cwd(), env: Env = process.env): EmbeddedDefaults {
  const dataDir = path.resolve(cwd, env.RMS_DATA_DIR ?? 'data');
  const listen = env.RMS_LISTEN ? parseListen(env.RMS_LISTEN, 'RMS_LISTEN') : { ...DEFAULT_LISTEN };
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host === '0.0.0.0' ? 'localhost' : listen.host;
  return {
    dataDir,
    databaseUrl: `sqlite:${path.join(dataDir, 'openrms.db')}`,
    credentialsFile: path.join(dataDir, 'credentials.json'),
    listen,
    clusterUrl: env.RMS_CLUSTER_URL ?? `http://${host}:${listen.port}/_wmcs`,
  };
}

export function logLevelFromEnv(env: Env = process.env): string {
  return env.RMS_LOG_LEVEL ?? 'info';
}

/** Reads a small text file an operator pointed at (a PEM key, say), with a one-line error. */
export function readTextFile(p: string, what: string): string {
  return readFileFor(p, what).toString('utf8');
}
