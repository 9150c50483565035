import { readSecretEnv, readTextFile } from '@openrms/config';
import { LdapDirectory } from '@openrms/directory';
import { isRmsError, type LdapAttributeMap, type LdapDirectoryConfig, RmsError } from '@openrms/domain';
import { describeUser, directoryAdmin, type DirectorySettingsInput, type DirectorySettingsView, peerAdmin, type UserDescription, withIdentities } from '@openrms/issuance';
import { type Command, type CommandIo, database, databaseUrlOf, flag, str } from './command';

const actor = { type: 'string', placeholder: 'NAME', help: 'Who makes the change, for the audit log (default: rmsctl)' } as const;
const json = { type: 'boolean', help: 'Print JSON' } as const;

function intOption(args: Parameters<Command['run']>[0], name: string): number | undefined {
  const v = str(args, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new RmsError('InvalidInput', `--${name} must be a whole number, got "${v}"`);
  return Number(v);
}

/** `--attribute mail=mail --attribute logon=uid …`: overrides of the attribute map for --kind. */
function attributeOverrides(spec: string | undefined): Partial<LdapAttributeMap> | undefined {
  if (!spec) return undefined;
  const out: Record<string, string | string[]> = {};
  for (const pair of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const i = pair.indexOf('=');
    if (i <= 0) throw new RmsError('InvalidInput', `--attributes takes NAME=ATTRIBUTE pairs separated by commas, got "${pair}"`);
    const key = pair.slice(0, i).trim();
    const value = pair.slice(i + 1).trim();
    if (!/^[A-Za-z]+$/.test(key) || !/^[A-Za-z0-9;|.-]*$/.test(value)) throw new RmsError('InvalidInput', `"${pair}" is not NAME=ATTRIBUTE`);
    // Lists (object classes, member attributes) are written a|b.
    out[key] = key === 'groupObjectClasses' || key === 'groupMember' ? value.split('|').filter(Boolean) : value;
  }
  return out as Partial<LdapAttributeMap>;
}

function printView(v: DirectorySettingsView, io: CommandIo): void {
  io.out(`kind:           ${v.kind}`);
  io.out(`url:            ${v.url}${v.startTls ? ' (StartTLS)' : ''}`);
  io.out(`bind DN:        ${v.bindDn}`);
  io.out(`bind password:  ${v.bindPassword}`);
  io.out(`base DN:        ${v.baseDn}`);
  io.out(`TLS CA:         ${v.caPem ? 'from --ca-file' : 'system default'}`);
  io.out(`Kerberos realm: ${v.realm ?? '(none: tickets map by userPrincipalName only)'}`);
  io.out(`cache TTL:      ${v.cacheTtlSeconds} s (flush generation ${v.generation})`);
  io.out(`service group:  ${v.serviceGroup ?? '(none)'}`);
  io.out(`admin group:    ${v.adminGroup ?? '(none)'}`);
  if (v.attributes && Object.keys(v.attributes).length) io.out(`attributes:     ${JSON.stringify(v.attributes)}`);
  io.out(`updated:        ${v.updatedAt}`);
}

function printUser(d: UserDescription, io: CommandIo): void {
  io.out(`source:         ${d.source === 'local' ? 'local accounts' : d.source === 'ad' ? 'Active Directory' : 'LDAP directory'}`);
  io.out(`name:           ${d.name}${d.displayName ? ` (${d.displayName})` : ''}`);
  io.out(`cluster row:    ${d.principalName}`);
  io.out(`e-mail:         ${d.email ?? '(none: no RAC can be issued)'}`);
  io.out(`aliases:        ${d.aliases.length ? d.aliases.join(', ') : '(none)'}`);
  if (d.userPrincipalName) io.out(`UPN:            ${d.userPrincipalName}`);
  if (d.dn) io.out(`DN:             ${d.dn}`);
  if (d.sid) io.out(`SID:            ${d.sid}`);
  io.out(`disabled:       ${d.disabled ? 'yes (no sign-on, no RAC, no licence)' : 'no'}`);
  io.out(`groups:         ${d.groups.length ? '' : '(none)'}`);
  for (const g of d.groups) io.out(`  ${g.name}${g.email ? ` <${g.email}>` : ''}${g.path.length > 1 ? `  via ${g.path.join(' > ')}` : ''}`);
  io.out(`built-in:       ${d.builtinGroups.length ? d.builtinGroups.join(', ') : '(none)'}`);
}

const factory = (c: LdapDirectoryConfig) => new LdapDirectory(c);

export const directoryCommands: Command[] = [
  {
    path: ['directory', 'set'],
    summary: "Connect this cluster to Active Directory or an LDAP directory (tested before it is stored; the bind password is stored sealed).",
    options: {
      database,
      url: { type: 'string', required: true, placeholder: 'ldap[s]://HOST[:PORT]', help: 'Directory server' },
      'bind-dn': { type: 'string', required: true, placeholder: 'DN', help: 'Service account the members search with' },
      'bind-password-env': { type: 'string', required: true, placeholder: 'VAR', help: 'Environment variable holding its password' },
      'base-dn': { type: 'string', required: true, placeholder: 'DN', help: 'Where people and groups are searched' },
      kind: { type: 'string', placeholder: 'ad|ldap', help: 'Schema: Active Directory (default) or OpenLDAP-style' },
      'start-tls': { type: 'boolean', help: 'Upgrade ldap:// with StartTLS' },
      'ca-file': { type: 'string', placeholder: 'PEMFILE', help: 'CA of the directory TLS certificate (default: the system CAs)' },
      realm: { type: 'string', placeholder: 'REALM', help: 'Kerberos realm whose user@REALM tickets map to account names' },
      attributes: { type: 'string', placeholder: 'K=V,…', help: 'Attribute map overrides, e.g. mail=mail,logon=uid,groupMember=member|uniqueMember' },
      'timeout-ms': { type: 'string', placeholder: 'MS', help: 'Connect/search timeout (default 5000)' },
      'cache-ttl': { type: 'string', placeholder: 'SECONDS', help: 'How long members trust an answer (default 300)' },
      'service-group': { type: 'string', placeholder: 'GROUP', help: 'Directory group whose members are the RMS Service Group' },
      'admin-group': { type: 'string', placeholder: 'GROUP', help: 'Directory group whose members are RMS Administrators' },
      'no-test': { type: 'boolean', help: 'Store without trying the connection first' },
      actor,
    },
    async run(args, io) {
      const kind = (str(args, 'kind') ?? 'ad').toLowerCase();
      if (kind !== 'ad' && kind !== 'ldap') throw new RmsError('InvalidInput', `--kind must be ad or ldap, got "${kind}"`);
      const caFile = str(args, 'ca-file');
      const input: DirectorySettingsInput = {
        kind,
        url: str(args, 'url')!,
        bindDn: str(args, 'bind-dn')!,
        bindPassword: readSecretEnv(str(args, 'bind-password-env'), 'directory bind password'),
        baseDn: str(args, 'base-dn')!,
        startTls: flag(args, 'start-tls'),
        ...(caFile ? { caPem: readTextFile(caFile, 'directory CA') } : {}),
        ...(str(args, 'realm') ? { realm: str(args, 'realm')! } : {}),
        ...(attributeOverrides(str(args, 'attributes')) ? { attributes: attributeOverrides(str(args, 'attributes'))! } : {}),
        ...(intOption(args, 'timeout-ms') !== undefined ? { timeoutMs: intOption(args, 'timeout-ms')! } : {}),
        ...(intOption(args, 'cache-ttl') !== undefined ? { cacheTtlSeconds: intOption(args, 'cache-ttl')! } : {}),
        ...(str(args, 'service-group') ? { serviceGroup: str(args, 'service-group')! } : {}),
        ...(str(args, 'admin-group') ? { adminGroup: str(args, 'admin-group')! } : {}),
      };
      if (!flag(args, 'no-test')) {
        // The service bind and one search, before anything is stored: a typo never reaches the members.
        const probe = new LdapDirectory({ ...input, startTls: input.startTls ?? false });
        try {
          await probe.findUser({ by: 'logon', value: 'openrms-connection-test' });
        } catch (e) {
          throw new RmsError('Unavailable', `the directory did not answer, nothing was stored: ${isRmsError(e) ? e.message : (e as Error).message}`);
        } finally {
          await probe.close().catch(() => undefined);
        }
      }
      const view = await directoryAdmin.set(databaseUrlOf(args), input, str(args, 'actor') ?? 'rmsctl');
      io.out('directory stored; members use it within one refresh interval');
      printView(view, io);
    },
  },
  {
    path: ['directory', 'show'],
    summary: "Show this cluster's directory connection (never the password).",
    options: { database, json },
    async run(args, io) {
      const v = await directoryAdmin.show(databaseUrlOf(args));
      if (flag(args, 'json')) {
        io.out(JSON.stringify(v ?? { kind: 'local' }, null, 2));
        return;
      }
      if (!v) {
        io.out('no directory: people and groups come from this cluster’s own accounts');
        return;
      }
      printView(v, io);
    },
  },
  {
    path: ['directory', 'test'],
    summary: 'Resolve a person through the directory as the members would: identity, aliases, groups with their nesting, disabled state.',
    positionals: ['USER'],
    options: {
      database,
      'key-password-env': { type: 'string', required: true, placeholder: 'VAR', help: 'Environment variable holding the cluster key password (opens the stored bind password)' },
      json,
    },
    async run(args, io) {
      const name = args.positionals[0];
      if (!name) throw new RmsError('InvalidInput', 'name a user: rmsctl directory test USER');
      const keyPassword = readSecretEnv(str(args, 'key-password-env'), 'cluster key password');
      const d = await withIdentities(databaseUrlOf(args), keyPassword, factory, (identities, store) => describeUser(identities, store, name));
      if (flag(args, 'json')) io.out(JSON.stringify(d, null, 2));
      else printUser(d, io);
    },
  },
  {
    path: ['directory', 'flush'],
    summary: 'Make every member drop its cached directory answers (within one refresh interval, about 5 s).',
    options: { database, actor },
    async run(args, io) {
      const r = await directoryAdmin.flush(databaseUrlOf(args), str(args, 'actor') ?? 'rmsctl');
      io.out(`directory caches flushed on every member (generation ${r.generation})`);
    },
  },
  {
    path: ['directory', 'unset'],
    summary: "Disconnect the directory: only this cluster's own accounts sign on.",
    options: { database, actor },
    async run(args, io) {
      const removed = await directoryAdmin.unset(databaseUrlOf(args), str(args, 'actor') ?? 'rmsctl');
      io.out(removed ? 'directory removed; members use their own accounts only' : 'no directory was configured');
    },
  },
  {
    path: ['directory', 'peer', 'add'],
    summary: 'Trust another cluster to answer group membership for the groups of one mail domain (group expansion).',
    options: {
      database,
      domain: { type: 'string', required: true, placeholder: 'DOMAIN', help: 'Mail domain of the groups the peer answers for' },
      url: { type: 'string', required: true, placeholder: 'URL', help: "The peer cluster's URL (http(s)://host[:port][/_wmcs])" },
      user: { type: 'string', required: true, placeholder: 'NAME', help: 'Account this cluster signs on with at the peer' },
      'password-env': { type: 'string', required: true, placeholder: 'VAR', help: 'Environment variable holding its password (stored sealed)' },
      actor,
    },
    async run(args, io) {
      const v = await peerAdmin.add(
        databaseUrlOf(args),
        { domain: str(args, 'domain')!, url: str(args, 'url')!, name: str(args, 'user')!, password: readSecretEnv(str(args, 'password-env'), 'peer account password') },
        str(args, 'actor') ?? 'rmsctl',
      );
      io.out(`groups @${v.domain} are now asked at ${v.url} as ${v.account}`);
    },
  },
  {
    path: ['directory', 'peer', 'list'],
    summary: 'List the group expansion peers.',
    options: { database, json },
    async run(args, io) {
      const peers = await peerAdmin.list(databaseUrlOf(args));
      if (flag(args, 'json')) io.out(JSON.stringify(peers, null, 2));
      else if (peers.length === 0) io.out('no group expansion peers');
      else for (const p of peers) io.out(`${p.domain}\t${p.url}\t${p.account}\t${p.addedAt}`);
    },
  },
  {
    path: ['directory', 'peer', 'remove'],
    summary: 'Stop asking a peer about the groups of a mail domain.',
    positionals: ['DOMAIN'],
    options: { database, actor },
    async run(args, io) {
      const domain = args.positionals[0];
      if (!domain) throw new RmsError('InvalidInput', 'name the domain: rmsctl directory peer remove DOMAIN');
      if (!(await peerAdmin.remove(databaseUrlOf(args), domain, str(args, 'actor') ?? 'rmsctl'))) throw new RmsError('NotFound', `no peer for ${domain}`);
      io.out(`removed the peer for ${domain}`);
    },
  },
];
