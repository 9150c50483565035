import { RmsError } from './rms-error';

/** A protocol version "a.b.c.d", most significant part first. */
export type ProtocolVersion = readonly [number, number, number, number];

const VERSION_RE = /^(\d{1,9})\.(\d{1,9})\.(\d{1,9})\.(\d{1,9})$/;

export function parseVersion(s: string | undefined | null): ProtocolVersion | undefined {
  if (s === undefined || s === null) return undefined;
  const m = VERSION_RE.exec(s.trim());
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
}

export function compareVersions(a: ProtocolVersion, b: ProtocolVersion): number {
  for (let i = 0; i < 4; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export function formatVersion(v: ProtocolVersion): string {
  return v.join('.');
}

export const SERVER_MIN_VERSION: ProtocolVersion = [1, 0, 0, 0];
/** Batching (>= 1.1.0.0) is the only documented versioned capability; see docs/adr. */
export const SERVER_MAX_VERSION: ProtocolVersion = [1, 1, 0, 0];

export interface NegotiatedVersion {
  clientMin: ProtocolVersion;
  clientMax: ProtocolVersion;
  /** The version the exchange runs at: the lower of the client's maximum and ours. */
  effective: ProtocolVersion;
  batchingAllowed: boolean;
}

/**
 * Applies the VersionData rules: both values present and well-formed, min <= max,
 * and the client's maximum not above ours.
 */
export function negotiateVersion(
  min: string | undefined,
  max: string | undefined,
  server: { min: ProtocolVersion; max: ProtocolVersion } = { min: SERVER_MIN_VERSION, max: SERVER_MAX_VERSION },
): NegotiatedVersion {
  const clientMin = parseVersion(min);
  const clientMax = parseVersion(max);
  if (!clientMin || !clientMax) {
    throw new RmsError('MalformedDataVersion', 'VersionData MinimumVersion and MaximumVersion must both be a.b.c.d');
  }
  if (compareVersions(clientMin, clientMax) > 0) {
    throw new RmsError('MalformedDataVersion', 'VersionData MinimumVersion is above MaximumVersion');
  }
  if (compareVersions(clientMax, server.max) > 0) {
    throw new RmsError(
      'UnsupportedDataVersion',
      `VersionData MaximumVersion ${formatVersion(clientMax)} is above the server's ${formatVersion(server.max)}`,
    );
  }
  if (compareVersions(clientMax, server.min) < 0) {
    throw new RmsError(
      'UnsupportedDataVersion',
      `VersionData MaximumVersion ${formatVersion(clientMax)} is below the server's ${formatVersion(server.min)}`,
    );
  }
  const effective = clientMax;
  return { clientMin, clientMax, effective, batchingAllowed: compareVersions(effective, [1, 1, 0, 0]) >= 0 };
}
