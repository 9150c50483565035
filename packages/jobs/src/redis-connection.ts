import { Redis } from 'ioredis';
import { RmsError } from '@openrms/domain';

/** The connection BullMQ queues and workers share (workers open their blocking duplicates). */
export type RedisConnection = Redis;

export interface ConnectRedisOptions {
  /** How long to wait for the first connection before giving up. */
  connectTimeoutMs?: number;
}

function display(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis';
  }
}

/**
 * The connection of a worker process (queues-status's createRedisClient serves the read side:
 * finite retries there, while BullMQ workers need `maxRetriesPerRequest: null`).
 * Connects to Redis and resolves once it answers, or rejects with RmsError('Unavailable'); a worker
 * with no Redis fails at start-up rather than waiting silently. After that, ioredis reconnects on
 * its own and BullMQ commands wait for it (maxRetriesPerRequest: null, as BullMQ requires).
 */
export async function connectWorkerRedis(url: string, opts: ConnectRedisOptions = {}): Promise<RedisConnection> {
  const connection = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: true, connectTimeout: opts.connectTimeoutMs ?? 5000 });
  // Without a listener ioredis prints connection errors itself; callers see them as rejections.
  let last: (Error & { code?: string }) | undefined;
  connection.on('error', (err: Error) => {
    last = err;
  });
  try {
    await connection.connect();
    await connection.ping();
    return connection;
  } catch (e) {
    connection.disconnect();
    const why = last?.code ?? last?.message ?? (e as Error).message;
    throw new RmsError('Unavailable', `cannot reach Redis at ${display(url)}: ${why}`, { cause: e });
  }
}

export async function closeRedis(connection: RedisConnection): Promise<void> {
  try {
    await connection.quit();
  } catch {
    connection.disconnect();
  }
}
