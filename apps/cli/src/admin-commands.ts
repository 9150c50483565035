import { readSecretEnv, readTextFile } from '@openrms/config';
import { parseGrantSpec, RmsError } from '@openrms/domain';
import { addTemplate, archiveTemplate, changePolicy, listTemplates, rotateAdminFormSecret, showPolicies, tailRequestLog, type PolicyChange, type Policies } from '@openrms/issuance';
import { type Command, type CommandIo, database, databaseUrlOf, flag, list, str } from './command';
import { printJson } from './print-table';

const actor = { type: 'string', placeholder: 'NAME', help: 'Who makes the change, for the audit log (default: rmsctl)' } as const;
const json = { type: 'boolean', help: 'Print JSON' } as const;

function printPolicies(p: Policies, io: CommandIo): void {
  io.out(`super users:        ${p.superUsers.enabled ? `enabled, group "${p.superUsers.group}"` : 'disabled'}`);
  io.out(`excluded users:     ${p.excludedUsers.length ? p.excludedUsers.map((u) => u.email ?? `key sha256:${u.keyFingerprint}`).join(', ') : 'none'}`);
  io.out(`excluded apps:      ${p.excludedApplications.length ? p.excludedApplications.map((a) => `${a.name} ${a.min}-${a.max}`).join(', ') : 'none'}`);
  io.out(`lockbox minimum:    ${p.lockboxMinVersion ?? 'none'}`);
  io.out(`online publishing:  ${p.onlinePublishing ? 'enabled' : 'disabled'}`);
  io.out(`machine certs:      ${p.spcTrust.allowSelfIssued ? 'self-issued accepted' : 'self-issued refused'}, ${p.spcTrust.caKeysPem.length} trusted CA key(s)`);
}

function userTarget(args: Parameters<Command['run']>[0]): { email?: string; keyPem?: string } {
  const email = str(args, 'email');
  const keyFile = str(args, 'rac-key');
  return { ...(email !== undefined ? { email } : {}), ...(keyFile !== undefined ? { keyPem: readTextFile(keyFile, 'RAC public key') } : {}) };
}

async function apply(args: Parameters<Command['run']>[0], io: CommandIo, change: PolicyChange): Promise<void> {
  const p = await changePolicy(databaseUrlOf(args), str(args, 'actor') ?? 'rmsctl', change);
  printPolicies(p, io);
}

export const adminPageCommands: Command[] = [
  {
    path: ['admin', 'rotate-form-secret'],
    summary: 'Replace the secret every member signs admin form tokens with: open admin forms on every member stop working within seconds and must be reloaded.',
    options: { database, actor },
    async run(args, io) {
      const r = await rotateAdminFormSecret(databaseUrlOf(args), str(args, 'actor') ?? 'rmsctl');
      io.out(`new admin form secret made ${r.createdAt}; members use it after their next refresh (within 5 s)`);
    },
  },
];

