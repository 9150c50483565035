import { endpointPath, RmsError, SERVICE_PATHS, WMCS_PREFIX } from '@openrms/domain';
import { decommissionClusterIn, listDacl } from '@openrms/issuance';
import { csrfField, h, href, when } from './html';
import type { Action, Page } from './page-context';

const ENDPOINT = WMCS_PREFIX + SERVICE_PATHS.decommission;
/** The audit window searched for AcquireContentKey calls, newest first, as the audit page does. */
const AUDIT_SCAN = 5000;
const SHOW_CALLS = 100;

/**
 * Whether the cluster is being retired, what that means, the one-way switch (`rmsctl cluster
 * decommission --confirm`: the administrator types the cluster's name, checked on the server), who
 * may call AcquireContentKey and the calls it answered or refused, from the audit log
 * (docs/adr/0013-decommissioning.md).
 */
export const decommissionPage: Page = {
  key: 'decommission',
  title: 'Decommissioning',
  async render(ctx) {
    const { store } = ctx.deps;
    const cluster = await store.clusters.get();
    const audit = await store.audit.list({ limit: AUDIT_SCAN });
    const switched = audit.find((a) => a.action === 'cluster.decommission');
    const calls = audit.filter((a) => a.action === 'content-key.release' || a.action === 'content-key.release.refused').slice(0, SHOW_CALLS);
    const dacl = await listDacl(store, ENDPOINT);
    const callRows = calls.map((a) => {
      const after = (a.after ?? {}) as { contentId?: string | null; claimedContentId?: string; reason?: string };
      const released = a.action === 'content-key.release';
      return h`<tr><td class="when">${when(a.at)}</td><td>${a.actor}</td><td class="mono wrap">${after.contentId ?? (after.claimedContentId ? h`<span class="muted">claims</span> ${after.claimedContentId}` : '—')}</td>
        <td class="${released ? 'yes' : 'no'}">${released ? 'key released' : `refused: ${after.reason ?? 'unknown'}`}</td><td class="mono">${a.correlationId ?? ''}</td></tr>`;
    });
    const daclRows = dacl.map((e) => h`<tr><td>${e.principal}</td><td>${e.principalKind}</td><td>${e.right}</td><td class="${e.effect}">${e.effect}</td></tr>`);
    return h`
<h2>State</h2>
<table class="kv">
<tr><th>Cluster</th><td>${cluster.name} <span class="mono muted">${cluster.id}</span></td></tr>
<tr><th>Decommissioned</th><td id="decommission-state" class="${cluster.decommissioned ? 'no' : 'yes'}">${cluster.decommissioned ? 'yes: this cluster issues nothing and releases content keys' : 'no: in service'}</td></tr>
${switched ? h`<tr><th>Since</th><td>${when(switched.at)} by ${switched.actor}</td></tr>` : ''}
</table>
<h2>What decommissioning does</h2>
<p>A cluster that is being retired can hand out the content keys of everything published for it, so that the content can be decrypted once and kept or protected again elsewhere ([MS-RMSI] AcquireContentKey).
Once decommissioned, every member, within 5 seconds:</p>
<ul>
<li>refuses every certificate and licence request (Certify, client licensor certificates, publishing, use licences, templates) with <code>ClusterDecommissionedException</code>: nobody can open protected content through this cluster any more;</li>
<li>answers AcquireContentKey at <code>${ENDPOINT}</code> with the raw content key of any publishing licence issued for this cluster or one of its trusted publishing domains, <strong>with no rights check</strong>, to whoever the endpoint's DACL lets in; every call is audited.</li>
</ul>
<p><strong>It cannot be undone</strong>, as on Windows: there is no command to bring the cluster back into service (only restoring a backup of the configuration database taken before does), and keys already released cannot be taken back.</p>
${cluster.decommissioned ? '' : h`<form class="box" method="post" action="${href('/decommission')}" id="decommission-form">${csrfField(ctx.csrf)}
<label>To confirm, type the cluster's name, <strong>${cluster.name}</strong><input type="text" name="confirmName" autocomplete="off" required></label>
<button type="submit" class="danger">Decommission this cluster for good</button>
</form>
<p class="hint">The same as <code>pnpm rmsctl cluster decommission --database … --confirm</code>.</p>`}
<h2>Who may call AcquireContentKey</h2>
${daclRows.length ? h`<table id="decommission-dacl"><tr><th>Principal</th><th>Kind</th><th>Right</th><th>Effect</th></tr>${daclRows}</table>` : h`<p id="decommission-dacl" class="muted">No entries: everyone is denied.</p>`}
<p class="hint">Only RMS Service Group until an administrator grants someone on the <a href="${href('/dacl', { endpoint: ENDPOINT })}">DACL page</a> (Execute on <code>${ENDPOINT}</code>).</p>
<h2>AcquireContentKey calls</h2>
<p class="hint">${calls.length} call(s) among the newest ${audit.length} audit entries, newest first (at most ${SHOW_CALLS}); the audit log holds the content id and the caller, never the key.</p>
${callRows.length ? h`<table id="content-key-calls"><tr><th>When</th><th>Caller</th><th>Content id</th><th>Result</th><th>Request id</th></tr>${callRows}</table>` : h`<p id="content-key-calls" class="muted">None.</p>`}`;
  },
};

export const decommissionAction: Action = async (ctx, form) => {
  const typed = form.one('confirmName', "the cluster's name").trim();
  const cluster = await ctx.deps.store.clusters.get();
  if (cluster.decommissioned) return { message: `${cluster.name} already is decommissioned: nothing changed`, redirect: '/decommission' };
  if (typed !== cluster.name) throw new RmsError('InvalidInput', `to decommission, type the cluster's name exactly as shown; nothing was changed`);
  const r = await decommissionClusterIn(ctx.deps.store, ctx.admin.name);
  try {
    await ctx.deps.runtime.refresh();
  } catch {
    // Written: every member, this one too, reads it at its next refresh.
  }
  return {
    message: r.changed ? `Decommissioned ${r.clusterName}: members issue nothing from now on, and AcquireContentKey answers` : `${r.clusterName} already is decommissioned: nothing changed`,
    redirect: '/decommission',
  };
};
