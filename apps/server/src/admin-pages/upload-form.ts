import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';

/** An SLC chain or a key export is a few tens of KiB; anything near this is a mistake or an attack. */
export const ADMIN_UPLOAD_LIMIT_BYTES = 256 * 1024;

/** A form that uploads one file has a handful of fields. */
const MAX_PARTS = 20;

function refuse(res: Response, status: number, text: string): void {
  // The rest of a refused body is never read: do not let it become the next request.
  res.set('Connection', 'close');
  res.status(status).type('text/plain; charset=utf-8').send(text);
}

/**
 * Reads a form that may carry a file (multipart/form-data), or the same fields urlencoded, into
 * `req.body`: each field as a string, a chosen file as its text ('' when none was chosen). Bounded
 * by ADMIN_UPLOAD_LIMIT_BYTES before anything is parsed; too large is a 413 naming the limit, an
 * unreadable form a 400, and in either case the action never runs. Runs after the same-origin
 * check and before the form-token check, like the plain form parser it stands in for.
 */
export function uploadForm(limit = ADMIN_UPLOAD_LIMIT_BYTES): RequestHandler {
  const raw = express.raw({ type: () => true, limit });
  const urlencoded = express.urlencoded({ extended: false, limit, parameterLimit: MAX_PARTS });
  const tooLarge = `The upload is larger than ${Math.round(limit / 1024)} KiB: this form takes an SLC chain or a key export file, which are far smaller.\n`;

  const parsed = (res: Response, next: NextFunction) => (err?: unknown) => {
    if (!err) return next();
    const e = err as { type?: string; status?: number };
    if (e.type === 'entity.too.large') return refuse(res, 413, tooLarge);
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) return refuse(res, 400, 'The form could not be read.\n');
    next(err);
  };

  return (req: Request, res: Response, next: NextFunction) => {
    // Refused from the announced length at once: the body parsers would first read all of it.
    const declared = Number(req.get('content-length') ?? 0);
    if (declared > limit) return refuse(res, 413, tooLarge);
    const type = (req.get('content-type') ?? '').toLowerCase();
    if (type.startsWith('application/x-www-form-urlencoded')) return urlencoded(req, res, parsed(res, next));
    if (!type.startsWith('multipart/form-data')) return refuse(res, 400, 'The form could not be read: send it as multipart/form-data.\n');
    raw(req, res, (err?: unknown) => {
      if (err) return parsed(res, next)(err);
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      readMultipart(body, req.get('content-type')!).then(
        (fields) => {
          req.body = fields;
          next();
        },
        () => refuse(res, 400, 'The form could not be read.\n'),
      );
    });
  };
}

/** The fields of a multipart body, through the platform's own parser (WHATWG FormData). */
async function readMultipart(body: Buffer, contentType: string): Promise<Record<string, string | string[]>> {
  const bytes = new Uint8Array(body);
  const form = await new globalThis.Request('http://admin-form.invalid/', { method: 'POST', headers: { 'content-type': contentType }, body: bytes }).formData();
  const entries: [string, FormDataEntryValue][] = [];
  form.forEach((value, name) => entries.push([name, value]));
  if (entries.length > MAX_PARTS) throw new Error('too many parts');
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of entries) {
    const text = typeof value === 'string' ? value : await value.text();
    const had = out[name];
    out[name] = had === undefined ? text : Array.isArray(had) ? [...had, text] : [had, text];
  }
  return out;
}
