import { BUILTIN_GROUPS } from '@openrms/domain';
import { clusterStatusIn, listPublishingDomainsIn, listUserDomainsIn, MEMBER_STALE_MS } from '@openrms/issuance';
import { h, href } from './html';
import type { Page } from './page-context';

/** Characters a POSIX shell reads literally; anything else gets single quotes. */
const shellWord = (s: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export const overviewPage: Page = {
  key: 'overview',
  title: 'Global administration',
  async render(ctx) {
    const { store } = ctx.deps;
    const o = await clusterStatusIn(store);
    let serviceAccount = o.serviceAccounts[0];
    if (!serviceAccount) {
      const svcGroup = await store.principals.findByName(BUILTIN_GROUPS.serviceGroup);
      serviceAccount = svcGroup ? (await store.principals.membersOf(svcGroup.id)).find((m) => m.kind === 'user')?.name : undefined;
    }
    const sqlite = o.databaseDisplayUrl.startsWith('sqlite:');
    // Where the cluster key is kept, and a test signature now (the HSM status): never a password or PIN.
    const key = ctx.deps.runtime.keyStatus();
    const p = key.protection;
    const secretVar = p.kind === 'pkcs11' ? 'RMS_PKCS11_PIN' : 'RMS_KEY_PASSWORD';
    const join = [
      'pnpm rmsctl cluster join',
      `--database ${shellWord(o.databaseDisplayUrl)}`,
      `--service-account ${serviceAccount ? shellWord(serviceAccount) : 'SERVICE_ACCOUNT'}`,
      `--key-password-env ${secretVar}`,
      '--server-url https://NEW-MEMBER.example:8443',
      '--server-name NEW-MEMBER',
    ].join(' \\\n    ');
    const serve = `pnpm rmsctl serve --database ${shellWord(o.databaseDisplayUrl)} --listen 0.0.0.0:8443 ${p.kind === 'pkcs11' ? '--pkcs11-pin-env' : '--key-password-env'} ${secretVar} --server-name NEW-MEMBER`;
    const members = o.members.map(
      (m) => h`<tr><td>${m.name}${m.id === ctx.deps.runtime.serverId ? h` <span class="tag">this server</span>` : ''}</td><td class="mono">${m.url}</td>
        <td>${m.serviceAccount ?? '—'}</td><td>${m.joinedAt.toISOString().slice(0, 10)}</td><td>${m.lastHeartbeatAt ? m.lastHeartbeatAt.toISOString().replace('T', ' ').slice(0, 19) + 'Z' : 'never'}</td>
        <td class="${m.alive ? 'alive' : 'stale'}">${m.alive ? 'alive' : 'stale'}</td></tr>`,
    );
    const days = o.slc.daysLeft;
    const [userDomains, publishingDomains] = await Promise.all([listUserDomainsIn(store), listPublishingDomainsIn(store)]);
    const userRows = userDomains.map(
      (d) => h`<tr><td>${d.name}${d.kind === 'root' ? h` <span class="tag">root of this cluster</span>` : ''}</td><td class="mono">${d.fingerprint}</td><td class="mono">${d.serverGuid ?? '—'}</td><td>${d.addedAt ? d.addedAt.toISOString().slice(0, 10) : 'provisioning'}</td></tr>`,
    );
    const publishingRows = publishingDomains.map(
      (d) => h`<tr><td>${d.name}</td><td class="mono">${d.url}</td><td class="mono">${d.publicKeySha256}</td><td class="mono">${d.serverGuid}</td><td>${d.importedAt.toISOString().slice(0, 10)}</td></tr>`,
    );
    return h`
<h2>Cluster</h2>
<table class="kv">
<tr><th>Kind</th><td>${o.cluster.kind === 'root' ? 'root certification cluster' : 'licensing-only cluster'}</td></tr>
<tr><th>Name</th><td>${o.cluster.name}</td></tr>
<tr><th>Cluster id</th><td class="mono">${o.cluster.id}</td></tr>
<tr><th>URL</th><td class="mono">${o.cluster.url}</td></tr>
${o.rootUrl ? h`<tr><th>Root cluster</th><td class="mono">${o.rootUrl}</td></tr>` : ''}
<tr><th>Configuration database</th><td class="mono">${o.databaseDisplayUrl}</td></tr>
</table>
<h2>Server licensor certificate</h2>
<table class="kv">
<tr><th>Subject</th><td>${o.slc.subject}</td></tr>
<tr><th>Issuer</th><td>${o.slc.issuer}</td></tr>
<tr><th>Valid from</th><td>${o.slc.validFrom.toISOString()}</td></tr>
<tr><th>Valid until</th><td>${o.slc.validUntil.toISOString()}</td></tr>
<tr><th>Days left</th><td class="${days < 30 ? 'no' : 'yes'}">${days}</td></tr>
<tr><th>Chain length</th><td>${o.slc.chainLength}${o.slc.chainLength > 1 ? ' (signed by the root cluster)' : ' (self-signed root)'}</td></tr>
<tr><th>Key fingerprint</th><td><span class="mono" id="key-fingerprint">${o.slc.keyFingerprint}</span> <span class="muted">SHA-256 of the public key (SPKI); <code>rmsctl slc show</code> and <code>rms</code> print the same</span></td></tr>
${o.slc.chainLength > 1 ? h`<tr><th>Root key fingerprint</th><td><span class="mono" id="root-key-fingerprint">${o.slc.rootKeyFingerprint}</span> <span class="muted">the root cluster's key, which clients trust</span></td></tr>` : ''}
</table>
<h2 id="key-protection">Cluster key</h2>
<table class="kv" id="hsm-status">
<tr><th>Protection</th><td id="key-protection-kind">${p.kind === 'pkcs11' ? 'PKCS#11 token (HSM): generated there, never extractable' : 'wrapped with the cluster key password in the configuration database'}</td></tr>
${p.kind === 'pkcs11'
  ? h`<tr><th>PKCS#11 module</th><td class="mono">${p.module}</td></tr>
<tr><th>Token label</th><td class="mono">${p.token}</td></tr>
<tr><th>Key label</th><td class="mono">${p.keyLabel}</td></tr>
<tr><th>Key id</th><td class="mono">${p.keyId}</td></tr>
<tr><th>Unsealing</th><td>${p.unsealMechanism === 'CKM_RSA_X_509' ? 'raw RSA in the token (CKM_RSA_X_509), OAEP-SHA-256 padding checked by OpenRMS: the token has no OAEP with SHA-256' : 'RSA-OAEP with SHA-256 in the token (CKM_RSA_PKCS_OAEP)'}</td></tr>`
  : ''}
<tr><th>Reachable</th><td id="key-reachable" class="${key.reachable ? 'yes' : 'no'}">${key.reachable ? 'yes: a test signature by this server verified just now' : `no: ${key.error ?? 'the key did not sign'}`}</td></tr>
</table>
<h2>Members</h2>
<p class="hint">A member is alive while its heartbeat (every 5 s) is younger than ${MEMBER_STALE_MS / 1000} s.</p>
<table><tr><th>Name</th><th>URL</th><th>Service account</th><th>Joined</th><th>Last heartbeat</th><th>State</th></tr>${members}</table>
<h2 id="trust">Trust</h2>
<p class="hint">Changed on the <a href="${href('/trust')}">Trust</a> page, or with <code>rmsctl trust user-domain add|list|remove</code> and <code>rmsctl trust publishing-domain import|list|remove</code>. Fingerprints are SHA-256 of the public key (SPKI).</p>
<h3>Trusted user domains</h3>
<p class="hint">Other clusters whose rights account certificates this cluster accepts (licensed by e-mail address), besides its own.</p>
${userRows.length ? h`<table id="trusted-user-domains"><tr><th>Name</th><th>Key fingerprint</th><th>Server</th><th>Added</th></tr>${userRows}</table>` : h`<p id="trusted-user-domains">None.</p>`}
<h3>Trusted publishing domains</h3>
<p class="hint">Other clusters whose published content this cluster licenses with their imported key.</p>
${publishingRows.length ? h`<table id="trusted-publishing-domains"><tr><th>Name</th><th>URL</th><th>Key fingerprint</th><th>Server</th><th>Imported</th></tr>${publishingRows}</table>` : h`<p id="trusted-publishing-domains">None.</p>`}
<h2>Adding a server to this cluster</h2>
<p>On the new server, with ${p.kind === 'pkcs11' ? h`the token's user PIN in the environment variable <code>RMS_PKCS11_PIN</code>, the PKCS#11 module at <code>${p.module}</code> and the token reachable,` : h`the cluster key password in the environment variable <code>RMS_KEY_PASSWORD</code>`}
(and the database password in place of <code>***</code>, if the URL has one), join the cluster, then start it:</p>
<pre>${join}</pre>
<pre>${serve}</pre>
<p class="hint">Replace <code>https://NEW-MEMBER.example:8443</code> with the URL the load balancer sends traffic to, and <code>NEW-MEMBER</code> with the member's name.
No enrollment is needed: the new member opens the cluster key and serves the same SLC.
${sqlite ? 'This cluster uses SQLite, which serves one host only: members on other machines need a PostgreSQL or SQL Server database.' : ''}</p>
`;
  },
};
