import { checkConfigFile } from '@openrms/config';
import { type Command } from './command';

export const configCommands: Command[] = [
  {
    path: ['config', 'check'],
    summary: 'Validate a member configuration file (YAML) and print the settings a member would use with it here: flags aside, environment > file > default.',
    positionals: ['FILE'],
    options: {},
    async run(args, io) {
      const file = args.positionals[0]!;
      const { settings, warnings } = checkConfigFile(file);
      for (const w of warnings) io.err(`warning: ${w}`);
      io.out(`${file}: valid`);
      const keyWidth = Math.max(...settings.map((s) => s.key.length));
      const valueWidth = Math.min(48, Math.max(...settings.map((s) => s.shown.length)));
      for (const s of settings) io.out(`${s.key.padEnd(keyWidth)}  ${s.shown.padEnd(valueWidth)}  ${s.from}`);
    },
  },
];
