/**
 * A private MIT Kerberos KDC on loopback for tests: its own realm (OPENRMS.TEST), its own
 * kdc.conf/krb5.conf in a temp directory, users with known passwords, two HTTP services and their
 * keytabs. Nothing touches /etc: every child gets KRB5_CONFIG/KRB5_KDC_PROFILE in its environment,
 * so the machine's own Kerberos set-up (if any) is neither used nor changed.
 *
 * Host names (rms.openrms.test, other.openrms.test) never reach DNS: krb5.conf maps them to the
 * realm by name, canonicalization is off, and curl gets `--resolve`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const KDC_REALM = 'OPENRMS.TEST';
export const SERVICE_HOST = 'rms.openrms.test';
export const OTHER_SERVICE_HOST = 'other.openrms.test';
export const ALICE_PASSWORD = 'Alice-Kerberos-1';
export const BOB_PASSWORD = 'Bob-Kerberos-2';
export const CAROL_PASSWORD = 'Carol-Kerberos-3';
export const KDC_USERS = { alice: ALICE_PASSWORD, bob: BOB_PASSWORD, carol: CAROL_PASSWORD } as const;

/** Generous: the suite must pass on a loaded two-core machine. */
const DEADLINE_MS = 60_000;

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command without a shell; never rejects on a non-zero exit (callers decide). */
export function runCommand(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string | undefined>; input?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? DEADLINE_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

async function mustRun(cmd: string, args: string[], opts: Parameters<typeof runCommand>[2] = {}): Promise<CommandResult> {
  const r = await runCommand(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** A port free on 127.0.0.1 for both TCP and UDP at the moment of asking (a KDC binds both). */
export async function freeTcpUdpPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const u = dgram.createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error('no free TCP+UDP port on 127.0.0.1');
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** True when `p` settles within `ms`; the timer never outlives the answer (no open handle left for jest). */
function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    void p.then(() => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

export interface KinitResult {
  /** `FILE:/…/cc-alice-1` */
  ccache: string;
  /** KRB5_CONFIG and KRB5CCNAME: the environment of a client process holding this user's ticket. */
  env: Record<string, string>;
}

export interface KdcFixture {
  realm: string;
  dir: string;
  port: number;
  /** Path of the client/library krb5.conf (the realm, its KDC on loopback, no DNS). */
  krb5Config: string;
  /** Keytab holding only HTTP/rms.openrms.test@OPENRMS.TEST. */
  keytab: string;
  /** Keytab holding only HTTP/other.openrms.test@OPENRMS.TEST. */
  otherKeytab: string;
  /** Keytab holding both services (same keys as the two above). */
  bothKeytab: string;
  spn: string;
  otherSpn: string;
  /**
   * KRB5_CONFIG, plus a private replay-cache directory (KRB5RCACHEDIR) so that acceptors started
   * with this environment do not share /var/tmp's replay cache with anything else.
   */
  env: Record<string, string>;
  /** Gets a TGT for `user` into a fresh file ccache. */
  kinit(user: string, password: string): Promise<KinitResult>;
  /** The KDC's log so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

function kdcConf(dir: string, port: number): string {
  return `[kdcdefaults]
 kdc_listen = 127.0.0.1:${port}
 kdc_tcp_listen = 127.0.0.1:${port}

[realms]
 ${KDC_REALM} = {
  database_name = ${dir}/principal
  key_stash_file = ${dir}/stash
  acl_file = ${dir}/kadm5.acl
  admin_keytab = FILE:${dir}/kadm5.keytab
  kdc_listen = 127.0.0.1:${port}
  kdc_tcp_listen = 127.0.0.1:${port}
  max_life = 10h 0m 0s
  max_renewable_life = 1d 0h 0m 0s
  master_key_type = aes256-cts-hmac-sha1-96
  supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
 }

[logging]
 kdc = FILE:${dir}/kdc.log
 default = FILE:${dir}/kdc.log
`;
}

function krb5Conf(port: number): string {
  // udp_preference_limit = 1: always TCP, so a dropped datagram on a busy machine cannot stall a test.
  return `[libdefaults]
 default_realm = ${KDC_REALM}
 dns_lookup_kdc = false
 dns_lookup_realm = false
 rdns = false
 dns_canonicalize_hostname = false
 udp_preference_limit = 1
 forwardable = false
 kdc_timesync = 0

[realms]
 ${KDC_REALM} = {
  kdc = 127.0.0.1:${port}
 }

[domain_realm]
 .openrms.test = ${KDC_REALM}
 openrms.test = ${KDC_REALM}
`;
}

/** Starts the KDC: about a second on an idle machine. Call `stop()` in afterAll. */
export async function startKdc(): Promise<KdcFixture> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'openrms-kdc-'));
  const krb5Config = path.join(dir, 'krb5.conf');
  const kdcProfile = path.join(dir, 'kdc.conf');
  const logFile = path.join(dir, 'kdc.log');
  const rcacheDir = path.join(dir, 'rcache');
  const keytab = path.join(dir, 'http-rms.keytab');
  const otherKeytab = path.join(dir, 'http-other.keytab');
  const bothKeytab = path.join(dir, 'http-both.keytab');
  const spn = `HTTP/${SERVICE_HOST}@${KDC_REALM}`;
  const otherSpn = `HTTP/${OTHER_SERVICE_HOST}@${KDC_REALM}`;
  const readLog = () => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };

  let kdc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let kdcOut = '';
  let stopped = false;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (kdc && kdc.exitCode === null && kdc.signalCode === null) {
      // EOF on the wrapper's stdin makes it kill krb5kdc; the group kill is the backstop.
      kdc.stdin?.end();
      if (!(await within(exited, 10_000))) {
        try {
          process.kill(-kdc.pid!, 'SIGKILL');
        } catch {
          // Gone.
        }
        await within(exited, 5_000);
      }
    }
    if (kdc?.pid) {
      try {
        process.kill(-kdc.pid, 'SIGKILL');
      } catch {
        // Nothing left in the group.
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const port = await freeTcpUdpPort();
    writeFileSync(kdcProfile, kdcConf(dir, port));
    writeFileSync(krb5Config, krb5Conf(port));
    writeFileSync(path.join(dir, 'kadm5.acl'), '');
    const env = { KRB5_CONFIG: krb5Config, KRB5RCACHEDIR: rcacheDir };
    const adminEnv = { KRB5_CONFIG: krb5Config, KRB5_KDC_PROFILE: kdcProfile };
    mkdirSync(rcacheDir);

    const master = randomBytes(24).toString('base64url');
    await mustRun('/usr/sbin/kdb5_util', ['-r', KDC_REALM, 'create', '-s', '-P', master], { env: adminEnv });
    const kadmin = (query: string) => mustRun('/usr/sbin/kadmin.local', ['-r', KDC_REALM, '-q', query], { env: adminEnv });
    for (const [user, password] of Object.entries(KDC_USERS)) await kadmin(`addprinc -pw ${password} ${user}@${KDC_REALM}`);
    await kadmin(`addprinc -randkey ${spn}`);
    await kadmin(`addprinc -randkey ${otherSpn}`);
    // ktadd re-randomizes keys unless -norandkey: the first export of each service sets its key,
    // the combined keytab then copies the same keys (kadmin.local only) so all three stay valid.
    await kadmin(`ktadd -k ${keytab} ${spn}`);
    await kadmin(`ktadd -k ${otherKeytab} ${otherSpn}`);
    await kadmin(`ktadd -k ${bothKeytab} -norandkey ${spn} ${otherSpn}`);

    // krb5kdc -n stays in the foreground; the wrapper kills it when our end of its stdin closes,
    // which also happens if this test process dies without calling stop().
    kdc = spawn(
      '/bin/sh',
      ['-c', '/usr/sbin/krb5kdc -n -r "$1" & k=$!; cat >/dev/null; kill $k 2>/dev/null; wait $k', 'kdc-wrapper', KDC_REALM],
      { env: { ...process.env, ...adminEnv }, stdio: ['pipe', 'pipe', 'pipe'], detached: true },
    );
    const child = kdc;
    child.stdout!.on('data', (d: Buffer) => (kdcOut += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (kdcOut += d.toString()));
    child.stdin!.on('error', () => undefined);
    exited = new Promise((resolve) => child.once('exit', () => resolve()));
    let gone = false;
    void exited.then(() => (gone = true));

    const deadline = Date.now() + DEADLINE_MS;
    while (!(await canConnect(port))) {
      if (gone) throw new Error(`krb5kdc exited before listening:\n${kdcOut}\n${readLog()}`);
      if (Date.now() > deadline) throw new Error(`krb5kdc not listening on 127.0.0.1:${port} after ${DEADLINE_MS} ms:\n${kdcOut}\n${readLog()}`);
      await delay(50);
    }

    let ccacheSeq = 0;
    const kinit = async (user: string, password: string): Promise<KinitResult> => {
      const ccache = `FILE:${path.join(dir, `cc-${user.replace(/[^A-Za-z0-9]/g, '_')}-${++ccacheSeq}`)}`;
      const clientEnv = { KRB5_CONFIG: krb5Config, KRB5CCNAME: ccache };
      const principal = user.includes('@') ? user : `${user}@${KDC_REALM}`;
      const r = await runCommand('/usr/bin/kinit', [principal], { env: clientEnv, input: `${password}\n` });
      if (r.code !== 0) throw new Error(`kinit ${principal} failed (${r.code}): ${r.stderr.trim()}\n${readLog()}`);
      return { ccache, env: clientEnv };
    };

    return { realm: KDC_REALM, dir, port, krb5Config, keytab, otherKeytab, bothKeytab, spn, otherSpn, env, kinit, log: readLog, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

// A separate process makes the token, as a browser or Office would: the acceptor under test never
// shares a GSS library state with the initiator. SPNEGO explicitly, because that is what
// `Authorization: Negotiate` carries (python-gssapi defaults to the raw krb5 mechanism).
const INITIATOR_PY = `
import base64, sys, gssapi
target = gssapi.Name(sys.argv[1], gssapi.NameType.hostbased_service)
spnego = gssapi.OID.from_int_seq('1.3.6.1.5.5.2')
flags = gssapi.RequirementFlag.mutual_authentication | gssapi.RequirementFlag.out_of_sequence_detection
ctx = gssapi.SecurityContext(name=target, mech=spnego, usage='initiate', flags=flags)
sys.stdout.write(base64.b64encode(ctx.step()).decode('ascii'))
`;

/**
 * A base64 SPNEGO token for `target` ('HTTP@rms.openrms.test'), made by python3-gssapi in a child
 * process holding the ccache in `ccacheEnv` (from `kinit`).
 */
export async function negotiateToken(ccacheEnv: Record<string, string>, target: string): Promise<string> {
  // Debian's python3 (not a pyenv one on PATH) is the one with python3-gssapi.
  const r = await runCommand('/usr/bin/python3', ['-c', INITIATOR_PY, target], { env: ccacheEnv });
  if (r.code !== 0) throw new Error(`initiator for ${target} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout.trim();
}

export interface CurlResult {
  status: number;
  /** Headers of the last response (after the Negotiate round trip), names lower-cased. */
  headers: Record<string, string>;
  body: string;
  /** curl's own stderr (verbose trace when `verbose` is set). */
  stderr: string;
}

/**
 * `curl --negotiate -u :` as a Kerberos client would call the server: `url` names the service host
 * (http://rms.openrms.test:<port>/…); `--resolve` sends it to 127.0.0.1 without DNS or /etc/hosts.
 * curl asks for the ticket of HTTP@<host of the url>, so the host in the url picks the SPN.
 */
export async function curlNegotiate(
  url: string,
  opts: {
    /** From `kinit` (KRB5_CONFIG + KRB5CCNAME). */
    env: Record<string, string>;
    method?: string;
    headers?: Record<string, string>;
    data?: string;
    verbose?: boolean;
    timeoutMs?: number;
  },
): Promise<CurlResult> {
  const u = new URL(url);
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'openrms-curl-'));
  try {
    const headerFile = path.join(dir, 'headers');
    const bodyFile = path.join(dir, 'body');
    const args = ['--negotiate', '-u', ':', '--resolve', `${u.hostname}:${port}:127.0.0.1`, '-sS', '-D', headerFile, '-o', bodyFile, '-w', '%{http_code}'];
    args.push('--max-time', String(Math.ceil((opts.timeoutMs ?? DEADLINE_MS) / 1000)));
    if (opts.verbose) args.push('-v');
    if (opts.method) args.push('-X', opts.method);
    for (const [k, v] of Object.entries(opts.headers ?? {})) args.push('-H', `${k}: ${v}`);
    if (opts.data !== undefined) args.push('--data-binary', '@-');
    args.push(url);
    const r = await runCommand('/usr/bin/curl', args, { env: opts.env, input: opts.data ?? '', timeoutMs: (opts.timeoutMs ?? DEADLINE_MS) + 5_000 });
    if (r.code !== 0) throw new Error(`curl ${url} failed (${r.code}): ${r.stderr.trim()}`);
    let rawHeaders = '';
    let body = '';
    try {
      rawHeaders = readFileSync(headerFile, 'latin1');
      body = readFileSync(bodyFile, 'utf8');
    } catch {
      // No body written (e.g. HEAD or empty answer).
    }
    // -D holds every response of the exchange (401 then the authenticated one): keep the last.
    const blocks = rawHeaders.split(/\r?\n\r?\n/).filter((b) => b.trim());
    const last = blocks[blocks.length - 1] ?? '';
    const headers: Record<string, string> = {};
    for (const line of last.split(/\r?\n/).slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) {
        const name = line.slice(0, i).trim().toLowerCase();
        const value = line.slice(i + 1).trim();
        headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
      }
    }
    return { status: Number(r.stdout.trim()), headers, body, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
