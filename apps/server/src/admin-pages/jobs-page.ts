import { readJobStateIn, SETTINGS } from '@openrms/issuance';
import { brief, h, type Html, when } from './html';
import type { Page } from './page-context';

/** The queue dashboard (queue-routes.ts) lives next to these pages. */
const QUEUE_DASHBOARD = '/_wmcs/admin/queues';

const LABELS: Record<string, string> = {
  [SETTINGS.slcLastRenewal]: 'Last SLC renewal',
  [SETTINGS.slcWarned]: 'SLC expiry warnings given',
};

const isoish = (v: unknown) => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v);

/** Known shapes read nicely; anything else a job writes is shown as it is. */
function describeSetting(key: string, value: unknown): Html {
  if (value === undefined || value === null) return h`<span class="muted">never</span>`;
  if (typeof value === 'object' && !Array.isArray(value)) {
    const v = value as Record<string, unknown>;
    if (key === SETTINGS.slcLastRenewal) {
      return h`at ${isoish(v.at) ? when(String(v.at)) : brief(v.at)}; the renewed SLC is valid until ${isoish(v.validUntil) ? when(String(v.validUntil)) : brief(v.validUntil)}`;
    }
    if (key === SETTINGS.slcWarned) {
      const t = Array.isArray(v.thresholds) ? v.thresholds.join(', ') : brief(v.thresholds);
      return h`for the SLC ending ${isoish(v.validUntil) ? when(String(v.validUntil)) : brief(v.validUntil)}: thresholds ${t} day(s)`;
    }
    return h`${Object.entries(v).map(([k, x]) => h`<span class="tag">${k}: ${isoish(x) ? when(String(x)) : brief(x, 120)}</span>`)}`;
  }
  return h`${brief(value)}`;
}

export const jobsPage: Page = {
  key: 'jobs',
  title: 'Renewal queues',
  async render(ctx) {
    const { runtime, store, jobs, hasQueues } = ctx.deps;
    const state = await readJobStateIn(store);
    const slc = runtime.slc;
    const days = slc.validUntil ? Math.floor((slc.validUntil.getTime() - Date.now()) / 86_400_000) : undefined;
    const where =
      jobs === 'redis' || hasQueues
        ? h`run by BullMQ workers over Redis. The <a href="${QUEUE_DASHBOARD}">queue dashboard</a> shows the queues, their jobs, failures and retries.`
        : jobs === 'in-process'
          ? h`run inside each server on a timer (no Redis configured). The <a href="${QUEUE_DASHBOARD}">queue dashboard</a> says so and shows no queues.`
          : h`shown on the <a href="${QUEUE_DASHBOARD}">queue dashboard</a>.`;
    const settingRows = state.settings.map((s) => h`<tr><th>${LABELS[s.key] ?? s.key}</th><td class="mono">${s.key}</td><td>${describeSetting(s.key, s.value)}</td></tr>`);
    const recentRows = state.recent.map((a) => h`<tr><td class="when">${when(a.at)}</td><td>${a.actor}</td><td>${a.action}</td><td class="wrap">${brief(a.after, 200)}</td></tr>`);
    return h`
<p>The SLC renewal and certificate-expiry jobs are ${where}</p>
<p><a href="${QUEUE_DASHBOARD}"><strong>Open the queue dashboard</strong></a></p>
<h2>Server licensor certificate</h2>
<table class="kv"><tr><th>Valid until</th><td class="when">${when(slc.validUntil)}</td></tr>
<tr><th>Days left</th><td class="${days !== undefined && days < 30 ? 'no' : 'yes'}">${days ?? '—'}</td></tr></table>
<h2>Last runs</h2>
<table><tr><th>What</th><th>Setting</th><th>State</th></tr>${settingRows}</table>
<p class="hint">Renewal writes its last run when it renews the SLC; the expiry sweep writes the warnings it gave. "never" means the job has not recorded anything yet.</p>
<h2>Recent job events (audit)</h2>
${state.recent.length ? h`<table><tr><th>When</th><th>Actor</th><th>Action</th><th>Details</th></tr>${recentRows}</table>` : h`<p class="muted">No renewals, expiry warnings or sub-enrollments recorded yet.</p>`}`;
  },
};
