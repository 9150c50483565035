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
