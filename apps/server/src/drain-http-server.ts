import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as NetServer } from 'node:net';

/** How long a connection accepted just before the drain has to deliver its request. */
const SETTLE_MS = 500;

/**
 * Stops accepting connections and lets the requests in flight finish, each connection closed once
 * it has answered: requests that start during the drain are answered with `Connection: close`,
 * keep-alive connections are closed as soon as they are idle, and whatever is still open after
 * `graceMs` is cut. Resolves once every connection is gone; `forced` says whether any had to be cut.
 *
 * Not http.Server#close: since Node 19 it destroys idle connections at once, which includes one
 * whose request is already in the socket but not yet read, and that client gets a reset instead of
 * an answer. Those get SETTLE_MS to be read first.
 */
export function drainHttpServer(server: Server, graceMs: number): Promise<{ forced: boolean }> {
  return new Promise((resolve) => {
    let forced = false;
    let sweep: NodeJS.Timeout | undefined;
    const lastResponse = (_req: IncomingMessage, res: ServerResponse) => {
      if (!res.headersSent) res.setHeader('Connection', 'close');
    };
    server.prependListener('request', lastResponse);
    const settle = setTimeout(() => {
      server.closeIdleConnections();
      sweep = setInterval(() => server.closeIdleConnections(), 25);
    }, Math.min(SETTLE_MS, graceMs));
    const deadline = setTimeout(() => {
      forced = true;
      server.closeAllConnections();
    }, graceMs);
    const done = () => {
      clearTimeout(settle);
      clearInterval(sweep);
      clearTimeout(deadline);
      server.off('request', lastResponse);
      resolve({ forced });
    };
    if (!server.listening) {
      // Never listened or already closed: only the connections are left to finish.
      server.closeIdleConnections();
      done();
      return;
    }
    // Stop listening; the callback runs once the last connection has closed.
    NetServer.prototype.close.call(server, done);
  });
}
