import { readMemberConfig, readSecretEnv, readTextFile, settingArgs, settingOptions } from '@openrms/config';
import { RmsError, type SlcRevocation } from '@openrms/domain';
import { addGroup, addUser, provisionRootCluster, showSlc } from '@openrms/issuance';
import { type Command, config, database, databaseUrlOf, flag, list, str } from './command';
import { appEntry, runAppProcess } from './run-app-process';
import { adminPageCommands, policyCommands, templateCommands } from './admin-commands';
import { backupCommands } from './backup-commands';
import { clusterCommands } from './cluster-commands';
import { configCommands } from './config-commands';
import { daclCommands } from './dacl-commands';
import { decommissionCommands } from './decommission-commands';
import { directoryCommands } from './directory-commands';
import { groupCommands } from './group-commands';
import { keyPasswordCommands } from './key-password-commands';
import { keyProtectionFrom, keyProtectionOptions } from './key-protection-options';
import { migrateCommands } from './migrate-commands';
import { queueCommands } from './queue-commands';
import { trustCommands } from './trust-commands';
import { revokeCommands } from './revoke-commands';
import { printJson } from './print-table';
import { userCommands } from './user-commands';
import { workerCommands } from './worker-commands';

function revocationFrom(kind: string | undefined, keyFile: string | undefined): SlcRevocation {
  if (kind === undefined || kind === 'standard') {
    if (keyFile) throw new RmsError('InvalidInput', '--revocation-authority-key only goes with --slc-revocation custom');
    return { kind: 'standard' };
  }
  if (kind !== 'custom') throw new RmsError('InvalidInput', `--slc-revocation must be standard or custom, got "${kind}"`);
  if (!keyFile) throw new RmsError('InvalidInput', '--slc-revocation custom needs --revocation-authority-key PEMFILE');
  return { kind: 'custom', authorityKeysPem: [readTextFile(keyFile, 'revocation authority key')] };
}

