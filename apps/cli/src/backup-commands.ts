import { readSecretEnv, readTextFile } from '@openrms/config';
import { backupConfigurationDatabase, exportClusterKey, importPublishingDomain, listPublishingDomains, removePublishingDomain, restoreConfigurationDatabase } from '@openrms/issuance';
import { type Command, database, databaseUrlOf, flag, str } from './command';

const keyPasswordEnv = { type: 'string', required: true, placeholder: 'VAR', help: 'Environment variable holding this cluster’s key password' } as const;
const force = { type: 'boolean', help: 'Replace an existing file' } as const;

/** Backup and disaster recovery (docs/operations.md): database snapshots, key export, trusted publishing domains. */
export const backupCommands: Command[] = [
  {
    path: ['backup'],
    summary: 'Write a consistent snapshot of a SQLite configuration database (mode 0600); PostgreSQL and SQL Server use their own tools.',
    options: {
      database,
      out: { type: 'string', required: true, placeholder: 'FILE', help: 'Backup file to write' },
      force,
    },
    async run(args, io) {
      const r = await backupConfigurationDatabase({ databaseUrl: databaseUrlOf(args), outFile: str(args, 'out')!, force: flag(args, 'force') });
      io.out(`backed up ${r.clusterKind} cluster ${r.clusterId} (${r.clusterName}, schema ${r.schemaVersion}) to ${r.file}, ${r.bytes} bytes`);
      io.out('the cluster key in it is wrapped with the cluster key password: keep that password apart from the backup');
    },
  },
  {
    path: ['restore'],
    summary: 'Replace a SQLite configuration database with a backup, after checking the backup; stop every member first.',
    options: {
      in: { type: 'string', required: true, placeholder: 'FILE', help: 'Backup file made by rmsctl backup' },
      database: { ...database, placeholder: 'sqlite:PATH', help: 'The SQLite database to (re)create' },
      force: { type: 'boolean', help: 'Replace an existing database (no member may be running)' },
    },
    async run(args, io) {
      const r = await restoreConfigurationDatabase({ inFile: str(args, 'in')!, databaseUrl: databaseUrlOf(args), force: flag(args, 'force') });
      io.out(`restored ${r.clusterKind} cluster ${r.clusterId} (${r.clusterName}, schema ${r.schemaVersion}) into ${r.file}${r.replaced ? ', replacing the database that was there' : ''}`);
      io.out('start the members with the cluster key password of the backed-up cluster');
    },
  },
  {
    path: ['key', 'export'],
    summary: 'Export the cluster key (encrypted PKCS#8 under a new password), SLC chain and identity to one PEM file, for a trusted publishing domain elsewhere.',
    options: {
      database,
      'key-password-env': keyPasswordEnv,
      out: { type: 'string', required: true, placeholder: 'FILE', help: 'Export file to write (mode 0600)' },
      'password-env': { type: 'string', required: true, placeholder: 'VAR', help: 'Environment variable holding the password for the export file (at least 12 characters)' },
      force,
    },
    async run(args, io) {
      const r = await exportClusterKey({
        databaseUrl: databaseUrlOf(args),
        keyPassword: readSecretEnv(str(args, 'key-password-env'), 'cluster key password'),
        exportPassword: readSecretEnv(str(args, 'password-env'), 'export password'),
        outFile: str(args, 'out')!,
        force: flag(args, 'force'),
      });
      io.out(`exported the key of cluster ${r.clusterId} (sha256:${r.publicKeySha256}) with an SLC chain of ${r.chainLength} to ${r.file}`);
    },
  },
  {
    path: ['key', 'import'],
    summary: 'Import another cluster’s key export as a trusted publishing domain (the same as rmsctl trust publishing-domain import).',
    options: {
      database,
      'key-password-env': keyPasswordEnv,
      in: { type: 'string', required: true, placeholder: 'FILE', help: 'Export file made by rmsctl key export' },
      'password-env': { type: 'string', required: true, placeholder: 'VAR', help: 'Environment variable holding the export file’s password' },
    },
    async run(args, io) {
      const d = await importPublishingDomain({
        databaseUrl: databaseUrlOf(args),
        keyPassword: readSecretEnv(str(args, 'key-password-env'), 'cluster key password'),
        exportText: readTextFile(str(args, 'in')!, 'key export'),
        exportPassword: readSecretEnv(str(args, 'password-env'), 'export password'),
      });
      io.out(`trusted publishing domain ${d.name} (${d.url}) imported: server ${d.serverGuid}, key sha256:${d.publicKeySha256}`);
      io.out('running members license its content from their next refresh (within 5 seconds)');
    },
  },
  {
    path: ['trust', 'publishing-domain', 'remove'],
    summary: 'Stop trusting a publishing domain: its imported key and SLC chain are removed; its content is no longer licensed here.',
    positionals: ['NAME|GUID|FINGERPRINT'],
    options: {
      database,
      actor: { type: 'string', placeholder: 'NAME', help: 'Who makes the change, for the audit log (default: rmsctl)' },
    },
    async run(args, io) {
      const d = await removePublishingDomain({ databaseUrl: databaseUrlOf(args), which: args.positionals[0]!, actor: str(args, 'actor') ?? 'rmsctl' });
      io.out(`removed trusted publishing domain ${d.name} (${d.serverGuid}), key sha256:${d.publicKeySha256}`);
      io.out('running members stop licensing its content from their next refresh (within 5 seconds)');
    },
  },
  {
    path: ['trust', 'publishing-domain', 'list'],
    summary: 'List the trusted publishing domains: clusters whose content this cluster licenses.',
    options: { database, json: { type: 'boolean', help: 'Print JSON' } },
    async run(args, io) {
      const list = await listPublishingDomains(databaseUrlOf(args));
      if (flag(args, 'json')) {
        io.out(JSON.stringify(list, null, 2));
        return;
      }
      if (list.length === 0) io.out('no trusted publishing domains');
      for (const d of list) {
        io.out(`${d.name.padEnd(24)} ${d.serverGuid} ${d.url} key sha256:${d.publicKeySha256.slice(0, 16)}… imported ${d.importedAt.toISOString()}${d.slcValidUntil ? `, SLC until ${d.slcValidUntil.toISOString()}` : ''}`);
      }
    },
  },
];

// `trust publishing-domain import` names what `key import` does (both stay).
const keyImport = backupCommands.find((c) => c.path.join(' ') === 'key import')!;
backupCommands.splice(backupCommands.indexOf(keyImport) + 1, 0, {
  ...keyImport,
  path: ['trust', 'publishing-domain', 'import'],
  summary: 'Import another cluster’s key export (rmsctl key export) as a trusted publishing domain: this cluster then licenses content published for that cluster.',
});
