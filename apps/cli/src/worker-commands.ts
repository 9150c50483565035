import { readMemberConfig, settingArgs, settingOptions } from '@openrms/config';
import { type Command, config, str } from './command';
import { appEntry, runAppProcess } from './run-app-process';

export const workerCommands: Command[] = [
  {
    path: ['worker'],
    summary: 'Run the background jobs of a cluster (SLC renewal, expiry sweep) from its BullMQ queues in Redis; run several for one cluster if you like.',
    options: {
      // Every setting a worker reads (docs/operations.md, "Configuration") and --config.
      ...settingOptions('worker'),
      config,
      name: { type: 'string', placeholder: 'NAME', help: 'Deprecated: --server-name' },
    },
    async run(args) {
      // apps never import each other: the worker is its own process entry, started with our flags.
      const entry = appEntry('worker');
      // A bad file fails here, as one rmsctl line with exit code 2; the worker reads it again.
      readMemberConfig(str(args, 'config'));
      const pass = settingArgs(args.values, 'worker');
      const name = str(args, 'name');
      if (name !== undefined) pass.push('--name', name);
      // SIGTERM lets the worker finish the job it is running before it exits.
      return runAppProcess(entry, pass);
    },
  },
];
