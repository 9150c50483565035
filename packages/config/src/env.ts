import { readFileSync } from 'node:fs';
import { RmsError } from '@openrms/domain';

/** The only place that reads the process environment: everything else gets values from here. */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads a secret from the environment variable the operator named; secrets never come from argv.
 * When VAR is unset, VAR_FILE may name a file holding it (one trailing newline dropped): systemd's
 * LoadCredential= hands secrets over as files (deploy/systemd), and a file is not inherited or
 * shown in /proc/PID/environ the way an environment variable is.
 */
export function readSecretEnv(varName: string | undefined, what: string, env: Env = process.env): string {
  if (!varName) throw new RmsError('InvalidInput', `name the environment variable that holds the ${what}`);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(varName)) {
    throw new RmsError('InvalidInput', `"${varName}" is not an environment variable name (the ${what} is read from it)`);
  }
  const v = env[varName];
  if (v !== undefined && v !== '') return v;
  const file = env[`${varName}_FILE`];
  if (file !== undefined && file !== '') return readSecretFile(file, `${varName}_FILE`, what);
  throw new RmsError('InvalidInput', `environment variable ${varName} (the ${what}) is not set`);
}

function readSecretFile(file: string, varName: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new RmsError('InvalidInput', `cannot read ${file} (${varName}, the ${what}): ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const v = text.replace(/\r?\n$/, '');
  if (v === '') throw new RmsError('InvalidInput', `${file} (${varName}, the ${what}) is empty`);
  return v;
}
