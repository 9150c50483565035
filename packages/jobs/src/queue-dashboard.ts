import type { IncomingMessage, ServerResponse } from 'node:http';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Queue } from 'bullmq';
import { DEFAULT_PREFIX, QUEUES } from './queue-names';
import type { RedisClient } from './queue-status';

/** A connect-style request handler, so the server mounts the dashboard without this package importing express. */
export type QueueDashboardHandler = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

export interface QueueDashboardOptions {
  connection: RedisClient;
  prefix?: string;
  /** The path the server mounts the handler at, e.g. /_wmcs/admin/queues (the UI builds its links from it). */
  basePath: string;
  title?: string;
}

export interface QueueDashboard {
  handler: QueueDashboardHandler;
  /** Closes the Queue objects; the shared connection belongs to the caller. */
  close(): Promise<void>;
}

/**
 * bull-board over every queue in QUEUES. The server puts its own authentication in front; the
 * board's assets are served from the installed @bull-board/ui package, so it needs no network.
 */
export function createQueueDashboard(opts: QueueDashboardOptions): QueueDashboard {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const queues = Object.values(QUEUES).map((name) => {
    const q = new Queue(name, { connection: opts.connection, prefix });
    // Outages show as failed API calls in the board; the event itself must not crash the server.
    q.on('error', () => undefined);
    return q;
  });
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(opts.basePath);
  createBullBoard({
    // bull-board declares its adapter against its own bullmq typings; the runtime API is the same.
    queues: queues.map((q) => new BullMQAdapter(q as never)),
    // @bull-board/express pins its own copy of @bull-board/api; the adapter interface is the same.
    serverAdapter: serverAdapter as never,
    options: {
      uiConfig: {
        boardTitle: opts.title ?? 'OpenRMS queues',
        // The docs icon links to an external site; operators' browsers may have no way out.
        hideDocsLink: true,
      },
    },
  });
  const router = serverAdapter.getRouter() as QueueDashboardHandler & { disable?(setting: string): void };
  router.disable?.('x-powered-by');
  return {
    handler: (req, res, next) => router(req, res, next),
    async close() {
      await Promise.all(queues.map((q) => q.close().catch(() => undefined)));
    },
  };
}
