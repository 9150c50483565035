#!/usr/bin/env node
import { runCommandLine } from '@openrms/config';
import { RmsError } from '@openrms/domain';
import { exitCodeFor } from './command';
import { commands } from './commands';

export function main(argv: string[]): Promise<number> {
  return runCommandLine(
    {
      program: 'rmsctl',
      description: 'administer an OpenRMS cluster',
      commands,
      describeError: (e) => (e instanceof RmsError ? e.message : `unexpected error: ${(e as Error)?.message ?? String(e)}`),
      exitCodeFor,
    },
    argv,
  );
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
