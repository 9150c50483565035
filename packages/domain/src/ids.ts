import { randomUUID } from 'node:crypto';

/** GUID as XrML writes it: lower-case, in braces. */
export function newBracedGuid(): string {
  return `{${randomUUID()}}`;
}

const GUID_RE = /^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$/;

/** Accepts a GUID with or without braces (both forms appear on the wire); returns it braced, lower-case. */
export function normalizeGuid(s: string): string | undefined {
  const m = GUID_RE.exec(s.trim());
  return m ? `{${m[1]!.toLowerCase()}}` : undefined;
}

export function newId(): string {
  return randomUUID();
}
