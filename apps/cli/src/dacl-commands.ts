import { RmsError } from '@openrms/domain';
import { changeDaclAt, type DaclAction, type DaclEntryView, effectiveAccessAt, listDaclAt } from '@openrms/issuance';
import { type Command, type CommandIo, database, databaseUrlOf, flag, type ParsedArgs, str } from './command';
import { printJson } from './print-table';

const endpoint = {
  type: 'string',
  required: true,
  placeholder: 'PATH',
  help: 'The .asmx endpoint, e.g. /_wmcs/certification/ServerCertification.asmx (any case; the /_wmcs prefix may be left out)',
} as const;
const principal = {
  type: 'string',
  required: true,
  placeholder: 'NAME',
  help: 'User or group name, e.g. bob or "RMS Service Group"; with a directory configured, also a directory group name or e-mail',
} as const;
const right = { type: 'string', required: true, placeholder: 'RIGHT', help: 'Read, Execute or FullControl (requests to an endpoint need Execute)' } as const;
const actor = { type: 'string', placeholder: 'NAME', help: 'Who makes the change, for the audit log (default: rmsctl)' } as const;
const json = { type: 'boolean', help: 'Print JSON' } as const;

/** Left-aligned columns, widths from the content, two spaces apart. */
function printTable(io: CommandIo, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  io.out(line(header));
  for (const r of rows) io.out(line(r));
}

const entryRow = (e: DaclEntryView) => [e.endpoint, e.principal, e.principalKind, e.right, e.effect];

async function change(args: ParsedArgs, io: CommandIo, action: DaclAction): Promise<void> {
  const r = await changeDaclAt(databaseUrlOf(args), str(args, 'actor') ?? 'rmsctl', {
    action,
    endpoint: str(args, 'endpoint')!,
    principal: str(args, 'principal')!,
    right: str(args, 'right')!,
    effect: str(args, 'effect'),
  });
  const g = r.directoryGroup;
  if (g?.created) {
    // rmsctl cannot open the directory without the key password: the name is taken on trust.
    io.out(`"${r.principal}" is not a local user or group: created a reference to the ${g.source === 'ad' ? 'Active Directory' : 'LDAP'} group ${g.externalId.startsWith('mail:') ? 'with that e-mail' : 'of that name'}; the directory was not asked whether it exists`);
  }
  if (!r.changed) {
    io.out(`${r.endpoint}: "${r.principal}" already has a ${r.entries[0]!.effect} entry for ${r.right}; nothing changed`);
    return;
  }
  const done = action === 'revoke' ? 'removed' : 'added';
  for (const e of r.entries) io.out(`${r.endpoint}: ${e.effect} ${e.right} for "${e.principal}" ${done}`);
}

export const daclCommands: Command[] = [
  {
    path: ['dacl', 'list'],
    summary: 'List the DACL entries of every endpoint, or of one: endpoint, principal, kind, right, allow/deny.',
    options: { database, endpoint: { ...endpoint, required: false }, json },
    async run(args, io) {
      const rows = await listDaclAt(databaseUrlOf(args), str(args, 'endpoint'));
      if (flag(args, 'json')) return printJson(io, rows);
      if (rows.length === 0) {
        io.out('no DACL entries: nobody may call this endpoint');
        return;
      }
      printTable(io, ['ENDPOINT', 'PRINCIPAL', 'KIND', 'RIGHT', 'EFFECT'], rows.map(entryRow));
    },
  },
  {
    path: ['dacl', 'grant'],
    summary: 'Allow a user or group a right on an endpoint (an allow entry). A deny entry that also matches still wins.',
    options: { database, endpoint, principal, right, actor },
    run: (args, io) => change(args, io, 'grant'),
  },
  {
    path: ['dacl', 'deny'],
    summary: 'Deny a user or group a right on an endpoint (a deny entry); deny wins over any allow, also one through a group.',
    options: { database, endpoint, principal, right, actor },
    run: (args, io) => change(args, io, 'deny'),
  },
  {
    path: ['dacl', 'revoke'],
    summary: 'Remove the allow and/or deny entry of a user or group for a right on an endpoint.',
    options: {
      database,
      endpoint,
      principal,
      right,
      effect: { type: 'string', placeholder: 'allow|deny', help: 'Remove only the allow or only the deny entry (default: both)' },
      actor,
    },
    async run(args, io) {
      const effect = str(args, 'effect');
      if (effect !== undefined && effect !== 'allow' && effect !== 'deny') throw new RmsError('InvalidInput', `--effect must be allow or deny, got "${effect}"`);
      await change(args, io, 'revoke');
    },
  },
  {
    path: ['dacl', 'check'],
    summary: "Show a user's or group's effective rights on an endpoint, and the entries that decide them (deny wins; groups count through any nesting).",
    options: { database, endpoint, principal, json },
    async run(args, io) {
      const a = await effectiveAccessAt(databaseUrlOf(args), str(args, 'endpoint')!, str(args, 'principal')!);
      if (flag(args, 'json')) return printJson(io, a);
      io.out(`${a.principal} (${a.principalKind}${a.disabled ? ', disabled: cannot sign in' : ''}) on ${a.endpoint}`);
      io.out(`member of: ${a.memberOf.length ? a.memberOf.join(', ') : 'none'}`);
      printTable(
        io,
        ['RIGHT', 'ACCESS', 'REASON'],
        a.rights.map((r) => [
          r.right,
          r.allowed ? 'allowed' : 'denied',
          r.decidedBy.length ? `${r.reason}: ${r.decidedBy.map((e) => `${e.effect} ${e.right} for "${e.via}"`).join(', ')}` : r.reason,
        ]),
      );
    },
  },
];
