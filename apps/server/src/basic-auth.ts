/** Credentials from an HTTP Basic Authorization header, or undefined when absent or malformed. */
export function parseBasicAuth(header: string | undefined): { name: string; password: string } | undefined {
  if (!header) return undefined;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i <= 0) return undefined;
  return { name: decoded.slice(0, i), password: decoded.slice(i + 1) };
}
