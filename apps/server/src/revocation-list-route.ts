import type { Request, RequestHandler, Response } from 'express';
import type { ClusterRuntime } from '@openrms/issuance';

/** Where members serve the cluster's signed revocation list: the path the SLC's revocation condition names. */
export const REVOCATION_LIST_ROUTE = '/_wmcs/licensing/revocation/:file';

/**
 * GET (and HEAD) of the signed revocation list, without authentication: relying parties fetch it
 * as they fetch a CRL, and what it holds is IDs and public keys, signed with the cluster key. Only
 * this cluster's list exists here; any other name is 404.
 */
export function revocationListHandler(runtime: ClusterRuntime): RequestHandler {
  return (req: Request, res: Response) => {
    const wanted = `${runtime.cluster.id}.xml`.toLowerCase();
    if (String(req.params.file ?? '').toLowerCase() !== wanted) {
      res.status(404).type('text/plain').send('not found');
      return;
    }
    const list = runtime.revocationList;
    if (!list) {
      // A member publishes one within a refresh of starting; until then say when to come back.
      res.set('Retry-After', '5').status(503).type('text/plain').send('the revocation list has not been published yet');
      return;
    }
    res
      .set('Cache-Control', 'public, max-age=300')
      .set('Last-Modified', new Date(list.issuedAt).toUTCString())
      .set('Expires', new Date(list.nextUpdate).toUTCString())
      .set('ETag', `"${list.digest.slice(0, 16)}-${Date.parse(list.issuedAt).toString(36)}"`)
      .type('text/xml; charset=utf-8')
      .send(`<?xml version="1.0" encoding="utf-8"?>\n${list.xml}`);
  };
}
