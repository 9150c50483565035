import { readTextFile } from '@openrms/config';
import { addUserDomain, listUserDomains, removeUserDomain } from '@openrms/issuance';
import { type Command, database, databaseUrlOf, flag, str } from './command';
import { printJson } from './print-table';

const actor = { type: 'string', placeholder: 'NAME', help: 'Who makes the change, for the audit log (default: rmsctl)' } as const;

/** Trusted user domains (PROTOCOL.md §6.1 trustedRacIssuers): other roots whose RACs this cluster accepts. */
export const trustCommands: Command[] = [
  {
    path: ['trust', 'user-domain', 'add'],
    summary: 'Trust another root cluster’s users: this cluster then licenses content to RACs it issued (by e-mail address).',
    options: {
      database,
      'slc-file': {
        type: 'string',
        required: true,
        placeholder: 'FILE',
        help: 'The other root’s public key (what `rmsctl slc show --pem` prints there), its SLC, or its SLC chain leaf first (XrML documents or a JSON array)',
      },
      name: { type: 'string', placeholder: 'NAME', help: 'Name for the domain (default: the SLC’s name)' },
      actor,
      json: { type: 'boolean', help: 'Print JSON' },
    },
    async run(args, io) {
      const d = await addUserDomain({ databaseUrl: databaseUrlOf(args), text: readTextFile(str(args, 'slc-file')!, 'SLC file'), name: str(args, 'name'), actor: str(args, 'actor') ?? 'rmsctl' });
      if (flag(args, 'json')) return printJson(io, d);
      io.out(`trusted user domain ${d.name} added: key sha256:${d.fingerprint}${d.serverGuid ? `, server ${d.serverGuid}` : ''}`);
      io.out('running members accept its rights account certificates from their next refresh (within 5 seconds)');
    },
  },
  {
    path: ['trust', 'user-domain', 'list'],
    summary: 'List the trusted user domains: clusters whose rights account certificates this cluster accepts.',
    options: { database, json: { type: 'boolean', help: 'Print JSON' } },
    async run(args, io) {
      const list = await listUserDomains(databaseUrlOf(args));
      if (flag(args, 'json')) return printJson(io, list);
      if (list.length === 0) io.out('no trusted user domains (only this cluster’s own RACs are accepted)');
      for (const d of list) {
        const what = d.kind === 'root' ? 'root cluster of this licensing-only cluster (cannot be removed)' : `added ${d.addedAt?.toISOString() ?? '?'}`;
        io.out(`${d.name.padEnd(24)} key sha256:${d.fingerprint} ${d.serverGuid ?? '-'} ${what}`);
      }
    },
  },
  {
    path: ['trust', 'user-domain', 'remove'],
    summary: 'Stop trusting a user domain, named by its name or key fingerprint (8 or more leading hex digits will do).',
    positionals: ['NAME|FINGERPRINT'],
    options: { database, actor },
    async run(args, io) {
      const d = await removeUserDomain({ databaseUrl: databaseUrlOf(args), which: args.positionals[0]!, actor: str(args, 'actor') ?? 'rmsctl' });
      io.out(`removed trusted user domain ${d.name} (key sha256:${d.fingerprint})`);
      io.out('running members refuse its rights account certificates from their next refresh (within 5 seconds)');
    },
  },
];
