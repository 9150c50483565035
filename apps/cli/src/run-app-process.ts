import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { RmsError } from '@openrms/domain';

/** Signals an operator or a service manager sends rmsctl; the child decides what each means. */
const FORWARDED = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/**
 * The process entry of another app (apps never import each other): the built file when rmsctl
 * itself runs built (apps/cli/dist/main.js → apps/<app>/dist/main.js under plain node), the
 * TypeScript source when it runs under tsx.
 */
export function appEntry(app: 'server' | 'worker', from: string = __filename): string {
  const built = path.extname(from) === '.js';
  const entry = path.resolve(path.dirname(from), '..', '..', app, built ? 'dist/main.js' : 'src/main.ts');
  if (!existsSync(entry)) {
    throw new RmsError('Unavailable', `${path.relative(process.cwd(), entry) || entry} is missing; run \`pnpm build\` first`);
  }
  return entry;
}

/**
 * Runs an app entry as a child with the same node (and, under tsx, the same loader flags), forwards
 * SIGTERM/SIGINT/SIGHUP to it and resolves with its exit code (128 + n when a signal ended it), so
 * a service manager that stops rmsctl sees how the server ended.
 */
export function runAppProcess(entry: string, args: string[]): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, entry, ...args], { stdio: 'inherit' });
  const forward = (sig: NodeJS.Signals) => () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  };
  const handlers = FORWARDED.map((sig) => [sig, forward(sig)] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  return new Promise<number>((resolve, reject) => {
    child.once('error', (e) => {
      for (const [sig, h] of handlers) process.off(sig, h);
      reject(e);
    });
    child.once('exit', (code, signal) => {
      for (const [sig, h] of handlers) process.off(sig, h);
      resolve(code ?? 128 + (signal ? (SIGNAL_NUMBERS[signal] ?? 1) : 1));
    });
  });
}
