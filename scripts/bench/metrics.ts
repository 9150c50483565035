/**
 * What the member itself counts, read from its /metrics (Prometheus text format, as an
 * administrator) before and after each measured part. Every figure is optional: a metric the build
 * does not have yet (the verified-document cache, admission control) reads as undefined, printed n/a.
 */

export interface MetricSample {
  labels: Record<string, string>;
  value: number;
}

export type MetricsSnapshot = Map<string, MetricSample[]>;

function parseLabels(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /(\w+)="((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(s); m; m = re.exec(s)) out[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  return out;
}

export function parseMetrics(text: string): MetricsSnapshot {
  const out: MetricsSnapshot = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    const list = out.get(m[1]!) ?? [];
    list.push({ labels: parseLabels(m[2] ?? ''), value });
    out.set(m[1]!, list);
  }
  return out;
}

/** GET /metrics with an administrator's Basic credentials; undefined when it does not answer 200. */
export async function readMetrics(baseUrl: string, admin: { name: string; password: string }): Promise<MetricsSnapshot | undefined> {
  try {
    const res = await fetch(`${baseUrl}/metrics`, {
      headers: { authorization: `Basic ${Buffer.from(`${admin.name}:${admin.password}`, 'utf8').toString('base64')}` },
      signal: AbortSignal.timeout(10_000),
    });
    if (res.status !== 200) return undefined;
    return parseMetrics(await res.text());
  } catch {
    return undefined;
  }
}

/** The sum of a metric's series whose labels match `where`; undefined when the metric is absent. */
export function sumOf(s: MetricsSnapshot | undefined, name: string, where: Record<string, string | RegExp> = {}): number | undefined {
  const list = s?.get(name);
  if (!list) return undefined;
  let sum = 0;
  for (const { labels, value } of list) {
    const ok = Object.entries(where).every(([k, v]) => (typeof v === 'string' ? labels[k] === v : v.test(labels[k] ?? '')));
    if (ok) sum += value;
  }
  return sum;
}

/** Names of the metrics the bench reads. */
export const METRIC = {
  requests: 'openrms_requests_total',
  cacheLookups: 'openrms_verified_cache_lookups_total',
  cacheEntries: 'openrms_verified_cache_entries',
  rejected: 'openrms_requests_rejected_total',
} as const;

export interface MetricsDelta {
  /** Requests of the operation the member answered as a success during the window. */
  serverOk: number | undefined;
  /** Verified-document cache: hits ÷ lookups during the window. */
  cacheHitRatio: number | undefined;
  cacheLookups: number | undefined;
  /** Entries in the cache at the end. */
  cacheEntries: number | undefined;
  /** Requests admission control answered 503 during the window (queue full, or waited too long). */
  rejected503: number | undefined;
  /** Requests admission control dropped unanswered because their client had hung up while they waited. */
  droppedClientGone: number | undefined;
}

/** The reasons of openrms_requests_rejected_total answered 503 + Retry-After (client_gone is not answered). */
const BUSY = /^(queue_full|wait_timeout)$/;

const delta = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : b - a);

export function metricsDelta(before: MetricsSnapshot | undefined, after: MetricsSnapshot | undefined, operation: string): MetricsDelta {
  const ok = { operation, result: 'ok' };
  const lookups = delta(sumOf(before, METRIC.cacheLookups), sumOf(after, METRIC.cacheLookups));
  const hits = delta(sumOf(before, METRIC.cacheLookups, { result: 'hit' }), sumOf(after, METRIC.cacheLookups, { result: 'hit' }));
  return {
    serverOk: delta(sumOf(before, METRIC.requests, ok), sumOf(after, METRIC.requests, ok)),
    cacheHitRatio: lookups !== undefined && hits !== undefined && lookups > 0 ? hits / lookups : undefined,
    cacheLookups: lookups,
    cacheEntries: sumOf(after, METRIC.cacheEntries),
    rejected503: delta(sumOf(before, METRIC.rejected, { reason: BUSY }), sumOf(after, METRIC.rejected, { reason: BUSY })),
    droppedClientGone: delta(sumOf(before, METRIC.rejected, { reason: 'client_gone' }), sumOf(after, METRIC.rejected, { reason: 'client_gone' })),
  };
}
