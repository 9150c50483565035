/**
 * The cluster the bench measures: a root cluster on a temporary SQLite file, its users, and what a
 * member needs to be started with. This is the one place that decides how the cluster key is
 * protected (BENCH_KEY_PROTECTION): `software` (the default: wrapped with a password in the
 * database, provisioned with the library) or `pkcs11` (a SoftHSM token, provisioned with the CLI
 * as an operator would, when this build's `rmsctl provision root` offers `--key-protection`).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { addUser, provisionRootCluster } from '@openrms/issuance';
import { REPO } from './server-process';

export type KeyProtection = 'software' | 'pkcs11';

export interface BenchUser {
  name: string;
  email: string;
  password: string;
}

export interface BenchCluster {
  databaseUrl: string;
  keyProtection: KeyProtection;
  /** A line for the report: how the key is held. */
  keyDescription: string;
  admin: BenchUser;
  users: { alice: BenchUser; bob: BenchUser };
  /** Flags every member of this cluster is started with (after --database/--listen/--server-name). */
  serverArgs: string[];
  /** Environment every member is started with (the secrets those flags name). */
  serverEnv: Record<string, string>;
}

export interface ProvisionBenchOptions {
  workDir: string;
  /** The cluster's URL (its _wmcs base), as clients reach it. */
  clusterUrl: string;
  /** The first member's name. */
  serverName: string;
  keyProtection: KeyProtection;
}

const KEY_PASSWORD_VAR = 'OPENRMS_BENCH_KEY_PASSWORD';
const KEY_PASSWORD = 'bench-cluster-key-password';
const PIN_VAR = 'OPENRMS_BENCH_PKCS11_PIN';
const CLI_ENTRY = path.join(REPO, 'apps/cli/dist/main.js');
/** Where Debian's softhsm2 package puts the module. */
const SOFTHSM_MODULES = ['/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so', '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so'];

export function keyProtectionFromEnv(raw: string | undefined): KeyProtection {
  if (raw === undefined || raw === '' || raw === 'software') return 'software';
  if (raw === 'pkcs11') return 'pkcs11';
  throw new Error(`BENCH_KEY_PROTECTION must be software or pkcs11, not "${raw}"`);
}

export async function provisionBenchCluster(o: ProvisionBenchOptions): Promise<BenchCluster> {
  const databaseUrl = `sqlite:${path.join(o.workDir, 'rms.db')}`;
  const admin = { name: 'admin', email: 'admin@example.test', password: 'admin-bench-password' };
  const users = {
    alice: { name: 'alice', email: 'alice@example.test', password: 'alice-bench-password' },
    bob: { name: 'bob', email: 'bob@example.test', password: 'bob-bench-password' },
  };
  const base = { databaseUrl, admin, users, keyProtection: o.keyProtection };
  let cluster: BenchCluster;
  if (o.keyProtection === 'pkcs11') {
    cluster = { ...base, ...provisionWithPkcs11(o, databaseUrl, admin) };
  } else {
    await provisionRootCluster({
      databaseUrl,
      clusterUrl: o.clusterUrl,
      serviceAccount: 'rms-service',
      admin,
      keyPassword: KEY_PASSWORD,
      revocation: { kind: 'standard' },
      serverName: o.serverName,
    });
    cluster = {
      ...base,
      keyDescription: 'software (RSA-2048 key wrapped with a password in the database, held in memory by each process)',
      serverArgs: ['--key-password-env', KEY_PASSWORD_VAR],
      serverEnv: { [KEY_PASSWORD_VAR]: KEY_PASSWORD },
    };
  }
  for (const u of Object.values(users)) await addUser(databaseUrl, { ...u, groups: [] });
  return cluster;
}

/** True when this build's `rmsctl provision root` has the given flag. */
function cliOffers(flag: string): boolean {
  if (!existsSync(CLI_ENTRY)) return false;
  const r = spawnSync(process.execPath, [CLI_ENTRY, 'provision', 'root', '--help'], { encoding: 'utf8', timeout: 60_000 });
  return `${r.stdout}${r.stderr}`.includes(flag);
}

/**
 * A SoftHSM token of its own (SOFTHSM2_CONF pointing into the work folder, so no system token is
 * touched), then `rmsctl provision root --key-protection pkcs11 …` with the CLI's own flags.
 */
function provisionWithPkcs11(
  o: ProvisionBenchOptions,
  databaseUrl: string,
  admin: BenchUser,
): Pick<BenchCluster, 'keyDescription' | 'serverArgs' | 'serverEnv'> {
  if (!cliOffers('--key-protection')) {
    throw new Error('BENCH_KEY_PROTECTION=pkcs11: this build of `rmsctl provision root` has no --key-protection flag (pnpm build, or use the default)');
  }
  const module_ = SOFTHSM_MODULES.find((m) => existsSync(m));
  if (!module_) throw new Error(`BENCH_KEY_PROTECTION=pkcs11 needs SoftHSM (softhsm2); none of ${SOFTHSM_MODULES.join(', ')} exists`);
  const tokens = path.join(o.workDir, 'softhsm-tokens');
  mkdirSync(tokens, { recursive: true });
  const conf = path.join(o.workDir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const label = 'openrms-bench';
  const pin = 'bench-user-pin-1';
  const hsmEnv = { SOFTHSM2_CONF: conf };
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', 'bench-so-pin-1'], {
    env: { ...process.env, ...hsmEnv },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const keyFlags = ['--key-protection', 'pkcs11', '--pkcs11-module', module_, '--pkcs11-token', label, '--pkcs11-pin-env', PIN_VAR];
  const adminPasswordVar = 'OPENRMS_BENCH_ADMIN_PASSWORD';
  const r = spawnSync(
    process.execPath,
    [
      CLI_ENTRY,
      'provision',
      'root',
      '--database',
      databaseUrl,
      '--cluster-url',
      o.clusterUrl,
      '--service-account',
      'rms-service',
      '--admin',
      admin.name,
      '--admin-email',
      admin.email,
      '--admin-password-env',
      adminPasswordVar,
      '--server-name',
      o.serverName,
      ...keyFlags,
    ],
    { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...hsmEnv, [PIN_VAR]: pin, [adminPasswordVar]: admin.password, RMS_LOG_LEVEL: 'warn' } },
  );
  if (r.status !== 0) throw new Error(`rmsctl provision root --key-protection pkcs11 failed (exit ${r.status}): ${(r.stderr || r.stdout).trim()}`);
  return {
    keyDescription: `pkcs11 (SoftHSM token "${label}", ${module_})`,
    // The member reads where its key is from the database; the PIN is the secret it needs.
    serverArgs: ['--pkcs11-pin-env', PIN_VAR],
    serverEnv: { ...hsmEnv, [PIN_VAR]: pin },
  };
}
