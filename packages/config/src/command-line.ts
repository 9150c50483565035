/** The command-line shape shared by rmsctl and rms: flags parsed strictly, --help everywhere, one-line errors. */
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
  /**
   * Checked in option order together with `required`: for a value that may also come from the
   * environment or a configuration file (--database), so its "is required" comes where the flag's would.
   */
  check?(args: ParsedArgs): void;
};

export interface CommandIo {
  out(line: string): void;
  err(line: string): void;
}

export interface Command {
  /** Words after the program name, e.g. ['provision', 'root']. */
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

export function usage(program: string, cmd: Command): string {
  const opts = Object.entries(cmd.options)
    .map(([name, o]) => {
      const arg = o.type === 'string' ? ` ${o.placeholder ?? 'VALUE'}` : '';
      const tags = [o.required ? 'required' : '', o.multiple ? 'repeatable' : ''].filter(Boolean).join(', ');
      return `  ${o.short ? `-${o.short}, ` : ''}--${name}${arg}\n      ${o.help}${tags ? ` (${tags})` : ''}`;
    })
    .join('\n');
  const pos = (cmd.positionals ?? []).map((p) => ` ${p}`).join('');
  const optsLine = Object.keys(cmd.options).length ? ' [options]' : '';
  return `Usage: ${program} ${cmd.path.join(' ')}${pos}${optsLine}\n\n${cmd.summary}\n\nOptions:\n${opts}\n  --help\n      Show this help.`;
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
  const args: ParsedArgs = { values: parsed.values as ParsedArgs['values'], positionals: parsed.positionals };
  for (const [name, o] of Object.entries(cmd.options)) {
    if (o.required && parsed.values[name] === undefined) throw new RmsError('InvalidInput', `--${name} is required`);
    o.check?.(args);
  }
  return args;
}

export interface CommandLine {
  /** The program name as users type it, e.g. `rmsctl`. */
  program: string;
  description: string;
  commands: Command[];
  /** The one-line text of a failure (no stack trace ever). */
  describeError(e: unknown): string;
  exitCodeFor(e: unknown): number;
}

export const stdio: CommandIo = {
  out: (l: string) => process.stdout.write(`${l}\n`),
  err: (l: string) => process.stderr.write(`${l}\n`),
};

function overview(cli: CommandLine): string {
  const rows = cli.commands.map((c) => `  ${cli.program} ${c.path.join(' ')}${(c.positionals ?? []).map((p) => ` ${p}`).join('')}\n      ${c.summary}`);
  return `${cli.program}: ${cli.description}\n\nCommands:\n${rows.join('\n')}\n\nRun "${cli.program} COMMAND --help" for the options of a command.`;
}

/** The command whose words match the longest prefix of argv. */
function findCommand(commands: Command[], argv: string[]): { cmd: Command; rest: string[] } | undefined {
  let best: Command | undefined;
  for (const c of commands) {
    if (c.path.every((w, i) => argv[i] === w) && (!best || c.path.length > best.path.length)) best = c;
  }
  return best ? { cmd: best, rest: argv.slice(best.path.length) } : undefined;
}

/** Runs one command line and resolves with its exit code; never throws. */
export async function runCommandLine(cli: CommandLine, argv: string[], io: CommandIo = stdio): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === 'help') {
    io.out(overview(cli));
    return argv.length === 0 ? 2 : 0;
  }
  const found = findCommand(cli.commands, argv);
  if (!found) {
    io.err(`${cli.program}: unknown command "${argv.filter((a) => !a.startsWith('-')).slice(0, 2).join(' ')}"; run "${cli.program} --help"`);
    return 2;
  }
  try {
    const args = parseCommandArgs(found.cmd, found.rest);
    if (args === 'help') {
      io.out(usage(cli.program, found.cmd));
      return 0;
    }
    return (await found.cmd.run(args, io)) ?? 0;
  } catch (e) {
    // One line, no stack: people read this in terminals, scripts and logs.
    io.err(`${cli.program} ${found.cmd.path.join(' ')}: ${cli.describeError(e).split('\n')[0]}`);
    return cli.exitCodeFor(e);
  }
}
