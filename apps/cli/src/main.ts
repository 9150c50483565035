#!/usr/bin/env node
import { RmsError } from '@openrms/domain';
import { type Command, exitCodeFor, parseCommandArgs, usage } from './command';
import { commands } from './commands';

const io = {
  out: (l: string) => process.stdout.write(`${l}\n`),
  err: (l: string) => process.stderr.write(`${l}\n`),
};

function overview(): string {
  const rows = commands.map((c) => `  rmsctl ${c.path.join(' ')}${(c.positionals ?? []).map((p) => ` ${p}`).join('')}\n      ${c.summary}`);
  return `rmsctl: administer an OpenRMS cluster\n\nCommands:\n${rows.join('\n')}\n\nRun "rmsctl COMMAND --help" for the options of a command.`;
}

function findCommand(argv: string[]): { cmd: Command; rest: string[] } | undefined {
  let best: Command | undefined;
  for (const c of commands) {
    if (c.path.every((w, i) => argv[i] === w) && (!best || c.path.length > best.path.length)) best = c;
  }
  return best ? { cmd: best, rest: argv.slice(best.path.length) } : undefined;
}

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === 'help') {
    io.out(overview());
    return argv.length === 0 ? 2 : 0;
  }
  const found = findCommand(argv);
  if (!found) {
    io.err(`rmsctl: unknown command "${argv.filter((a) => !a.startsWith('-')).slice(0, 2).join(' ')}"; run "rmsctl --help"`);
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
    // One line, no stack: operators read this in scripts and logs.
    const msg = e instanceof RmsError ? e.message : `unexpected error: ${(e as Error)?.message ?? String(e)}`;
    io.err(`rmsctl ${found.cmd.path.join(' ')}: ${msg.split('\n')[0]}`);
    return exitCodeFor(e);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`rmsctl: ${String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
