import type { IncomingMessage } from 'node:http';

/** Why a body was not read: too large (413) or broken (400: aborted, bad length). */
export class BodyError extends Error {
  constructor(
    readonly status: 413 | 400,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Reads a request body up to `limit` bytes. Unlike a parser that drains the rest of an oversize
 * body before answering, it refuses at once: from the declared Content-Length before reading
 * anything, and from the bytes received as soon as they pass the limit (chunked bodies). The
 * caller answers 413 with `Connection: close` and the socket is dropped, so a client announcing
 * 16 MiB and trickling bytes holds nothing of ours.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined) {
    if (!/^\d{1,15}$/.test(declared)) return Promise.reject(new BodyError(400, 'Content-Length is not a number'));
    if (Number(declared) > limit) {
      req.pause();
      return Promise.reject(new BodyError(413, `request body of ${declared} bytes is larger than ${limit} bytes`));
    }
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let done = false;
    const finish = (err?: BodyError) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      if (err) {
        req.pause();
        reject(err);
      } else resolve(Buffer.concat(chunks, received));
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) return finish(new BodyError(413, `request body larger than ${limit} bytes`));
      chunks.push(chunk);
    };
    const onEnd = () => finish();
    const onError = () => finish(new BodyError(400, 'the request body could not be read'));
    const onAborted = () => finish(new BodyError(400, 'the client went away while sending the body'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}
