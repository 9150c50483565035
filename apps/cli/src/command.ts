import { parseArgs, type ParseArgsConfig } from 'node:util';
import { RmsError } from '@openrms/domain';

export type OptionSpec = {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  /** Shown in --help. */
  help: string;
  required?: boolean;
  placeholder?: string;
};

export interface CommandIo {
  out(line: string): void;
  err(line: string): void;
}

export interface Command {
  /** Words after `rmsctl`, e.g. ['provision', 'root']. */
  path: string[];
  summary: string;
  /** Positional arguments, e.g. ['NAME']. */
  positionals?: string[];
  options: Record<string, OptionSpec>;
  /** Resolves with the exit code when it is not 0 without being an error (e.g. a child's). */
  run(args: ParsedArgs, io: CommandIo): Promise<void | number>;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function str(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function list(args: ParsedArgs, name: string): string[] {
  const v = args.values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}

export function usage(cmd: Command): string {
  const opts = Object.entries(cmd.options)
    .map(([name, o]) => {
      const arg = o.type === 'string' ? ` ${o.placeholder ?? 'VALUE'}` : '';
      const tags = [o.required ? 'required' : '', o.multiple ? 'repeatable' : ''].filter(Boolean).join(', ');
      return `  --${name}${arg}\n      ${o.help}${tags ? ` (${tags})` : ''}`;
    })
    .join('\n');
  const pos = (cmd.positionals ?? []).map((p) => ` ${p}`).join('');
  const optsLine = Object.keys(cmd.options).length ? ' [options]' : '';
  return `Usage: rmsctl ${cmd.path.join(' ')}${pos}${optsLine}\n\n${cmd.summary}\n\nOptions:\n${opts}\n  --help\n      Show this help.`;
}

export function parseCommandArgs(cmd: Command, argv: string[]): ParsedArgs | 'help' {
  const options: NonNullable<ParseArgsConfig['options']> = { help: { type: 'boolean' } };
  for (const [name, o] of Object.entries(cmd.options)) {
    options[name] = { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new RmsError('InvalidInput', (e as Error).message.split('\n')[0]!.replace(/^TypeError[^:]*: /, ''));
  }
  if (parsed.values.help) return 'help';
  const expected = cmd.positionals?.length ?? 0;
  if (parsed.positionals.length !== expected) {
    throw new RmsError(
      'InvalidInput',
      expected === 0
        ? `unexpected argument "${parsed.positionals[0]}"`
        : `expected ${cmd.positionals!.join(' ')}, got ${parsed.positionals.length} argument(s)`,
    );
  }
  for (const [name, o] of Object.entries(cmd.options)) {
    if (o.required && parsed.values[name] === undefined) throw new RmsError('InvalidInput', `--${name} is required`);
  }
  return { values: parsed.values as ParsedArgs['values'], positionals: parsed.positionals };
}

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
