import { decommissionCluster } from '@openrms/issuance';
import { type Command, database, databaseUrlOf, flag, str } from './command';
import { printJson } from './print-table';

/** `rmsctl cluster decommission` (docs/adr/0013-decommissioning.md). */
export const decommissionCommands: Command[] = [
  {
    path: ['cluster', 'decommission'],
    summary:
      'Decommission the cluster for good: members stop issuing certificates and licences, and AcquireContentKey releases the content key of any PL published for it. Cannot be undone.',
    options: {
      database,
      confirm: { type: 'boolean', help: 'Required: you understand that decommissioning cannot be undone' },
      actor: { type: 'string', placeholder: 'NAME', help: 'Who makes the change, for the audit log (default: rmsctl)' },
      json: { type: 'boolean', help: 'Print JSON' },
    },
    async run(args, io) {
      const r = await decommissionCluster({ databaseUrl: databaseUrlOf(args), confirm: flag(args, 'confirm'), actor: str(args, 'actor') });
      if (flag(args, 'json')) return printJson(io, r);
      if (!r.changed) {
        io.out(`cluster ${r.clusterName} (${r.clusterId}) already is decommissioned; nothing changed`);
        return;
      }
      io.out(`decommissioned cluster ${r.clusterName} (${r.clusterId})`);
      io.out('members stop issuing within one refresh (seconds); AcquireContentKey on decommission/decommission.asmx now answers to those the DACL allows');
    },
  },
];
