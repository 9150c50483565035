/** What every protocol adapter needs of the HTTP layer's context: who is calling. */
export interface CallerContext {
  requestId: string;
  principal: { id: string; name: string; email: string };
  /** Aborted when the client has gone (the connection closed before the answer). */
  signal?: AbortSignal;
}
