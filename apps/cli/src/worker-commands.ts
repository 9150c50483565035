import { spawn } from 'node:child_process';
import path from 'node:path';
import { type Command, str } from './command';

const WORKER_FLAGS = ['database', 'redis', 'key-password-env', 'prefix', 'renewal-window-days', 'name'] as const;

export const workerCommands: Command[] = [
  {
    path: ['worker'],
    summary: 'Run the background jobs of a cluster (SLC renewal, expiry sweep) from its BullMQ queues in Redis; run several for one cluster if you like.',
    options: {
      database: { type: 'string', required: true, placeholder: 'URL', help: 'Configuration database of the cluster' },
      redis: { type: 'string', required: true, placeholder: 'URL', help: 'Redis holding the queues (redis://HOST:PORT[/DB] or rediss://…)' },
      'key-password-env': { type: 'string', required: true, placeholder: 'VAR', help: 'Environment variable holding the cluster key password' },
      prefix: { type: 'string', placeholder: 'P', help: 'Redis key prefix of the queues (default openrms); give each cluster sharing a Redis its own' },
      'renewal-window-days': { type: 'string', placeholder: 'N', help: 'Renew the SLC when it ends within N days (default 30)' },
      name: { type: 'string', placeholder: 'NAME', help: 'Worker name shown on the jobs it ran (default HOST:PID)' },
    },
    async run(args) {
      // apps never import each other: the worker is its own process entry, started with our flags.
      const entry = path.resolve(__dirname, '../../worker/src/main.ts');
      const pass: string[] = [];
      for (const k of WORKER_FLAGS) {
        const v = str(args, k);
        if (v !== undefined) pass.push(`--${k}`, v);
      }
      const child = spawn(process.execPath, [...process.execArgv, entry, ...pass], { stdio: 'inherit' });
      // SIGTERM lets the worker finish the job it is running before it exits.
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
      return new Promise<number>((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
    },
  },
];
