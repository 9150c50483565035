import { CONFIG_OPTION, type OptionSpec, type ParsedArgs, resolveDatabaseUrl, str } from '@openrms/config';
import { RmsError } from '@openrms/domain';

export { type Command, type CommandIo, type OptionSpec, type ParsedArgs, flag, list, str } from '@openrms/config';

/** CLI exit codes, one per error class, so scripts can tell "already done" from "broken". */
export const EXIT_CODES: Partial<Record<RmsError['code'], number>> = {
  InvalidInput: 2,
  AlreadyExists: 3,
  KeyPasswordInvalid: 4,
  NotProvisioned: 5,
  NotFound: 5,
  Unavailable: 6,
  AccessDenied: 7,
};

export function exitCodeFor(e: unknown): number {
  return e instanceof RmsError ? (EXIT_CODES[e.code] ?? 1) : 1;
}

/**
 * The `--database` option of every command that opens the configuration database. Not required
 * at the option level: `databaseUrlOf` also takes RMS_DATABASE_URL and the --config file.
 */
export const database: OptionSpec = {
  type: 'string',
  placeholder: 'URL',
  help: 'Configuration database: sqlite:PATH, postgres://… or mssql://… (else RMS_DATABASE_URL, else database: in the --config file)',
  check: (args) => void databaseUrlOf(args),
};

/** `--config FILE`: a member's configuration file; commands with `database` get it (commands.ts). */
export const config: OptionSpec = CONFIG_OPTION;

/** The database URL of a command: --database > RMS_DATABASE_URL > `database:` in --config FILE (or RMS_CONFIG). */
export function databaseUrlOf(args: ParsedArgs): string {
  return resolveDatabaseUrl(str(args, 'database'), str(args, 'config'));
}
