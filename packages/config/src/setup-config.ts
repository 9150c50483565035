import { type ConfigFile, SettingReader } from './config-file';
import { type Env, readSecretEnv } from './env';
import { loadServerConfig, type ServerConfig, type ServerFlags } from './server-config';
import { parseDatabaseUrl, parseEnvVarName } from './setting-parsers';

/** `serve --setup`: what is known at start; the database and the key password may come later, from the set-up page. */
export interface SetupConfig {
  /** The database setting (flag > RMS_DATABASE_URL > --config file), when given. */
  databaseUrl?: string;
  /** The cluster key password, when its environment variable (or VAR_FILE) holds one. */
  keyPassword?: string;
  /** Listen address, TLS, log level, server name… checked now, so a bad setting fails at start and not after set-up. */
  base: Omit<ServerConfig, 'databaseUrl' | 'keyPassword'>;
  /** The member's configuration once set-up has chosen the database, key password and server name. */
  serverConfig(databaseUrl: string, keyPassword: string, serverName?: string): ServerConfig;
}

export function loadSetupConfig(flags: ServerFlags, env: Env = process.env, file?: ConfigFile): SetupConfig {
  const r = new SettingReader(flags, env, file);
  const databaseUrl = r.parse('database', parseDatabaseUrl);
  const kpVar = r.parse('key-password-env', parseEnvVarName) ?? 'RMS_KEY_PASSWORD';
  // Not set is the normal case of a server being set up; set but unreadable is an error now.
  const kpGiven = flags.keyPassword !== undefined || Boolean(env[kpVar]) || Boolean(env[`${kpVar}_FILE`]);
  const keyPassword = kpGiven ? (flags.keyPassword ?? readSecretEnv(kpVar, 'cluster key password', env)) : undefined;
  // Every other setting the way `serve` reads it; the two values set-up supplies are stand-ins here.
  const { databaseUrl: _d, keyPassword: _k, ...base } = loadServerConfig({ ...flags, database: databaseUrl ?? 'sqlite::memory:', keyPassword: keyPassword ?? 'set-up' }, env, file);
  return {
    ...(databaseUrl ? { databaseUrl } : {}),
    ...(keyPassword ? { keyPassword } : {}),
    base,
    serverConfig: (db, kp, serverName) => ({ ...base, databaseUrl: db, keyPassword: kp, serverName: serverName ?? base.serverName }),
  };
}
