import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { RmsError } from '@openrms/domain';
import { type Env, readSecretEnv } from './env';
import { type JobsConfig, loadJobsConfig } from './jobs-config';

// Env and readSecretEnv live in ./env so jobs-config can use them without importing this file.
export { type Env, readSecretEnv } from './env';

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const DEFAULT_LISTEN = { host: '127.0.0.1', port: 8080 } as const;

export interface ListenAddress {
  host: string;
  port: number;
}

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

export interface ServerConfig {
  databaseUrl: string;
  listen: ListenAddress;
  keyPassword: string;
  maxBodyBytes: number;
  tls?: TlsFiles;
  serverName: string;
  logLevel: string;
  /** Background jobs: on BullMQ workers when jobs.redisUrl is set, else in this process. */
  jobs: JobsConfig;
  /** HTTP authentication schemes offered in the 401 challenge, in order (IIS offers Negotiate first). */
  authSchemes: AuthScheme[];
  /** Negotiate (SPNEGO/Kerberos): the service keytab and principal; required when authSchemes has negotiate. */
  kerberos?: KerberosServiceConfig;
}

export type AuthScheme = 'negotiate' | 'basic';

export interface KerberosServiceConfig {
  keytab: string;
  /** HTTP/host@REALM */
  spn: string;
  realm: string;
  /** A krb5.conf for this process (KRB5_CONFIG), when not the system's. */
  krb5Config?: string;
}

const SPN_RE = /^HTTP\/([A-Za-z0-9.-]{1,253})@([A-Za-z0-9.-]{1,255})$/;

/** `negotiate,basic` → the schemes, validated; Negotiate needs a keytab and an SPN. */
export function parseAuthSchemes(s: string): AuthScheme[] {
  const out: AuthScheme[] = [];
  for (const part of s.split(',').map((p) => p.trim().toLowerCase()).filter(Boolean)) {
    if (part !== 'negotiate' && part !== 'basic') throw new RmsError('InvalidInput', `--auth takes negotiate and/or basic, comma-separated; got "${part}"`);
    if (!out.includes(part)) out.push(part);
  }
  if (out.length === 0) throw new RmsError('InvalidInput', '--auth must name at least one scheme (negotiate, basic)');
  return out;
}

function loadKerberos(flags: ServerFlags, env: Env): KerberosServiceConfig | undefined {
  const keytab = flags.keytab ?? env.RMS_KEYTAB;
  const spn = flags.spn ?? env.RMS_SPN;
  const krb5Config = flags.krb5Config ?? env.RMS_KRB5_CONFIG;
  if (!keytab && !spn) return undefined;
  if (!keytab || !spn) throw new RmsError('InvalidInput', 'Negotiate needs both --keytab FILE and --spn HTTP/host@REALM');
  const m = SPN_RE.exec(spn);
  if (!m) throw new RmsError('InvalidInput', `--spn must be HTTP/host@REALM (e.g. HTTP/rms.example.test@EXAMPLE.TEST), got "${spn}"`);
  readFileFor(keytab, 'Kerberos keytab');
  if (krb5Config) readFileFor(krb5Config, 'krb5.conf');
  return { keytab: path.resolve(keytab), spn, realm: m[2]!, ...(krb5Config ? { krb5Config: path.resolve(krb5Config) } : {}) };
}

export interface ServerFlags {
  database?: string;
  listen?: string;
  keyPasswordEnv?: string;
  /** An already-resolved key password (the embedded default reads it from its credentials file). */
  keyPassword?: string;
  maxBodyBytes?: string;
  tlsCert?: string;
  tlsKey?: string;
  serverName?: string;
  /** Redis URL: the jobs run on `rmsctl worker` processes instead of inside the server. */
  redis?: string;
  /** Negotiate: the service keytab, its principal, and optionally a krb5.conf. */
  keytab?: string;
  spn?: string;
  krb5Config?: string;
  /** Schemes offered, e.g. `negotiate,basic`; default: negotiate,basic with a keytab, else basic. */
  auth?: string;
}

export function parseListen(s: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(s.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new RmsError('InvalidInput', `--listen must be HOST:PORT (e.g. 127.0.0.1:8080), got "${s}"`);
  }
  return { host: (m[1] ?? m[2])!, port };
}

export function parseByteSize(s: string, what: string): number {
  const m = /^(\d+)\s*(b|k|kb|kib|m|mb|mib)?$/i.exec(s.trim());
  if (!m) throw new RmsError('InvalidInput', `${what} must be a size like 1048576, 512k or 4m, got "${s}"`);
  const unit = (m[2] ?? 'b').toLowerCase();
  const mult = unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 1024 * 1024 : 1;
  const n = Number(m[1]) * mult;
  if (n < 1024 || n > 64 * 1024 * 1024) throw new RmsError('InvalidInput', `${what} must be between 1 KiB and 64 MiB`);
  return n;
}

function readFileFor(p: string, what: string): Buffer {
  try {
    return readFileSync(p);
  } catch (e) {
    throw new RmsError('InvalidInput', `cannot read the ${what} file ${p}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** Flags win over environment variables (RMS_*), which win over defaults. */
export function loadServerConfig(flags: ServerFlags, env: Env = process.env): ServerConfig {
  const databaseUrl = flags.database ?? env.RMS_DATABASE_URL;
  if (!databaseUrl) throw new RmsError('InvalidInput', '--database URL is required (or set RMS_DATABASE_URL)');
  const listenText = flags.listen ?? env.RMS_LISTEN;
  const listen = listenText ? parseListen(listenText) : { ...DEFAULT_LISTEN };
  const keyPassword = flags.keyPassword ?? readSecretEnv(flags.keyPasswordEnv ?? 'RMS_KEY_PASSWORD', 'cluster key password', env);
  const bodyText = flags.maxBodyBytes ?? env.RMS_MAX_BODY_BYTES;
  const maxBodyBytes = bodyText ? parseByteSize(bodyText, 'the maximum request body size') : DEFAULT_MAX_BODY_BYTES;
  const certPath = flags.tlsCert ?? env.RMS_TLS_CERT;
  const keyPath = flags.tlsKey ?? env.RMS_TLS_KEY;
  if (Boolean(certPath) !== Boolean(keyPath)) {
    throw new RmsError('InvalidInput', 'TLS needs both a certificate and a key (--tls-cert and --tls-key)');
  }
  const tls = certPath && keyPath ? { cert: readFileFor(certPath, 'TLS certificate'), key: readFileFor(keyPath, 'TLS key') } : undefined;
  const kerberos = loadKerberos(flags, env);
  const authText = flags.auth ?? env.RMS_AUTH;
  const authSchemes = authText ? parseAuthSchemes(authText) : kerberos ? (['negotiate', 'basic'] as AuthScheme[]) : (['basic'] as AuthScheme[]);
  if (authSchemes.includes('negotiate') && !kerberos) throw new RmsError('InvalidInput', '--auth negotiate needs --keytab FILE and --spn HTTP/host@REALM');
  return {
    databaseUrl,
    listen,
    keyPassword,
    maxBodyBytes,
    ...(tls ? { tls } : {}),
    serverName: flags.serverName ?? env.RMS_SERVER_NAME ?? hostname(),
    logLevel: env.RMS_LOG_LEVEL ?? 'info',
    jobs: loadJobsConfig({ redis: flags.redis }, env),
    authSchemes,
    ...(kerberos ? { kerberos } : {}),
  };
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
  const listen = env.RMS_LISTEN ? parseListen(env.RMS_LISTEN) : { ...DEFAULT_LISTEN };
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
