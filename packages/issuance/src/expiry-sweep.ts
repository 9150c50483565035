import { type Clock, DAY_MS, RmsError, systemClock } from '@openrms/domain';
import type { Store } from '@openrms/store';
import { SETTINGS } from './settings';

export const DEFAULT_RETENTION_DAYS = 90;
export const DEFAULT_WARN_DAYS: readonly number[] = [30, 7, 1];

export interface ExpirySweepOptions {
  clock?: Clock;
  /** Request-log rows older than this are deleted. */
  retentionDays?: number;
  /** Warn when the SLC ends within this many days; once per threshold and SLC. */
  warnDays?: readonly number[];
}

export interface ExpirySweepResult {
  markedExpired: number;
  /** Human-readable warnings given by this run (each also audited as 'slc.expiry-warning'). */
  warnings: string[];
  purgedLogRows: number;
}

interface WarnedState {
  /** The SLC the thresholds belong to: a renewed SLC starts with none warned. */
  validUntil: string;
  thresholds: number[];
}

/**
 * The periodic housekeeping of a cluster: flags issued documents whose validity ended, warns as the
 * SLC nears its end (30, 7 and 1 days by default, each at most once per SLC, remembered in
 * settings so several workers or members warn once between them), and deletes request-log rows
 * older than the retention period.
 */
export async function runExpirySweep(store: Store, opts: ExpirySweepOptions = {}): Promise<ExpirySweepResult> {
  const clock = opts.clock ?? systemClock;
  const retentionDays = opts.retentionDays ?? DEFAULT_RETENTION_DAYS;
  if (!(retentionDays >= 1)) throw new RmsError('InvalidInput', 'the request-log retention must be at least one day');
  const warnDays = [...new Set(opts.warnDays ?? DEFAULT_WARN_DAYS)].filter((d) => d > 0).sort((a, b) => b - a);
  const now = clock.now();
  const cluster = await store.clusters.get();

  const markedExpired = await store.issued.markExpired(now);

  const active = await store.slcChains.getActive(cluster.id);
  const until = active.validUntil;
  const msLeft = until.getTime() - now.getTime();
  // The tightest threshold reached decides; wider ones it passed count as given (a sweep that
  // first runs 5 days before the end warns once, not for 30 and 7 both).
  const reached = warnDays.filter((d) => msLeft <= d * DAY_MS);
  const warnings: string[] = [];
  if (reached.length > 0) {
    const tightest = reached[reached.length - 1]!;
    await store.transaction(async (tx) => {
      const stored = (await tx.settings.get(SETTINGS.slcWarned)) as Partial<WarnedState> | undefined;
      const given = stored?.validUntil === until.toISOString() && Array.isArray(stored.thresholds) ? stored.thresholds : [];
      if (given.includes(tightest)) return;
      const daysLeft = Math.max(0, Math.floor(msLeft / DAY_MS));
      const text =
        msLeft <= 0
          ? `the server licensor certificate of cluster ${cluster.id} expired at ${until.toISOString()}: clients can no longer get licences; renew it now`
          : `the server licensor certificate of cluster ${cluster.id} ends in ${daysLeft} day(s), at ${until.toISOString()} (warning threshold ${tightest} days); check the SLC renewal job`;
      await tx.settings.set(SETTINGS.slcWarned, { validUntil: until.toISOString(), thresholds: [...new Set([...given, ...reached])].sort((a, b) => b - a) });
      await tx.audit.append({ at: now, actor: 'system', action: 'slc.expiry-warning', target: cluster.id, after: { validUntil: until.toISOString(), daysLeft, threshold: tightest } });
      warnings.push(text);
    });
  }

  const purgedLogRows = await store.requestLog.purgeOlderThan(new Date(now.getTime() - retentionDays * DAY_MS));
  return { markedExpired, warnings, purgedLogRows };
}
