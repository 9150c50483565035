/**
 * The figures the project aims for (issue 12, "What to reach"), printed next to what a run measured.
 * They are information for the reader, never a pass or fail: a run on a shared or different
 * machine says little about them on its own.
 */
import { fixed, grouped, percent } from './report';

export const WHAT_TO_REACH = {
  acquireWarmPerSecond: 600,
  /** …that is, this share of the all-core raw RSA-2048 signing rate of the same run. */
  acquireWarmOfRaw: 0.09,
  /** The long-term goal for the same ratio. */
  longTermOfRaw: 0.3,
  acquireColdPerSecond: 150,
  certifyWarmPerSecond: 500,
  p99At16Ms: 50,
  p99At64Ms: 250,
  longestWaitAt256Ms: 2000,
  rssPerWorkerMB: 300,
  twoMembersRatio: 1.8,
} as const;

export interface TargetRow {
  mix: string;
  connections: number;
  okPerSecond: number;
  p99Ms: number;
  longestWaitMs: number;
  rssWorkerMaxMB: number | undefined;
}

export interface TargetInput {
  rows: TargetRow[];
  rawSignsPerSecond: number;
  /** Two members ÷ one behind HAProxy, when measured. */
  twoMembersRatio: number | undefined;
  /** Why the two-member ratio is what it is on this machine (shared cores), for the table. */
  twoMembersNote?: string;
}

function best(rows: TargetRow[], mix: string): TargetRow | undefined {
  return rows.filter((r) => r.mix === mix).sort((a, b) => b.okPerSecond - a.okPerSecond)[0];
}

function atConnections(rows: TargetRow[], conns: number, f: (r: TargetRow) => string): string {
  const list = rows.filter((r) => r.connections === conns);
  return list.length ? list.map((r) => `${r.mix}: ${f(r)}`).join('; ') : `not measured (no row at ${conns} connections)`;
}

/** [figure, what to reach, measured] rows for the report. */
export function whatToReach(t: TargetInput): string[][] {
  const T = WHAT_TO_REACH;
  const rate = (mix: string) => {
    const r = best(t.rows, mix);
    return r ? `${fixed(r.okPerSecond, 1)}/s at ${r.connections} conns (${percent(r.okPerSecond / t.rawSignsPerSecond, 2)} of raw)` : 'not measured';
  };
  const rss = t.rows.filter((r) => r.rssWorkerMaxMB !== undefined);
  const rssAt = (conns: number) => rss.filter((r) => r.connections === conns);
  const rssRows = rssAt(256).length ? rssAt(256) : rss;
  return [
    [
      'AcquireLicense warm, licences/s per member',
      `≥ ${T.acquireWarmPerSecond}/s, ≥ ${percent(T.acquireWarmOfRaw, 0)} of raw (long term ${percent(T.longTermOfRaw, 0)}; raw here: ${grouped(t.rawSignsPerSecond)}/s → ${grouped(T.acquireWarmOfRaw * t.rawSignsPerSecond)}/s)`,
      rate('AcquireLicense warm'),
    ],
    ['AcquireLicense cold (a new PL each request), licences/s', `≥ ${T.acquireColdPerSecond}/s`, rate('AcquireLicense cold')],
    ['Certify warm, RACs/s per member', `≥ ${T.certifyWarmPerSecond}/s`, rate('Certify warm')],
    ['p99 at 16 connections', `< ${T.p99At16Ms} ms`, atConnections(t.rows, 16, (r) => `${fixed(r.p99Ms, 0)} ms`)],
    ['p99 at 64 connections', `< ${T.p99At64Ms} ms`, atConnections(t.rows, 64, (r) => `${fixed(r.p99Ms, 0)} ms`)],
    ['longest wait at 256 connections', `≤ ${grouped(T.longestWaitAt256Ms)} ms (503 + Retry-After beyond capacity)`, atConnections(t.rows, 256, (r) => `${grouped(r.longestWaitMs)} ms`)],
    [
      `RSS per worker process${rssAt(256).length ? ' at 256 connections' : ''}`,
      `< ${T.rssPerWorkerMB} MB`,
      rssRows.length ? `max ${fixed(Math.max(...rssRows.map((r) => r.rssWorkerMaxMB!)), 0)} MB` : 'n/a',
    ],
    [
      'two members ÷ one, behind HAProxy',
      `≥ ${T.twoMembersRatio}×`,
      t.twoMembersRatio === undefined ? 'not measured' : `${fixed(t.twoMembersRatio, 2)}×${t.twoMembersNote ? ` (${t.twoMembersNote})` : ''}`,
    ],
  ];
}
