#!/usr/bin/env node
import { type Command, parseCommandArgs, usage } from './command';
import { commands, describeError, exitCodeFor } from './commands';

const io = {
  out: (l: string) => process.stdout.write(`${l}\n`),
  err: (l: string) => process.stderr.write(`${l}\n`),
};

function overview(): string {
  const rows = commands.map((c) => `  rms ${c.path.join(' ')}${(c.positionals ?? []).map((p) => ` ${p}`).join('')}\n      ${c.summary}`);
  return `rms: protect and open content with an OpenRMS cluster\n\nCommands:\n${rows.join('\n')}\n\nRun "rms COMMAND --help" for the options of a command.`;
}

function findCommand(argv: string[]): { cmd: Command; rest: string[] } | undefined {
  const cmd = commands.find((c) => c.path.every((w, i) => argv[i] === w));
  return cmd ? { cmd, rest: argv.slice(cmd.path.length) } : undefined;
}

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === 'help') {
    io.out(overview());
    return argv.length === 0 ? 2 : 0;
  }
  const found = findCommand(argv);
  if (!found) {
    io.err(`rms: unknown command "${argv.find((a) => !a.startsWith('-')) ?? argv[0]}"; run "rms --help"`);
    return 2;
  }
  try {
    const args = parseCommandArgs(found.cmd, found.rest);
    if (args === 'help') {
      io.out(usage(found.cmd));
      return 0;
    }
    return (await found.cmd.run(args, io)) ?? 0;
  } catch (e) {
    // One line, no stack trace.
    io.err(`rms ${found.cmd.path.join(' ')}: ${describeError(e).split('\n')[0]}`);
    return exitCodeFor(e);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`rms: ${String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