export const commands: Command[] = [
  {
    path: ['provision', 'root'],
    summary: 'Create the root certification cluster: schema, cluster key, self-signed SLC, admin user and default DACLs.',
    options: {
      database,
      'cluster-url': { type: 'string', required: true, placeholder: 'URL', help: 'Public URL of the cluster (its _wmcs base), as clients and the load balancer reach it' },
      'service-account': { type: 'string', required: true, placeholder: 'NAME', help: 'Account the cluster servers run as; joins the RMS Service Group' },
      admin: { type: 'string', required: true, placeholder: 'NAME', help: 'First administrator (member of RMS Administrators)' },
      'admin-password-env': { type: 'string', required: true, placeholder: 'VAR', help: 'Environment variable holding the administrator password' },
      'admin-email': { type: 'string', placeholder: 'EMAIL', help: 'Administrator e-mail address (default NAME@<cluster host>)' },
      ...keyProtectionOptions,
      'slc-revocation': { type: 'string', placeholder: 'standard|custom', help: 'Who may revoke the SLC: its issuer (standard, the default) or also external authorities (custom)' },
      'revocation-authority-key': { type: 'string', placeholder: 'PEMFILE', help: 'Public key (PEM) of the external revocation authority, with --slc-revocation custom' },
      'server-name': { type: 'string', placeholder: 'NAME', help: 'Name of this first member (default: the host name)' },
    },
    async run(args, io) {
      const result = await provisionRootCluster({
        databaseUrl: databaseUrlOf(args),
        clusterUrl: str(args, 'cluster-url')!,
        serviceAccount: str(args, 'service-account')!,
        admin: {
          name: str(args, 'admin')!,
          password: readSecretEnv(str(args, 'admin-password-env'), 'administrator password'),
          email: str(args, 'admin-email'),
        },
        ...keyProtectionFrom(args),
        revocation: revocationFrom(str(args, 'slc-revocation'), str(args, 'revocation-authority-key')),
        serverName: str(args, 'server-name'),
      });
      io.out(`provisioned root cluster ${result.clusterId} at ${result.clusterUrl}`);
      io.out(`SLC valid until ${result.slc.validUntil.toISOString()}, administrator "${result.adminName}"`);
    },
  },
  {
    path: ['serve'],
    summary: 'Serve every endpoint of this cluster member (SOAP .asmx services, /healthz, /readyz).',
    options: {
      // Every setting a member reads (docs/operations.md, "Configuration") and --config.
      ...settingOptions('serve'),
      config,
      setup: { type: 'boolean', help: 'Until this server is provisioned or joined, serve only a set-up page, opened by the one-time link printed at start' },
    },
    async run(args) {
      // apps never import each other: the server is its own process entry, started with our flags.
      const entry = appEntry('server');
      // A bad file fails here, as one rmsctl line with exit code 2; the server reads it again.
      readMemberConfig(str(args, 'config'));
      const pass = settingArgs(args.values, 'serve');
      if (flag(args, 'setup')) pass.push('--setup');
      return runAppProcess(entry, pass);
    },
  },
  {
    path: ['slc', 'show'],
    summary: "Print the cluster's server licensor certificate: subject, issuer, validity and chain length.",
    options: {
      database,
      pem: { type: 'boolean', help: 'Print only the cluster public key in PEM' },
      json: { type: 'boolean', help: 'Print JSON' },
    },
    async run(args, io) {
      const s = await showSlc(databaseUrlOf(args));
      if (flag(args, 'pem')) {
        io.out(s.publicKeyPem.trimEnd());
        return;
      }
      if (flag(args, 'json')) return printJson(io, s);
      io.out(`cluster:      ${s.clusterName} (${s.clusterKind}) ${s.clusterId}`);
      io.out(`subject:      ${s.subject}`);
      io.out(`issuer:       ${s.issuer}`);
      io.out(`valid from:   ${s.validFrom.toISOString()}`);
      io.out(`valid until:  ${s.validUntil.toISOString()} (${s.daysLeft} days left)`);
      io.out(`chain length: ${s.chainLength}`);
      io.out(`key:          RSA-${s.keyBits}`);
      const p = s.keyProtection;
      io.out(`protection:   ${p.kind === 'pkcs11' ? `PKCS#11 token "${p.token}", key label "${p.keyLabel}" (id ${p.keyId}), module ${p.module}` : 'wrapped with the cluster key password in the database'}`);
      // The one fingerprint (SHA-256 of the SPKI DER, plain hex): `rms` and the admin overview print the same.
      io.out(`fingerprint:  ${s.keyFingerprint} (SHA-256 of the public key)`);
      if (s.rootKeyFingerprint !== s.keyFingerprint) io.out(`root key:     ${s.rootKeyFingerprint} (the root cluster's key, which clients trust)`);
    },
  },
  {
    path: ['users', 'add'],
    summary: 'Add a user who can authenticate to the cluster (HTTP Basic).',
    positionals: ['NAME'],
    options: {
      database,
      email: { type: 'string', required: true, placeholder: 'EMAIL', help: 'E-mail address, the identity written into certificates' },
      'password-env': { type: 'string', required: true, placeholder: 'VAR', help: 'Environment variable holding the password' },
      group: { type: 'string', multiple: true, placeholder: 'GROUP', help: 'Group to join' },
      'display-name': { type: 'string', placeholder: 'TEXT', help: 'Display name' },
      actor: { type: 'string', placeholder: 'NAME', help: 'Who makes the change, for the audit log (default: rmsctl)' },
      json: { type: 'boolean', help: 'Print JSON' },
    },
    async run(args, io) {
      const u = await addUser(
        databaseUrlOf(args),
        {
          name: args.positionals[0]!,
          email: str(args, 'email')!,
          password: readSecretEnv(str(args, 'password-env'), 'password'),
          groups: list(args, 'group'),
          displayName: str(args, 'display-name'),
        },
        undefined,
        str(args, 'actor') ?? 'rmsctl',
      );
      if (flag(args, 'json')) return printJson(io, { name: u.name, email: u.email, groups: u.groups });
      io.out(`added user ${u.name} <${u.email}>${u.groups.length ? ` in ${u.groups.join(', ')}` : ''}`);
    },
  },
  ...userCommands,
  {
    path: ['groups', 'add'],
    summary: 'Add a group; DACL entries and rights can name it.',
    positionals: ['NAME'],
    options: {
      database,
      email: { type: 'string', placeholder: 'EMAIL', help: 'Group e-mail address (rights in licences may name it)' },
      actor: { type: 'string', placeholder: 'NAME', help: 'Who makes the change, for the audit log (default: rmsctl)' },
      json: { type: 'boolean', help: 'Print JSON' },
    },
    async run(args, io) {
      const g = await addGroup(databaseUrlOf(args), { name: args.positionals[0]!, email: str(args, 'email') }, undefined, str(args, 'actor') ?? 'rmsctl');
      if (flag(args, 'json')) return printJson(io, { name: g.name });
      io.out(`added group ${g.name}`);
    },
  },
  ...groupCommands,
  ...policyCommands,
  ...templateCommands,
  ...adminPageCommands,
  ...daclCommands,
  ...directoryCommands,
  ...clusterCommands,
  ...decommissionCommands,
  ...backupCommands,
  ...trustCommands,
  ...revokeCommands,
  ...keyPasswordCommands,
  ...queueCommands,
  ...workerCommands,
  ...migrateCommands,
  ...configCommands,
];

// Every command that opens the database also takes --config FILE (its database: key), one rule for all.
for (const c of commands) if (c.options.database && !c.options.config) c.options.config = config;
