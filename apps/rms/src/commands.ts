import path from 'node:path';
import { clientStateDir, readBinaryFile, readSecretEnv } from '@openrms/config';
import { inspectProtectedFile, isRmsClientError, RmsClient, writeFileAtomically, type ProtectedFileInfo } from '@openrms/client';
import { parseGrantSpec, RmsError, type RightGrant } from '@openrms/domain';
import { flag, list, str, type Command, type CommandIo, type OptionSpec, type ParsedArgs } from '@openrms/config';

/** Content is encrypted in memory in one piece; larger files need a streaming format first. */
export const MAX_CONTENT_BYTES = 256 * 1024 * 1024;
/** A protected file is the content plus a header of at most 4 MiB. */
const MAX_PROTECTED_BYTES = MAX_CONTENT_BYTES + 4 * 1024 * 1024 + 1024;

const connection: Record<string, OptionSpec> = {
  server: { type: 'string', required: true, placeholder: 'URL', help: 'The RMS cluster: http(s)://host[:port] or its /_wmcs URL.' },
  user: { type: 'string', required: true, placeholder: 'NAME', help: 'Your user name on the cluster.' },
  'password-env': { type: 'string', required: true, placeholder: 'VAR', help: 'Name of the environment variable holding your password.' },
  'state-dir': { type: 'string', placeholder: 'DIR', help: 'Where keys and certificates are kept (default: RMS_CLIENT_STATE_DIR or ~/.openrms).' },
};

function clientFrom(args: ParsedArgs, io: CommandIo): RmsClient {
  return new RmsClient({
    serverUrl: str(args, 'server')!,
    user: str(args, 'user')!,
    password: readSecretEnv(str(args, 'password-env'), 'password'),
    stateDir: str(args, 'state-dir') ?? clientStateDir(),
    logger: (m) => io.err(`rms: note: ${m}`),
  });
}

function inputAndOutput(args: ParsedArgs): { input: string; out: string } {
  const input = path.resolve(args.positionals[0]!);
  const out = path.resolve(str(args, 'out')!);
  if (input === out) throw new RmsError('InvalidInput', '--out must name another file than FILE');
  return { input, out };
}

function writeOutput(out: string, bytes: Buffer, mode: number): void {
  try {
    writeFileAtomically(out, bytes, mode);
  } catch (e) {
    throw new RmsError('InvalidInput', `cannot write ${out}: ${(e as Error).message.replace(/^cannot write [^:]*: /, '')}`);
  }
}

const protect: Command = {
  path: ['protect'],
  summary: 'Protect FILE: encrypt it and publish a licence that says who may do what with it.',
  positionals: ['FILE'],
  options: {
    out: { type: 'string', required: true, placeholder: 'FILE', help: 'Where to write the protected file (written atomically).' },
    ...connection,
    grant: {
      type: 'string',
      multiple: true,
      placeholder: 'EMAIL:RIGHT[,RIGHT…]',
      help: 'Grant rights (VIEW, PRINT, EDIT, FORWARD, EXTRACT, EXPORT, VIEWRIGHTSDATA, OWNER) to an e-mail address or "anyone". Required unless --template.',
    },
    template: { type: 'string', placeholder: 'NAME', help: 'Use an official template of the cluster (the template decides the rights; online publishing).' },
    name: { type: 'string', placeholder: 'NAME', help: 'Name recorded in the licence (default: the base name of FILE).' },
  },
  async run(args, io) {
    const { input, out } = inputAndOutput(args);
    const template = str(args, 'template');
    const specs = list(args, 'grant');
    if (template === undefined && specs.length === 0) throw new RmsError('InvalidInput', 'give at least one --grant EMAIL:RIGHT, or --template NAME');
    if (template !== undefined && specs.length > 0) throw new RmsError('InvalidInput', '--template decides the rights; do not combine it with --grant');
    const grants: RightGrant[] = specs.flatMap((s) => parseGrantSpec(s));
    const content = readBinaryFile(input, 'file to protect', MAX_CONTENT_BYTES);
    const client = clientFrom(args, io);
    const protectedBytes = await client.protect(content, {
      grants,
      ...(template !== undefined ? { template } : {}),
      name: str(args, 'name') ?? path.basename(input),
    });
    writeOutput(out, protectedBytes, 0o644);
    io.out(`protected ${content.length} bytes into ${out}${template !== undefined ? ` with template "${template}"` : ''}`);
  },
};

