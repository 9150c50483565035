import { readSecretEnv } from '@openrms/config';
import { clusterStatus, joinCluster, provisionLicensingCluster } from '@openrms/issuance';
import { ClusterClient } from '@openrms/soap';
import { type Command, database, databaseUrlOf, flag, str } from './command';
import { keyProtectionFrom, keyProtectionOptions } from './key-protection-options';
import { printJson } from './print-table';


export const clusterCommands: Command[] = [
  {
    path: ['provision', 'licensing'],
    summary: 'Create a licensing-only cluster: its database and key, and an SLC signed by the root cluster through SubEnroll.',
    options: {
      'root-url': { type: 'string', required: true, placeholder: 'URL', help: 'The root cluster URL (its _wmcs base)' },
      'root-user': { type: 'string', required: true, placeholder: 'NAME', help: 'Account allowed on the root’s SubEnrollService.asmx (e.g. a member of its RMS Service Group)' },
      'root-password-env': { type: 'string', required: true, placeholder: 'VAR', help: 'Environment variable holding that account’s password' },
      database,
      'cluster-url': { type: 'string', required: true, placeholder: 'URL', help: 'Public URL of this licensing-only cluster' },
      'service-account': { type: 'string', required: true, placeholder: 'NAME', help: 'Account this cluster’s servers run as; joins its RMS Service Group' },
      admin: { type: 'string', required: true, placeholder: 'NAME', help: 'First administrator of this cluster' },
      'admin-password-env': { type: 'string', required: true, placeholder: 'VAR', help: 'Environment variable holding the administrator password' },
      'admin-email': { type: 'string', placeholder: 'EMAIL', help: 'Administrator e-mail address' },
      ...keyProtectionOptions,
      'server-name': { type: 'string', placeholder: 'NAME', help: 'Name of this first member (default: the host name)' },
    },
    async run(args, io) {
      const rootUrl = str(args, 'root-url')!;
      const rootCredentials = { name: str(args, 'root-user')!, password: readSecretEnv(str(args, 'root-password-env'), 'root account password') };
      const root = new ClusterClient({ baseUrl: rootUrl.replace(/\/+$/, '').replace(/(\/_wmcs)?$/i, '/_wmcs'), credentials: rootCredentials });
      const r = await provisionLicensingCluster({
        rootUrl,
        root,
        // Kept sealed to the new cluster key, so the worker can renew the SLC with the root later.
        rootCredentials,
        databaseUrl: databaseUrlOf(args),
        clusterUrl: str(args, 'cluster-url')!,
        serviceAccount: str(args, 'service-account')!,
        admin: { name: str(args, 'admin')!, password: readSecretEnv(str(args, 'admin-password-env'), 'administrator password'), email: str(args, 'admin-email') },
        ...keyProtectionFrom(args),
        serverName: str(args, 'server-name'),
      });
      io.out(`provisioned licensing-only cluster ${r.clusterId} at ${r.clusterUrl}`);
      io.out(`SLC signed by ${r.rootUrl}, chain of ${r.chainLength}, valid until ${r.slc.validUntil.toISOString()}`);
    },
  },
  {
    path: ['cluster', 'join'],
    summary: 'Add this server to an existing cluster (root or licensing-only): same database, key and SLC; no enrollment.',
    options: {
      database,
      'service-account': { type: 'string', required: true, placeholder: 'NAME', help: 'Account this server runs as (a principal of the cluster)' },
      'key-password-env': { type: 'string', required: true, placeholder: 'VAR', help: 'Environment variable holding the cluster key password' },
      'server-url': { type: 'string', required: true, placeholder: 'URL', help: 'This server’s own URL, as the load balancer reaches it' },
      'server-name': { type: 'string', placeholder: 'NAME', help: 'Name of this member (default: the host name); pass the same to serve' },
    },
    async run(args, io) {
      const r = await joinCluster({
        databaseUrl: databaseUrlOf(args),
        serviceAccount: str(args, 'service-account')!,
        keyPassword: readSecretEnv(str(args, 'key-password-env'), 'cluster key password'),
        serverUrl: str(args, 'server-url')!,
        serverName: str(args, 'server-name'),
      });
      io.out(`${r.rejoined ? 'rejoined' : 'joined'} ${r.cluster.kind} cluster ${r.cluster.id} as ${r.server.name} (${r.server.url})`);
    },
  },
  {
    path: ['cluster', 'status'],
    summary: 'Show the cluster, its SLC and expiry, and its members with their last heartbeat.',
    options: { database, json: { type: 'boolean', help: 'Print JSON' } },
    async run(args, io) {
      const s = await clusterStatus(databaseUrlOf(args));
      if (flag(args, 'json')) return printJson(io, s);
      io.out(`cluster:     ${s.cluster.kind} ${s.cluster.id} ${s.cluster.url}${s.rootUrl ? ` (root: ${s.rootUrl})` : ''}`);
      io.out(`SLC:         ${s.slc.subject}, issued by ${s.slc.issuer}, chain of ${s.slc.chainLength}`);
      io.out(`valid until: ${s.slc.validUntil.toISOString()} (${s.slc.daysLeft} days left)`);
      io.out('members:');
      for (const m of s.members) {
        io.out(`  ${m.name.padEnd(24)} ${m.url.padEnd(40)} ${(m.serviceAccount ?? '-').padEnd(16)} ${m.lastHeartbeatAt ? m.lastHeartbeatAt.toISOString() : 'never'} ${m.alive ? 'alive' : 'stale'}`);
      }
    },
  },
];
