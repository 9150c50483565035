import { spawn } from 'node:child_process';
import path from 'node:path';
import { readSecretEnv, readTextFile } from '@openrms/config';
import { RmsError, type SlcRevocation } from '@openrms/domain';
import { addGroup, addUser, provisionRootCluster, showSlc } from '@openrms/issuance';
import { type Command, flag, list, str } from './command';
import { policyCommands, templateCommands } from './admin-commands';
import { clusterCommands } from './cluster-commands';
import { daclCommands } from './dacl-commands';
import { directoryCommands } from './directory-commands';
import { queueCommands } from './queue-commands';
import { userCommands } from './user-commands';
import { workerCommands } from './worker-commands';

const database = { type: 'string', required: true, placeholder: 'URL', help: 'Configuration database: sqlite:PATH, postgres://… or mssql://…' } as const;
const keyPasswordEnv = { type: 'string', required: true, placeholder: 'VAR', help: 'Environment variable holding the cluster key password' } as const;

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
      'key-password-env': keyPasswordEnv,
      'slc-revocation': { type: 'string', placeholder: 'standard|custom', help: 'Who may revoke the SLC: its issuer (standard, the default) or also external authorities (custom)' },
      'revocation-authority-key': { type: 'string', placeholder: 'PEMFILE', help: 'Public key (PEM) of the external revocation authority, with --slc-revocation custom' },
      'server-name': { type: 'string', placeholder: 'NAME', help: 'Name of this first member (default: the host name)' },
    },
    async run(args, io) {
      const result = await provisionRootCluster({
        databaseUrl: str(args, 'database')!,
        clusterUrl: str(args, 'cluster-url')!,
        serviceAccount: str(args, 'service-account')!,
        admin: {
          name: str(args, 'admin')!,
          password: readSecretEnv(str(args, 'admin-password-env'), 'administrator password'),
          email: str(args, 'admin-email'),
        },
        keyPassword: readSecretEnv(str(args, 'key-password-env'), 'cluster key password'),
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
      database,
      listen: { type: 'string', placeholder: 'HOST:PORT', help: 'Address to listen on (default 127.0.0.1:8080)' },
      'key-password-env': keyPasswordEnv,
      'tls-cert': { type: 'string', placeholder: 'PEMFILE', help: 'TLS certificate chain; with --tls-key the server speaks HTTPS' },
      'tls-key': { type: 'string', placeholder: 'PEMFILE', help: 'TLS private key' },
      'max-body': { type: 'string', placeholder: 'SIZE', help: 'Largest accepted request body (default 1m)' },
      'server-name': { type: 'string', placeholder: 'NAME', help: 'Name of this member (default: the host name)' },
      redis: { type: 'string', placeholder: 'URL', help: 'Redis of the job queues: `rmsctl worker` processes run the jobs; without it this server runs them itself' },
      keytab: { type: 'string', placeholder: 'FILE', help: 'Service keytab for Negotiate (Kerberos) sign-on' },
      spn: { type: 'string', placeholder: 'HTTP/host@REALM', help: 'Service principal of this member in the keytab' },
      'krb5-config': { type: 'string', placeholder: 'FILE', help: 'krb5.conf for this member (default: the system one)' },
      auth: { type: 'string', placeholder: 'SCHEMES', help: 'Sign-on offered: negotiate,basic (default with a keytab) or basic' },
    },
    async run(args) {
      // apps never import each other: the server is its own process entry, started with our flags.
      const entry = path.resolve(__dirname, '../../server/src/main.ts');
      const pass: string[] = [];
      for (const k of ['database', 'listen', 'key-password-env', 'tls-cert', 'tls-key', 'max-body', 'server-name', 'redis', 'keytab', 'spn', 'krb5-config', 'auth']) {
        const v = str(args, k);
        if (v !== undefined) pass.push(`--${k}`, v);
      }
      const child = spawn(process.execPath, [...process.execArgv, entry, ...pass], { stdio: 'inherit' });
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
      return new Promise<number>((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
    },
  },
  {
    path: ['slc', 'show'],
    summary: "Print the cluster's server licensor certificate: subject, issuer, validity and chain length.",
    options: {
      database,
      pem: { type: 'boolean', help: 'Print only the cluster public key in PEM' },
    },
    async run(args, io) {
      const s = await showSlc(str(args, 'database')!);
      if (flag(args, 'pem')) {
        io.out(s.publicKeyPem.trimEnd());
        return;
      }
      io.out(`cluster:      ${s.clusterName} (${s.clusterKind}) ${s.clusterId}`);
      io.out(`subject:      ${s.subject}`);
      io.out(`issuer:       ${s.issuer}`);
      io.out(`valid from:   ${s.validFrom.toISOString()}`);
      io.out(`valid until:  ${s.validUntil.toISOString()} (${s.daysLeft} days left)`);
      io.out(`chain length: ${s.chainLength}`);
      io.out(`key:          RSA-${s.keyBits} sha256:${s.keyFingerprint}`);
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
    },
    async run(args, io) {
      const u = await addUser(str(args, 'database')!, {
        name: args.positionals[0]!,
        email: str(args, 'email')!,
        password: readSecretEnv(str(args, 'password-env'), 'password'),
        groups: list(args, 'group'),
        displayName: str(args, 'display-name'),
      });
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
    },
    async run(args, io) {
      const g = await addGroup(str(args, 'database')!, { name: args.positionals[0]!, email: str(args, 'email') });
      io.out(`added group ${g.name}`);
    },
  },
  ...policyCommands,
  ...templateCommands,
  ...daclCommands,
  ...directoryCommands,
  ...clusterCommands,
  ...queueCommands,
  ...workerCommands,
];
