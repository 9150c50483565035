import { readSecretEnv } from '@openrms/config';
import { LdapDirectory } from '@openrms/directory';
import { BUILTIN_GROUPS, isRmsError, RmsError, systemClock } from '@openrms/domain';
import { describeUser, Identities, LocalDirectory, showDirectoryIn, type UserDescription, withIdentities, withProvisionedStore } from '@openrms/issuance';
import { type Command, type CommandIo, flag, str } from './command';

const SOURCES = { local: 'local accounts', ad: 'Active Directory', ldap: 'LDAP directory' } as const;

function printUser(d: UserDescription, io: CommandIo, note: string | undefined): void {
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
}

/**
 * Without the key password the stored bind password stays sealed: only the cluster's own tables
 * answer, through the same port the servers use (nothing is cached, nothing is written for a
 * local person).
 */
function describeLocally(databaseUrl: string, name: string): Promise<{ description: UserDescription; directory: 'ad' | 'ldap' | undefined }> {
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
      return { description: await describeUser(identities, store, name), directory };
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
      database: { type: 'string', required: true, placeholder: 'URL', help: 'Configuration database: sqlite:PATH, postgres://… or mssql://…' },
      'key-password-env': {
        type: 'string',
        placeholder: 'VAR',
        help: "Environment variable holding the cluster key password: opens the stored directory bind password so the directory is asked too (without it, only this cluster's accounts answer)",
      },
      json: { type: 'boolean', help: 'Print JSON' },
    },
    async run(args, io) {
      const name = args.positionals[0]?.trim();
      if (!name) throw new RmsError('InvalidInput', 'name a user: rmsctl users show NAME (a logon name or an e-mail address)');
      const databaseUrl = str(args, 'database')!;
      const passwordVar = str(args, 'key-password-env');
      let d: UserDescription;
      let note: string | undefined;
      if (passwordVar !== undefined) {
        const keyPassword = readSecretEnv(passwordVar, 'cluster key password');
        d = await withIdentities(databaseUrl, keyPassword, (c) => new LdapDirectory(c), (identities, store) => describeUser(identities, store, name));
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
];
