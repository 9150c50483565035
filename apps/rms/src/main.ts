#!/usr/bin/env node
import { runCommandLine } from '@openrms/config';
import { commands, describeError, exitCodeFor } from './commands';

export function main(argv: string[]): Promise<number> {
  return runCommandLine({ program: 'rms', description: 'protect and open content with an OpenRMS cluster', commands, describeError, exitCodeFor }, argv);
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
