import { RmsError } from '@openrms/domain';
import {
  cleanFailed,
  closeRedisClient,
  connectRedis,
  createRedisClient,
  DEFAULT_PREFIX,
  JOB_STATES,
  type JobSchedulerInfo,
  QUEUES,
  queueStatus,
  type QueueTarget,
  retryFailed,
} from '@openrms/jobs';
import { type Command, type CommandIo, flag, type ParsedArgs, str } from './command';

const redis = { type: 'string', required: true, placeholder: 'URL', help: 'Redis the workers use, e.g. redis://127.0.0.1:6379 (rediss:// for TLS)' } as const;
const prefix = { type: 'string', placeholder: 'PREFIX', help: `Key prefix of the queues in Redis (default ${DEFAULT_PREFIX})` } as const;
const queue = { type: 'string', placeholder: 'NAME', help: `Only this queue: ${Object.values(QUEUES).join(' or ')}` } as const;
const json = { type: 'boolean', help: 'Print JSON instead of a table' } as const;

/** Opens a fail-fast connection (one attempt, bounded), runs `fn`, always closes it so the process can exit. */
async function withRedis<T>(args: ParsedArgs, fn: (t: QueueTarget) => Promise<T>): Promise<T> {
  const connection = createRedisClient(str(args, 'redis')!, { mode: 'fail-fast' });
  try {
    await connectRedis(connection);
    const q = str(args, 'queue');
    return await fn({ connection, prefix: str(args, 'prefix') ?? DEFAULT_PREFIX, ...(q !== undefined ? { queue: q } : {}) });
  } catch (e) {
    // A connection lost half-way surfaces as a bare ioredis error; say what it means.
    if (!(e instanceof RmsError) && /connection|ECONN|stream isn't writeable|ETIMEDOUT/i.test(String((e as Error)?.message))) {
      throw new RmsError('Unavailable', `lost the connection to Redis: ${(e as Error).message}`);
    }
    throw e;
  } finally {
    await closeRedisClient(connection);
  }
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  // Names left-aligned, numbers right-aligned.
  return rows.map((r) => r.map((c, i) => (i === 0 || !/^\d+$/.test(c) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd());
}

function duration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  const parts: [number, string][] = [
    [Math.floor(s / 86400), 'd'],
    [Math.floor((s % 86400) / 3600), 'h'],
    [Math.floor((s % 3600) / 60), 'm'],
    [s % 60, 's'],
  ];
  const shown = parts.filter(([n]) => n > 0).slice(0, 2);
  return shown.length ? shown.map(([n, u]) => `${n}${u}`).join(' ') : '0s';
}

function cadence(s: JobSchedulerInfo): string {
  if (s.pattern) return `cron ${s.pattern}${s.tz ? ` (${s.tz})` : ''}`;
  if (s.everyMs) return `every ${duration(s.everyMs)}`;
  return '-';
}

function nextRun(s: JobSchedulerInfo, now: Date): string {
  if (!s.next) return 'ended';
  const d = s.next.getTime() - now.getTime();
  return `${s.next.toISOString()} (${d >= 0 ? `in ${duration(d)}` : `${duration(d)} overdue`})`;
}

/** "7d", "12h", "30m", "45s", "500ms" or a number of milliseconds. */
export function parseAge(text: string): number {
  const m = /^(\d+)\s*(ms|s|m|h|d)?$/i.exec(text.trim());
  if (!m) throw new RmsError('InvalidInput', `--older-than must be a duration like 7d, 12h, 30m or 45s, got "${text}"`);
  const unit = (m[2] ?? 'ms').toLowerCase();
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit]!;
  return Number(m[1]) * mult;
}

function printCounts(io: CommandIo, what: string, rows: { queue: string; n: number }[]): void {
  for (const r of rows) io.out(`${r.queue}: ${what} ${r.n} job${r.n === 1 ? '' : 's'}`);
  const total = rows.reduce((a, r) => a + r.n, 0);
  if (rows.length > 1) io.out(`total: ${what} ${total} job${total === 1 ? '' : 's'}`);
}

export const queueCommands: Command[] = [
  {
    path: ['queues', 'status'],
    summary: 'Show the job queues: jobs per state (waiting, active, delayed, failed, completed) and the next run of each scheduler.',
    options: { redis, prefix, queue, json },
    async run(args, io) {
      const status = await withRedis(args, (t) => queueStatus(t));
      if (flag(args, 'json')) {
        io.out(JSON.stringify(status, null, 2));
        return;
      }
      io.out(table([['QUEUE', ...JOB_STATES.map((s) => s.toUpperCase())], ...status.map((q) => [q.queue, ...JOB_STATES.map((s) => String(q.counts[s]))])]).join('\n'));
      const now = new Date();
      const schedulers = status.flatMap((q) => q.schedulers.map((s) => [s.id, q.queue, cadence(s), nextRun(s, now)]));
      io.out('');
      if (schedulers.length === 0) {
        io.out('no job schedulers (start a worker to register them)');
        return;
      }
      io.out(table([['SCHEDULER', 'QUEUE', 'EVERY', 'NEXT RUN'], ...schedulers]).join('\n'));
    },
  },
  {
    path: ['queues', 'retry'],
    summary: 'Move failed jobs back to waiting so the workers run them again.',
    options: { redis, prefix, queue },
    async run(args, io) {
      const r = await withRedis(args, (t) => retryFailed(t));
      printCounts(io, 'retried', r.map((x) => ({ queue: x.queue, n: x.retried })));
    },
  },
  {
    path: ['queues', 'clean'],
    summary: 'Delete failed jobs (all of them, or those that failed longer ago than --older-than).',
    options: {
      redis,
      prefix,
      queue,
      'older-than': { type: 'string', placeholder: 'AGE', help: 'Only jobs that failed longer ago than this, e.g. 7d, 12h, 30m (default: all failed jobs)' },
    },
    async run(args, io) {
      const age = str(args, 'older-than');
      const olderThanMs = age === undefined ? 0 : parseAge(age);
      const r = await withRedis(args, (t) => cleanFailed({ ...t, olderThanMs }));
      printCounts(io, 'removed', r.map((x) => ({ queue: x.queue, n: x.removed })));
    },
  },
];
