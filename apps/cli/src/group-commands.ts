import { RmsError } from '@openrms/domain';
import { changeMembership, listGroups, removeGroup, showGroup } from '@openrms/issuance';
import { type Command, database, databaseUrlOf, flag, type ParsedArgs, str } from './command';
import { printJson, printTable } from './print-table';

const actor = { type: 'string', placeholder: 'NAME', help: 'Who makes the change, for the audit log (default: rmsctl)' } as const;
const json = { type: 'boolean', help: 'Print JSON' } as const;

function positional(args: ParsedArgs, i: number, what: string, usage: string): string {
  const v = args.positionals[i]?.trim();
  if (!v) throw new RmsError('InvalidInput', `name ${what}: ${usage}`);
  return v;
}

const membership = (action: 'add' | 'remove'): Command => ({
  path: ['groups', `${action}-member`],
  summary:
    action === 'add'
      ? 'Add a user or a group (groups nest) to a group; members see it at their next refresh.'
      : 'Remove a direct member from a group. Leaving RMS Administrators without an enabled member is refused.',
  positionals: ['GROUP', 'MEMBER'],
  options: { database, actor, json },
  async run(args, io) {
    const usage = `rmsctl groups ${action}-member GROUP MEMBER`;
    const group = positional(args, 0, 'a group', usage);
    const member = positional(args, 1, 'a member', usage);
    const r = await changeMembership(databaseUrlOf(args), str(args, 'actor') ?? 'rmsctl', { action, group, member });
    if (flag(args, 'json')) return printJson(io, { action, group, member, changed: r.changed });
    if (!r.changed) io.out(`${member} is already a member of ${group}; nothing changed`);
    else io.out(action === 'add' ? `added ${member} to ${group}` : `removed ${member} from ${group}`);
  },
});

export const groupCommands: Command[] = [
  {
    path: ['groups', 'list'],
    summary: 'List the groups of this cluster with their direct members.',
    options: { database, json },
    async run(args, io) {
      const groups = await listGroups(databaseUrlOf(args));
      if (flag(args, 'json')) return printJson(io, groups);
      printTable(
        io,
        ['NAME', 'E-MAIL', 'KIND', 'MEMBERS'],
        groups.map((g) => [
          g.name,
          g.email ?? '-',
          g.implicit ? 'implicit' : g.builtin ? 'built-in' : g.source === 'local' ? 'local' : `${g.source} group`,
          g.implicit ? '(every caller counts)' : g.members.join(', ') || '-',
        ]),
      );
    },
  },
  {
    path: ['groups', 'show'],
    summary: 'Show a group: direct members, members through nested groups, the groups it is in, DACL entries naming it.',
    positionals: ['NAME'],
    options: { database, json },
    async run(args, io) {
      const g = await showGroup(databaseUrlOf(args), positional(args, 0, 'a group', 'rmsctl groups show NAME'));
      if (flag(args, 'json')) return printJson(io, g);
      io.out(`name:       ${g.name}`);
      io.out(`e-mail:     ${g.email ?? '(none)'}`);
      io.out(`kind:       ${g.implicit ? 'implicit (every caller counts; nobody is stored)' : g.builtin ? 'built-in' : g.source === 'local' ? 'local' : `${g.source} group`}`);
      io.out(`member of:  ${g.memberOf.length ? g.memberOf.join(', ') : '(none)'}`);
      io.out(`DACL:       ${g.daclEntries} entr${g.daclEntries === 1 ? 'y' : 'ies'}`);
      io.out(g.members.length ? 'members:' : 'members:    (none)');
      for (const m of g.members) io.out(`  ${m.name}${m.kind === 'group' ? ' (group)' : ''}`);
      if (g.nestedMembers.length) {
        io.out('nested members:');
        for (const m of g.nestedMembers) io.out(`  ${m.name}${m.kind === 'group' ? ' (group)' : ''}  via ${m.via.join(' > ')}`);
      }
    },
  },
  membership('add'),
  membership('remove'),
  {
    path: ['groups', 'remove'],
    summary: 'Remove a group with its memberships and DACL entries (its members stay). Built-in, implicit and the super users group are refused.',
    positionals: ['NAME'],
    options: { database, actor, json },
    async run(args, io) {
      const r = await removeGroup(databaseUrlOf(args), str(args, 'actor') ?? 'rmsctl', positional(args, 0, 'a group', 'rmsctl groups remove NAME'));
      if (flag(args, 'json')) return printJson(io, { removed: true, ...r });
      io.out(`removed group ${r.name} with ${r.members.length} member(s) (they stay) and ${r.daclEntries} DACL entr${r.daclEntries === 1 ? 'y' : 'ies'}`);
    },
  },
];
