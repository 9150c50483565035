import { readSecretEnv } from '@openrms/config';
import { LdapDirectory } from '@openrms/directory';
import { BUILTIN_GROUPS, isRmsError, RmsError, systemClock } from '@openrms/domain';
import {
  describeUser,
  Identities,
  listUsers,
  LocalDirectory,
  removeUser,
  setUserDisabled,
  setUserPassword,
  showDirectoryIn,
  type UserDescription,
  withIdentities,
  withProvisionedStore,
} from '@openrms/issuance';
import { type Command, type CommandIo, database, databaseUrlOf, flag, type ParsedArgs, str } from './command';
import { printJson, printTable } from './print-table';

const actor = { type: 'string', placeholder: 'NAME', help: 'Who makes the change, for the audit log (default: rmsctl)' } as const;
const json = { type: 'boolean', help: 'Print JSON' } as const;

/** The CLI does not depend on @openrms/store; the store withProvisionedStore hands out. */
type Store = Parameters<Parameters<typeof withProvisionedStore>[1]>[0];

/** What the cluster's own row adds to the Directory port's answer. */
interface RowFacts {
  builtin: boolean;
  racKey: boolean;
}

async function rowFacts(store: Store, principalName: string): Promise<RowFacts> {
  const row = await store.principals.getByName(principalName);
  return { builtin: row.builtin, racKey: (await store.userKeys.find(row.id)) !== undefined };
}

function oneName(args: ParsedArgs, usage: string): string {
  const name = args.positionals[0]?.trim();
  if (!name) throw new RmsError('InvalidInput', `name a user: ${usage}`);
  return name;
}

const SOURCES = { local: 'local accounts', ad: 'Active Directory', ldap: 'LDAP directory' } as const;

function printUser(d: UserDescription & RowFacts, io: CommandIo, note: string | undefined): void {
  io.out(`source:    ${SOURCES[d.source]}${note ? ` (${note})` : ''}`);
  io.out(`name:      ${d.name}${d.displayName ? ` (${d.displayName})` : ''}`);
  io.out(`row:       ${d.principalName}`);
  io.out(`e-mail:    ${d.email ?? '(none: no RAC can be issued)'}`);
  io.out(`aliases:   ${d.aliases.length ? d.aliases.join(', ') : '(none)'}`);
  io.out(`UPN:       ${d.userPrincipalName ?? '—'}`);
  io.out(`DN:        ${d.dn ?? '—'}`);
  io.out(`SID:       ${d.sid ?? '—'}`);
  io.out(`disabled:  ${d.disabled ? 'yes (no sign-on, no RAC, no licence)' : 'no'}`);
  io.out(d.groups.length ? 'groups:' : 'groups:    (none)');
  const width = Math.max(0, ...d.groups.map((g) => g.name.length));
  for (const g of d.groups) {
    const via = g.path.length > 1 ? `  via ${g.path.join(' > ')}` : '';
    io.out(`  ${g.name.padEnd(width)}${g.email ? `  <${g.email}>` : ''}${via}`.trimEnd());
  }
  io.out(`built-in:  ${d.builtinGroups.length ? d.builtinGroups.join(', ') : '(none)'}`);
  io.out(`account:   ${d.builtin ? 'built-in (cannot be removed or disabled)' : 'administered'}`);
  io.out(`RAC key:   ${d.racKey ? 'yes' : 'none yet (made at the first certification)'}`);
}

/**
 * Without the key password the stored bind password stays sealed: only the cluster's own tables
 * answer, through the same port the servers use (nothing is cached, nothing is written for a
 * local person).
 */
function describeLocally(databaseUrl: string, name: string): Promise<{ description: UserDescription & RowFacts; directory: 'ad' | 'ldap' | undefined }> {
  return withProvisionedStore(databaseUrl, async (store) => {
    const directory = (await showDirectoryIn(store))?.kind;
    const id = async (n: string) => (await store.principals.getByName(n)).id;
    const identities = new Identities({
      store,
      clock: systemClock,
      local: new LocalDirectory(store, systemClock),
      cacheTtlMs: 0,
      builtin: {
        administrators: await id(BUILTIN_GROUPS.administrators),
        serviceGroup: await id(BUILTIN_GROUPS.serviceGroup),
        authenticated: await id(BUILTIN_GROUPS.authenticatedUsers),
        everyone: await id(BUILTIN_GROUPS.everyone),
      },
    });
    try {
      const description = await describeUser(identities, store, name);
      return { description: { ...description, ...(await rowFacts(store, description.principalName)) }, directory };
    } catch (e) {
      if (isRmsError(e, 'NotFound') && directory) {
        throw new RmsError('NotFound', `no user "${name}" in this cluster's accounts; the ${SOURCES[directory]} was not asked (give --key-password-env VAR to ask it)`);
      }
      throw e;
    } finally {
      await identities.close().catch(() => undefined);
    }
  });
}