const open: Command = {
  path: ['open'],
  summary: 'Open a protected FILE: get a use licence from the server and write the content to --out.',
  positionals: ['FILE'],
  options: {
    out: { type: 'string', required: true, placeholder: 'FILE', help: 'Where to write the content (mode 0600, written atomically; nothing is written on failure).' },
    ...connection,
  },
  async run(args, io) {
    const { input, out } = inputAndOutput(args);
    const file = readBinaryFile(input, 'protected file', MAX_PROTECTED_BYTES);
    const client = clientFrom(args, io);
    const { content, rights } = await client.open(file);
    writeOutput(out, content, 0o600);
    io.out(`wrote ${content.length} bytes to ${out} (your rights: ${rights.join(', ')})`);
  },
};

function formatInfo(i: ProtectedFileInfo): string[] {
  const lines = [
    `publisher:        ${i.publisher}`,
    `content id:       ${i.contentId}`,
    `licensing URL:    ${i.licensingUrl}`,
    ...(i.extranetLicensingUrl ? [`extranet URL:     ${i.extranetLicensingUrl}`] : []),
    `issued:           ${i.issuedTime.toISOString()}`,
    `published:        ${i.publishedOffline ? 'offline (signed with the publisher’s client licensor certificate)' : 'online (signed by the server)'}`,
    `signed by:        ${i.signer.name ?? i.signer.id}${i.signer.kind === 'server' ? ' (server)' : ''}`,
    `server key:       ${i.rootKeyFingerprint} (SHA-256; open checks it against the server you trust)`,
    ...(i.template !== undefined ? [`template:         ${i.template}`] : []),
    ...(i.name !== undefined ? [`name:             ${i.name}`] : []),
    `declared grants (stated by the publisher in the file header; the server enforces the signed licence):`,
    ...(i.declaredGrants.length ? i.declaredGrants.map((g) => `  ${g.grantee}: ${g.rights.join(', ')}`) : ['  (none)']),
  ];
  return lines;
}

const info: Command = {
  path: ['info'],
  summary: 'Show what a protected FILE says about itself (no server contact).',
  positionals: ['FILE'],
  options: { json: { type: 'boolean', help: 'Print JSON instead of text.' } },
  async run(args, io) {
    const file = readBinaryFile(path.resolve(args.positionals[0]!), 'protected file', MAX_PROTECTED_BYTES);
    const i = inspectProtectedFile(file);
    if (flag(args, 'json')) io.out(JSON.stringify(i, null, 2));
    else for (const l of formatInfo(i)) io.out(l);
  },
};

export const commands: Command[] = [protect, open, info];

/** Exit codes, one per kind of failure, so scripts can tell a refusal from a broken setup. */
export const EXIT_CODES = {
  input: 2,
  fault: 3,
  unauthorized: 4,
  format: 5,
  network: 6,
  http: 6,
  protocol: 6,
  trust: 7,
  state: 8,
} as const;

export function exitCodeFor(e: unknown): number {
  if (isRmsClientError(e)) return EXIT_CODES[e.kind];
  if (e instanceof RmsError) return e.code === 'InvalidInput' ? 2 : 1;
  return 1;
}

/** One line for the user: the server's reason for refusals, the client's otherwise. */
export function describeError(e: unknown): string {
  if (isRmsClientError(e)) return e.kind === 'fault' ? `refused by the server: ${e.describe()}` : e.message;
  if (e instanceof RmsError) return e.message;
  return `unexpected error: ${(e as Error)?.message ?? String(e)}`;
}
