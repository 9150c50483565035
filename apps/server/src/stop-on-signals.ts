import type { Logger } from 'pino';

/** A stopping process exits within this, whatever hangs (the drain itself gives up at DRAIN_GRACE_MS). */
export const SHUTDOWN_LIMIT_MS = 10_000;

/**
 * SIGTERM (service managers, `rmsctl serve`) and SIGINT (Ctrl-C) stop the process gracefully:
 * `close` drains and closes, then the process exits 0, or 1 when closing failed or took longer than
 * SHUTDOWN_LIMIT_MS. A second signal while closing changes nothing.
 */
export function stopOnSignals(close: () => Promise<void>, logger: Logger): void {
  let closing = false;
  const stop = (sig: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    logger.info({ sig }, 'shutting down');
    setTimeout(() => {
      logger.error({ limitMs: SHUTDOWN_LIMIT_MS }, 'shutdown did not finish in time');
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS).unref();
    close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (e: unknown) => {
        logger.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