export const userCommands: Command[] = [
  {
    path: ['users', 'show'],
    summary: "Show a person as the servers see them: which source answers, identity, aliases, disabled state, groups with their nesting, built-in groups.",
    positionals: ['NAME'],
    options: {
      database,
      'key-password-env': {
        type: 'string',
        placeholder: 'VAR',
        help: "Environment variable holding the cluster key password: opens the stored directory bind password so the directory is asked too (without it, only this cluster's accounts answer)",
      },
      json,
    },
    async run(args, io) {
      const name = args.positionals[0]?.trim();
      if (!name) throw new RmsError('InvalidInput', 'name a user: rmsctl users show NAME (a logon name or an e-mail address)');
      const databaseUrl = databaseUrlOf(args);
      const passwordVar = str(args, 'key-password-env');
      let d: UserDescription & RowFacts;
      let note: string | undefined;
      if (passwordVar !== undefined) {
        const keyPassword = readSecretEnv(passwordVar, 'cluster key password');
        d = await withIdentities(databaseUrl, keyPassword, (c) => new LdapDirectory(c), async (identities, store) => {
          const description = await describeUser(identities, store, name);
          return { ...description, ...(await rowFacts(store, description.principalName)) };
        });
      } else {
        const r = await describeLocally(databaseUrl, name);
        d = r.description;
        if (r.directory) note = `the ${SOURCES[r.directory]} was not asked: give --key-password-env to ask it`;
      }
      if (flag(args, 'json')) {
        io.out(JSON.stringify({ ...d, ...(note ? { directoryAsked: false } : {}) }, null, 2));
        return;
      }
      printUser(d, io, note);
    },
  },
  {
    path: ['users', 'list'],
    summary: "List the users of this cluster: e-mail, where the row comes from, state, direct groups (directory people appear once they have signed on).",
    options: { database, json },
    async run(args, io) {
      const users = await listUsers(databaseUrlOf(args));
      if (flag(args, 'json')) return printJson(io, users);
      if (users.length === 0) return io.out('no users');
      printTable(
        io,
        ['NAME', 'E-MAIL', 'SOURCE', 'STATE', 'GROUPS'],
        users.map((u) => [
          u.name,
          u.email ?? '-',
          u.source === 'local' ? (u.builtin ? 'local, built-in' : 'local') : u.source,
          u.disabled ? 'disabled' : 'enabled',
          u.groups.join(', ') || '-',
        ]),
      );
    },
  },
  {
    path: ['users', 'remove'],
    summary: "Remove a user: its row, memberships, DACL entries and RAC key pair (a directory person's row comes back at the next sign-on). Built-in accounts and the last administrator are refused.",
    positionals: ['NAME'],
    options: { database, actor, json },
    async run(args, io) {
      const r = await removeUser(databaseUrlOf(args), str(args, 'actor') ?? 'rmsctl', oneName(args, 'rmsctl users remove NAME'));
      if (flag(args, 'json')) return printJson(io, { removed: true, ...r });
      const parts = [`${r.groups.length} membership(s)`, `${r.daclEntries} DACL entr${r.daclEntries === 1 ? 'y' : 'ies'}`, r.racKey ? 'its RAC key pair' : 'no RAC key pair'];
      io.out(`removed user ${r.name} with ${parts.join(', ')}`);
      if (r.source !== 'local') io.out('a directory person: the row is created again at their next sign-on; disable the account in the directory to keep them out');
    },
  },
  ...(['disable', 'enable'] as const).map(
    (verb): Command => ({
      path: ['users', verb],
      summary:
        verb === 'disable'
          ? 'Disable a local user: no sign-on, no RAC, no licence, on every member at once. The last administrator is refused.'
          : 'Enable a disabled local user again.',
      positionals: ['NAME'],
      options: { database, actor, json },
      async run(args, io) {
        const r = await setUserDisabled(databaseUrlOf(args), str(args, 'actor') ?? 'rmsctl', oneName(args, `rmsctl users ${verb} NAME`), verb === 'disable');
        if (flag(args, 'json')) return printJson(io, r);
        io.out(r.changed ? `${verb}d user ${r.name}` : `user ${r.name} is already ${verb}d; nothing changed`);
      },
    }),
  ),
  {
    path: ['users', 'passwd'],
    summary: 'Set a new password for a local user (directory people change theirs in the directory).',
    positionals: ['NAME'],
    options: {
      database,
      'password-env': { type: 'string', required: true, placeholder: 'VAR', help: 'Environment variable holding the new password' },
      actor,
      json,
    },
    async run(args, io) {
      const name = oneName(args, 'rmsctl users passwd NAME --password-env VAR');
      const password = readSecretEnv(str(args, 'password-env'), 'password');
      const r = await setUserPassword(databaseUrlOf(args), str(args, 'actor') ?? 'rmsctl', name, password);
      if (flag(args, 'json')) return printJson(io, { name: r.name, passwordChanged: true });
      io.out(`set a new password for ${r.name}`);
    },
  },
];
