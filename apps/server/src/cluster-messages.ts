/**
 * What the supervisor of `serve --workers N` and its serving processes say to each other over the
 * node:cluster IPC channel. Every message carries `openrms`, so node's and prom-client's own
 * messages on the same channel are told apart.
 */
export type ToWorker =
  /** Stop accepting, answer what is in flight, exit (as SIGTERM would). */
  | { openrms: 'drain' }
  /** Re-read the cluster state now (the supervisor renewed the SLC). */
  | { openrms: 'refresh' }
  /** Send this process's metrics (as prom-client JSON) for the supervisor to sum. */
  | { openrms: 'metrics-request'; id: number }
  /** The answer to a worker's `scrape`: every worker's metrics as Prometheus text. */
  | { openrms: 'scrape-result'; id: number; text?: string; error?: string };

export type ToSupervisor =
  /** Started and listening: the port is served by this process too. */
  | { openrms: 'ready'; url: string }
  /** Its listener is closed (the supervisor's connection hand-out no longer includes it). */
  | { openrms: 'not-accepting' }
  /** Start-up failed: what main.ts would have printed and the code it would have exited with. */
  | { openrms: 'fatal'; code: number; message: string }
  /** This process's metrics, prom-client's `getMetricsAsJSON()`. */
  | { openrms: 'metrics'; id: number; metrics?: object[]; error?: string }
  /** A /metrics request reached this worker: the supervisor answers with everyone's. */
  | { openrms: 'scrape'; id: number };

function isOurs(m: unknown): boolean {
  return typeof m === 'object' && m !== null && typeof (m as { openrms?: unknown }).openrms === 'string';
}

export function isToWorker(m: unknown): m is ToWorker {
  return isOurs(m);
}

export function isToSupervisor(m: unknown): m is ToSupervisor {
  return isOurs(m);
}
