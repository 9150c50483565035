import { RmsError } from '@openrms/domain';

/** The only place that reads the process environment: everything else gets values from here. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Reads a secret from the environment variable the operator named; secrets never come from argv. */
export function readSecretEnv(varName: string | undefined, what: string, env: Env = process.env): string {
  if (!varName) throw new RmsError('InvalidInput', `name the environment variable that holds the ${what}`);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(varName)) {
    throw new RmsError('InvalidInput', `"${varName}" is not an environment variable name (the ${what} is read from it)`);
  }
  const v = env[varName];
  if (v === undefined || v === '') {
    throw new RmsError('InvalidInput', `environment variable ${varName} (the ${what}) is not set`);
  }
  return v;
}
