import { readTextFile } from '@openrms/config';
import { listRevocations, type RevocationSummary, revoke, type RevokeTarget, unrevoke } from '@openrms/issuance';
import { type Command, type CommandIo, database, databaseUrlOf, flag, type ParsedArgs, str } from './command';
import { printJson } from './print-table';

const actor = { type: 'string', placeholder: 'NAME', help: 'Who makes the change, for the audit log (default: rmsctl)' } as const;
const reason = { type: 'string', placeholder: 'TEXT', help: 'Why, for the audit log and the admin page (never published)' } as const;
const json = { type: 'boolean', help: 'Print JSON' } as const;

const file = (args: ParsedArgs, name: string, what: string) => {
  const f = str(args, name);
  return f === undefined ? undefined : readTextFile(f, what);
};

function printRevoked(io: CommandIo, r: RevocationSummary, args: ParsedArgs): void {
  if (flag(args, 'json')) return printJson(io, r);
  io.out(`revoked ${r.kind} by ${r.match} ${r.value}${r.subject ? ` (${r.subject})` : ''}: revocation ${r.id}`);
  io.out('every member refuses it from its next refresh (within 5 seconds) and publishes a new signed revocation list');
}

function certificateCommand(kind: 'RAC' | 'CLC'): Command {
  const what = kind === 'RAC' ? 'rights account certificate' : 'client licensor certificate';
  return {
    path: ['revoke', kind.toLowerCase()],
    summary: `Revoke a ${what} (${kind}) by its certificate ID, its file, or its public key; --by-key revokes every ${kind} with that key.`,
    options: {
      database,
      id: { type: 'string', placeholder: 'GUID', help: `The ${kind}'s certificate ID (its DESCRIPTOR ID)` },
      file: { type: 'string', placeholder: 'FILE', help: `The ${kind} (XrML), or its chain leaf first (XrML documents or a JSON array)` },
      'key-file': { type: 'string', placeholder: 'PEMFILE', help: `The ${kind}'s public key in PEM: revokes every ${kind} with that key` },
      'by-key': { type: 'boolean', help: `With --file: revoke the ${kind}'s key rather than this one certificate` },
      reason,
      actor,
      json,
    },
    async run(args, io) {
      const target: RevokeTarget = { kind, id: str(args, 'id'), file: file(args, 'file', `${kind} file`), keyPem: file(args, 'key-file', 'key file'), byKey: flag(args, 'by-key') };
      printRevoked(io, await revoke(databaseUrlOf(args), str(args, 'actor') ?? 'rmsctl', { target, reason: str(args, 'reason') }), args);
    },
  };
}

/** Revocation (PROTOCOL.md §6.6, docs/adr/0015-revocation.md): what the cluster refuses, and lists in its signed revocation list. */
export const revokeCommands: Command[] = [
  certificateCommand('RAC'),
  certificateCommand('CLC'),
  {
    path: ['revoke', 'pl'],
    summary: 'Revoke every licence for one piece of content: its issuance licence’s content ID, or the PL file.',
    options: {
      database,
      'content-id': { type: 'string', placeholder: 'GUID', help: 'The content ID (the PL’s WORK OBJECT ID)' },
      file: { type: 'string', placeholder: 'FILE', help: 'The issuance licence (XrML), or its chain leaf first' },
      reason,
      actor,
      json,
    },
    async run(args, io) {
      const target: RevokeTarget = { kind: 'PL', contentId: str(args, 'content-id'), file: file(args, 'file', 'PL file') };
      printRevoked(io, await revoke(databaseUrlOf(args), str(args, 'actor') ?? 'rmsctl', { target, reason: str(args, 'reason') }), args);
    },
  },
  {
    path: ['revoke', 'slc'],
    summary: 'Revoke a licensing cluster’s (or a trusted domain’s) SLC by its server ID (its cluster ID) or its file; it is not signed again.',
    options: {
      database,
      'server-id': { type: 'string', placeholder: 'GUID', help: 'The SLC’s server ID (a cluster ID, with or without braces)' },
      file: { type: 'string', placeholder: 'FILE', help: 'The SLC (XrML), or its chain leaf first: revokes its server ID and its key' },
      reason,
      actor,
      json,
    },
    async run(args, io) {
      const target: RevokeTarget = { kind: 'SLC', serverId: str(args, 'server-id'), file: file(args, 'file', 'SLC file') };
      printRevoked(io, await revoke(databaseUrlOf(args), str(args, 'actor') ?? 'rmsctl', { target, reason: str(args, 'reason') }), args);
    },
  },
  {
    path: ['revoke', 'list'],
    summary: 'List what this cluster has revoked.',
    options: { database, json },
    async run(args, io) {
      const list = await listRevocations(databaseUrlOf(args));
      if (flag(args, 'json')) return printJson(io, list);
      if (list.length === 0) io.out('nothing is revoked');
      for (const r of list) {
        io.out(`${r.id}  ${r.kind.padEnd(3)} ${r.match.padEnd(7)} ${r.value}  ${r.revokedAt.toISOString()} by ${r.revokedBy}${r.subject ? `  ${r.subject}` : ''}${r.reason ? `  (${r.reason})` : ''}`);
      }
    },
  },
  {
    path: ['revoke', 'remove'],
    summary: 'Lift a revocation, named by its id from `revoke list` (8 or more leading characters will do). Cached lists elsewhere still refuse until they age out.',
    positionals: ['ID'],
    options: { database, actor, json },
    async run(args, io) {
      const r = await unrevoke(databaseUrlOf(args), str(args, 'actor') ?? 'rmsctl', args.positionals[0]!);
      if (flag(args, 'json')) return printJson(io, r);
      io.out(`lifted the revocation of ${r.kind} ${r.match} ${r.value}`);
      io.out('members accept it again from their next refresh (within 5 seconds); clients holding the old list refuse it until their copy ages out');
    },
  },
];
