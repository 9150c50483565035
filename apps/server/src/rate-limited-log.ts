import type { Logger } from 'pino';

/**
 * An outage (directory, database) fails every request at once: log the first failure and then at
 * most one line per interval, saying how many were not written.
 */
export function rateLimitedLog(logger: Logger, intervalMs: number): (obj: object, msg: string) => void {
  let last = 0;
  let suppressed = 0;
  return (obj, msg) => {
    const now = Date.now();
    if (now - last < intervalMs) {
      suppressed += 1;
      return;
    }
    logger.warn({ ...obj, ...(suppressed ? { suppressed } : {}) }, msg);
    last = now;
    suppressed = 0;
  };
}
