/**
 * A SoftHSM2 token of a test's own: its own token folder and configuration file (SOFTHSM2_CONF),
 * initialised with `softhsm2-util --init-token --free`. Nothing touches the machine's tokens.
 * Debian's `softhsm2` package (scripts/dev.sh installs it) puts the module at SOFTHSM_MODULE.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsmToken {
  /** Path of the PKCS#11 module: `--pkcs11-module`. */
  module: string;
  /** Token label: `--pkcs11-token`. */
  label: string;
  /** The user PIN, to put in the variable `--pkcs11-pin-env` names. */
  pinEnvValue: string;
  soPin: string;
  /** The SoftHSM configuration file of this token's folder. */
  conf: string;
  /** Environment a process needs to see this token (SOFTHSM2_CONF), to merge into its env. */
  env: Record<string, string>;
  dispose(): void;
}

/**
 * Creates a token in a folder of its own. A process (or a jest worker) reads SOFTHSM2_CONF when it
 * first loads the module, so give `env` to the processes you start; in-process tests set
 * process.env.SOFTHSM2_CONF before the first PKCS#11 call (useSoftHsmInThisProcess).
 */
export function createSoftHsmToken(opts: { label?: string; pin?: string; dir?: string } = {}): SoftHsmToken {
  if (!existsSync(SOFTHSM_MODULE)) throw new Error(`SoftHSM2 is not installed (${SOFTHSM_MODULE}); apt-get install softhsm2 (scripts/dev.sh does)`);
  const dir = opts.dir ?? mkdtempSync(path.join(tmpdir(), 'openrms-softhsm-'));
  const tokens = path.join(dir, 'tokens');
  mkdirSync(tokens, { recursive: true });
  const conf = path.join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const label = opts.label ?? `openrms-${randomBytes(4).toString('hex')}`;
  const pin = opts.pin ?? `pin-${randomBytes(6).toString('hex')}`;
  const soPin = `so-${randomBytes(6).toString('hex')}`;
  const env = { SOFTHSM2_CONF: conf };
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', soPin, '--pin', pin], { env: { ...process.env, ...env }, stdio: 'pipe' });
  return {
    module: SOFTHSM_MODULE,
    label,
    pinEnvValue: pin,
    soPin,
    conf,
    env,
    dispose: () => {
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * For tests that load the module in their own process: points SOFTHSM2_CONF at a folder this
 * process keeps, in which every createSoftHsmToken call of the process then makes its token.
 */
export function useSoftHsmInThisProcess(): { dir: string; createToken(opts?: { label?: string; pin?: string }): SoftHsmToken; dispose(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'openrms-softhsm-'));
  const conf = path.join(dir, 'softhsm2.conf');
  // Jest gives each test file a copy of process.env that the native module never sees;
  // process.loadEnvFile sets the process's real environment, which SoftHSM reads.
  const envFile = path.join(dir, 'softhsm.env');
  writeFileSync(envFile, `SOFTHSM2_CONF=${conf}\n`);
  (process as unknown as { loadEnvFile(file: string): void }).loadEnvFile(envFile);
  process.env.SOFTHSM2_CONF = conf;
  return {
    dir,
    createToken: (o = {}) => createSoftHsmToken({ ...o, dir }),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * For `pnpm bench` and other scripts: a fresh token and the settings that put a cluster key in it.
 * Pass `env` (SOFTHSM2_CONF and the PIN variable) to every process that opens the key, and
 * `provisionArgs` to `rmsctl provision root|licensing`.
 */
export function softHsmForCluster(pinVar = 'RMS_PKCS11_PIN'): SoftHsmToken & { pinVar: string; provisionArgs: string[]; processEnv: Record<string, string> } {
  const t = createSoftHsmToken();
  return {
    ...t,
    pinVar,
    provisionArgs: ['--key-protection', 'pkcs11', '--pkcs11-module', t.module, '--pkcs11-token', t.label, '--pkcs11-pin-env', pinVar],
    processEnv: { ...t.env, [pinVar]: t.pinEnvValue },
  };
}
