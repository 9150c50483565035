import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { buildSoapFault } from '@openrms/soap';
import { RmsError } from '@openrms/domain';

/** Headers a forwarded SOAP request carries on; the caller's credentials go to the root, which authenticates them. */
const REQUEST_HEADERS = ['content-type', 'soapaction', 'authorization', 'accept-encoding'] as const;
const RESPONSE_HEADERS = ['content-type', 'www-authenticate'] as const;

export interface ForwardResult {
  status: number;
  /** The fault name the root answered with, when it did. */
  fault?: string;
}

/**
 * A licensing-only cluster does not certify: it passes certification requests to the root
 * cluster and returns the root's answer (status, body, fault) unchanged. Only a root that cannot
 * be reached becomes a fault of our own.
 */
export async function forwardToRoot(req: Request, res: Response, body: Buffer, target: string, logger: Logger, timeoutMs = 30_000): Promise<ForwardResult> {
  const headers: Record<string, string> = {};
  for (const h of REQUEST_HEADERS) {
    const v = req.get(h);
    if (v !== undefined) headers[h] = v;
  }
  const query = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?')) : '';
  let upstream: globalThis.Response;
  try {
    upstream = await fetch(`${target}${query}`, {
      method: req.method,
      headers,
      ...(req.method === 'POST' ? { body: new Uint8Array(body) } : {}),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'manual',
    });
  } catch (err) {
    logger.warn({ target, err: (err as Error).message, requestId: res.locals.requestId }, 'root cluster unreachable');
    const f = buildSoapFault(
      /application\/soap\+xml/i.test(req.get('content-type') ?? '') ? '1.2' : '1.1',
      new RmsError('UnspecifiedError', 'the root certification cluster cannot be reached'),
      { correlationId: res.locals.requestId as string },
    );
    res.status(502).type(f.contentType).send(f.body);
    return { status: 502, fault: f.faultName };
  }
  const text = Buffer.from(await upstream.arrayBuffer());
  for (const h of RESPONSE_HEADERS) {
    const v = upstream.headers.get(h);
    if (v !== null) res.set(h, v);
  }
  res.status(upstream.status).send(text);
  const fault = upstream.status >= 400 ? /<faultstring>([^:<]+)/.exec(text.toString('utf8'))?.[1] : undefined;
  return { status: upstream.status, ...(fault ? { fault } : {}) };
}
