import { migrateSchema } from '@openrms/issuance';
import { type Command, database, databaseUrlOf, flag } from './command';

export const migrateCommands: Command[] = [
  {
    path: ['migrate'],
    summary: 'Upgrade the configuration database to this version’s schema (stop members and workers, back up first).',
    options: {
      database,
      'dry-run': { type: 'boolean', help: 'Print the schema status and the migrations that would run; change nothing' },
    },
    async run(args, io) {
      const r = await migrateSchema(databaseUrlOf(args), { dryRun: flag(args, 'dry-run') });
      const { before } = r;
      const version = before.codeVersion - before.pending.length;
      io.out(`database:       ${r.database}${r.clusterId ? ` (cluster ${r.clusterId})` : ''}`);
      io.out(`schema version: ${version} (this OpenRMS: ${before.codeVersion})`);
      io.out(`applied:        ${before.applied.join(', ') || '-'}`);
      io.out(`pending:        ${before.pending.join(', ') || '-'}`);
      if (before.pending.length === 0) io.out('the schema is current; nothing to do');
      else if (r.dryRun) io.out(`dry run: would apply ${before.pending.join(', ')}; nothing was changed`);
      else io.out(`applied ${r.ran.join(', ')}; schema version is now ${before.codeVersion}`);
    },
  },
];