export const policyCommands: Command[] = [
  {
    path: ['policy', 'show'],
    summary: 'Show the licensing policies: super users, exclusions, lockbox minimum, machine certificate trust.',
    options: { database, json },
    async run(args, io) {
      const p = await showPolicies(databaseUrlOf(args));
      if (flag(args, 'json')) return printJson(io, p);
      printPolicies(p, io);
    },
  },
  {
    path: ['policy', 'super-users'],
    summary: 'Enable (with a group) or disable the super users group, whose members get OWNER on everything this cluster can license.',
    options: {
      database,
      enable: { type: 'boolean', help: 'Turn super users on' },
      disable: { type: 'boolean', help: 'Turn super users off' },
      group: { type: 'string', placeholder: 'GROUP', help: 'The super users group' },
      actor,
    },
    async run(args, io) {
      if (flag(args, 'enable') === flag(args, 'disable')) throw new RmsError('InvalidInput', 'say --enable or --disable');
      await apply(args, io, { kind: 'super-users', enabled: flag(args, 'enable'), ...(str(args, 'group') ? { group: str(args, 'group')! } : {}) });
    },
  },
  {
    path: ['policy', 'exclude-user'],
    summary: 'Refuse new use licences and CLCs to a user, by e-mail or by RAC public key.',
    options: { database, email: { type: 'string', placeholder: 'EMAIL', help: 'The user e-mail' }, 'rac-key': { type: 'string', placeholder: 'PEMFILE', help: "The user's RAC public key (PEM)" }, actor },
    async run(args, io) {
      await apply(args, io, { kind: 'exclude-user', ...userTarget(args) });
    },
  },
  {
    path: ['policy', 'include-user'],
    summary: 'Lift a user exclusion.',
    options: { database, email: { type: 'string', placeholder: 'EMAIL', help: 'The user e-mail' }, 'rac-key': { type: 'string', placeholder: 'PEMFILE', help: "The user's RAC public key (PEM)" }, actor },
    async run(args, io) {
      await apply(args, io, { kind: 'include-user', ...userTarget(args) });
    },
  },
  {
    path: ['policy', 'exclude-app'],
    summary: 'Exclude versions of an application: written into every use licence for the client to enforce.',
    positionals: ['NAME'],
    options: {
      database,
      min: { type: 'string', required: true, placeholder: 'VERSION', help: 'Lowest excluded version (a.b.c.d)' },
      max: { type: 'string', required: true, placeholder: 'VERSION', help: 'Highest excluded version (a.b.c.d)' },
      actor,
    },
    async run(args, io) {
      await apply(args, io, { kind: 'exclude-app', name: args.positionals[0]!, min: str(args, 'min')!, max: str(args, 'max')! });
    },
  },
  {
    path: ['policy', 'include-app'],
    summary: 'Lift an application exclusion.',
    positionals: ['NAME'],
    options: { database, actor },
    async run(args, io) {
      await apply(args, io, { kind: 'include-app', name: args.positionals[0]! });
    },
  },
  {
    path: ['policy', 'lockbox'],
    summary: 'Set (or clear) the minimum client lockbox version; older clients must re-activate.',
    options: {
      database,
      'min-version': { type: 'string', placeholder: 'VERSION', help: 'Minimum SPC Repository version (a.b.c.d)' },
      clear: { type: 'boolean', help: 'Remove the minimum' },
      actor,
    },
    async run(args, io) {
      const v = str(args, 'min-version');
      if ((v === undefined) === !flag(args, 'clear')) throw new RmsError('InvalidInput', 'say --min-version VERSION or --clear');
      await apply(args, io, { kind: 'lockbox', minVersion: v ?? null });
    },
  },
  {
    path: ['policy', 'online-publishing'],
    summary: 'Turn online publishing (the server signing PLs: AcquireIssuanceLicense, EditIssuanceLicense) on or off; offline publishing with a CLC is not affected.',
    options: {
      database,
      enable: { type: 'boolean', help: 'Sign publishing licences for clients (the default)' },
      disable: { type: 'boolean', help: 'Refuse with OnlinePublishingDisabledException' },
      actor,
    },
    async run(args, io) {
      if (flag(args, 'enable') === flag(args, 'disable')) throw new RmsError('InvalidInput', 'say --enable or --disable');
      await apply(args, io, { kind: 'online-publishing', enabled: flag(args, 'enable') });
    },
  },
  {
    path: ['log', 'tail'],
    summary: 'Show the newest request-log entries (time, operation, user, result, duration, member).',
    options: { database, lines: { type: 'string', short: 'n', placeholder: 'N', help: 'How many entries (default 20, at most 1000)' }, json },
    async run(args, io) {
      const n = Number(str(args, 'lines') ?? '20');
      if (!Number.isInteger(n) || n < 1 || n > 1000) throw new RmsError('InvalidInput', '--lines must be 1 to 1000');
      const entries = await tailRequestLog(databaseUrlOf(args), n);
      if (flag(args, 'json')) return printJson(io, entries);
      for (const r of entries) {
        io.out(`${r.at.toISOString()}  ${r.operation.padEnd(28)} ${(r.principal ?? '-').padEnd(24)} ${r.result.padEnd(40)} ${String(r.durationMs).padStart(6)} ms  ${r.serverId ?? '-'}  ${r.requestId ?? ''}`);
      }
    },
  },
];

export const templateCommands: Command[] = [
  {
    path: ['templates', 'add'],
    summary: 'Create a rights policy template, signed with the cluster key, and distribute it to clients.',
    positionals: ['NAME'],
    options: {
      database,
      'key-password-env': { type: 'string', required: true, placeholder: 'VAR', help: 'Environment variable holding the cluster key password (the template is signed)' },
      grant: { type: 'string', multiple: true, required: true, placeholder: 'EMAIL:RIGHT[,RIGHT…]', help: 'Who gets which rights; EMAIL may be a group address or "anyone"' },
      description: { type: 'string', placeholder: 'TEXT', help: 'What the template is for' },
      'validity-days': { type: 'string', placeholder: 'N', help: 'Use licences for content published with it must be renewed after N days' },
      actor,
    },
    async run(args, io) {
      const days = str(args, 'validity-days');
      const t = await addTemplate(
        databaseUrlOf(args),
        readSecretEnv(str(args, 'key-password-env'), 'cluster key password'),
        {
          name: args.positionals[0]!,
          description: str(args, 'description') ?? '',
          grants: list(args, 'grant').flatMap(parseGrantSpec),
          validityDays: days === undefined ? undefined : Number(days),
        },
        str(args, 'actor') ?? 'rmsctl',
      );
      io.out(`added template ${t.name} ${t.id}`);
    },
  },
  {
    path: ['templates', 'list'],
    summary: 'List rights policy templates, published and archived.',
    options: { database, json },
    async run(args, io) {
      const rows = await listTemplates(databaseUrlOf(args));
      // The signed XrML stays out: `templates list` says what there is, not the documents.
      if (flag(args, 'json')) return printJson(io, rows.map((t) => ({ id: t.id, name: t.name, description: t.description, status: t.status, hash: t.hash, createdAt: t.createdAt, archivedAt: t.archivedAt })));
      if (rows.length === 0) io.out('no templates');
      for (const t of rows) io.out(`${t.id}  ${t.status.padEnd(9)}  ${t.name}${t.description ? ` — ${t.description}` : ''}`);
    },
  },
  {
    path: ['templates', 'archive'],
    summary: 'Stop distributing a template; content published with it stays licensable.',
    positionals: ['NAME'],
    options: { database, actor },
    async run(args, io) {
      const t = await archiveTemplate(databaseUrlOf(args), args.positionals[0]!, str(args, 'actor') ?? 'rmsctl');
      io.out(`archived template ${t.name} ${t.id}`);
    },
  },
];
