import type { Logger } from 'pino';

/** A stopping process exits within this, whatever hangs (the drain itself gives up at DRAIN_GRACE_MS). */
export const SHUTDOWN_LIMIT_MS = 10_000;

export interface StopOptions {
  /**
   * Log "shutting down" as the stop begins (default). The supervisor says it itself once no worker
   * accepts connections any more, which is what the line promises.
   */
  announce?: boolean;
  /** Exit within this (default SHUTDOWN_LIMIT_MS). */
  limitMs?: number;
}

/**
 * SIGTERM (service managers, `rmsctl serve`) and SIGINT (Ctrl-C) stop the process gracefully:
 * `close` drains and closes, then the process exits 0, or 1 when closing failed or took longer than
 * the limit. A second signal while closing changes nothing. Returns the same stop for other
 * triggers (a worker's supervisor asking it to drain).
 */
export function stopOnSignals(close: (reason: string) => Promise<void>, logger: Logger, opts: StopOptions = {}): (reason: string) => void {
  const limitMs = opts.limitMs ?? SHUTDOWN_LIMIT_MS;
  let closing = false;
  const stop = (reason: string) => {
    if (closing) return;
    closing = true;
    if (opts.announce !== false) logger.info({ sig: reason }, 'shutting down');
    setTimeout(() => {
      logger.error({ limitMs }, 'shutdown did not finish in time');
      process.exit(1);
    }, limitMs).unref();
    close(reason).then(
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
  return stop;
}
