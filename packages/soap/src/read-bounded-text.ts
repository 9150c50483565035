/** Why a response body was not read: larger than allowed (declared or as it arrived), or not UTF-8. */
export type BoundedReadFailure = { kind: 'too-large'; declared?: number } | { kind: 'not-utf8' };

/**
 * Reads a fetch response body as UTF-8 text, at most `maxBytes`: refused from a declared
 * Content-Length before reading, and as soon as the bytes received pass the limit. The caller turns
 * a failure into its own error (the server-to-server clients and the rms client differ in kind).
 */
export async function readBoundedText(res: Response, maxBytes: number, fail: (why: BoundedReadFailure) => Error): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw fail({ kind: 'too-large', declared });
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw fail({ kind: 'too-large' });
    }
    chunks.push(value);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw fail({ kind: 'not-utf8' });
  }
}
