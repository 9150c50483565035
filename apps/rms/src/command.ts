import { parseArgs, type ParseArgsConfig } from 'node:util';
import { RmsError } from '@openrms/domain';

/** Same shape as rmsctl's commands (apps/cli/src/command.ts); apps do not import each other. */
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
  /** Words after `rms`, e.g. ['protect']. */
  path: string[];
  summary: string;
  positionals?: string[];
  options: Record<string, OptionSpec>;
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
  return `Usage: rms ${cmd.path.join(' ')}${pos}${optsLine}\n\n${cmd.summary}\n\nOptions:\n${opts}\n  --help\n      Show this help.`;
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
