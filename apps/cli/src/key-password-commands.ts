import { readSecretEnv } from '@openrms/config';
import { changeClusterKeyPassword } from '@openrms/issuance';
import { type Command, database, databaseUrlOf, flag, str } from './command';
import { printJson } from './print-table';

/** `rmsctl key change-password` (docs/adr/0005-cluster-key-storage.md). */
export const keyPasswordCommands: Command[] = [
  {
    path: ['key', 'change-password'],
    summary: 'Re-wrap the cluster key with a new password in the configuration database; running members keep serving, members started later need the new password.',
    options: {
      database,
      'key-password-env': { type: 'string', required: true, placeholder: 'VAR', help: 'Environment variable holding the current cluster key password' },
      'new-password-env': { type: 'string', required: true, placeholder: 'VAR', help: 'Environment variable holding the new cluster key password (at least 12 characters)' },
      actor: { type: 'string', placeholder: 'NAME', help: 'Who makes the change, for the audit log (default: rmsctl)' },
      json: { type: 'boolean', help: 'Print JSON' },
    },
    async run(args, io) {
      const r = await changeClusterKeyPassword({
        databaseUrl: databaseUrlOf(args),
        currentPassword: readSecretEnv(str(args, 'key-password-env'), 'current cluster key password'),
        newPassword: readSecretEnv(str(args, 'new-password-env'), 'new cluster key password'),
        actor: str(args, 'actor') ?? 'rmsctl',
      });
      if (flag(args, 'json')) return printJson(io, { clusterId: r.clusterId, keyId: r.keyId, changedAt: r.changedAt.toISOString() });
      io.out(`changed the cluster key password of cluster ${r.clusterId}`);
      io.out('running members keep serving; give every member and worker the new password before it restarts');
    },
  },
];
