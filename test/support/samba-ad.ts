/**
 * A throw-away Active Directory domain controller for tests: Debian's Samba (`samba-tool domain
 * provision --server-role=dc`) on loopback, with the real AD schema (sAMAccountName,
 * userPrincipalName, proxyAddresses, objectGUID/objectSid, nested groups and the in-chain matching
 * rule) and its own KDC.
 *
 * - Samba's LDAP ports are fixed (389, 636, 3268, 3269 on 127.0.0.1), so only one DC runs on the
 *   machine at a time: `startSambaAd()` first takes an exclusive lock on LOCK_FILE (flock(1), held
 *   by a small child process, so the kernel drops it when the holder dies, however it dies) and
 *   jest workers or parallel runs queue behind it.
 * - Provisioning and seeding make a template directory under the OS temp dir, keyed by the Samba
 *   version and SEED_VERSION (about 5-10 s, once per machine); each run copies it (`cp -a`, well
 *   under a second) into its own directory and points the copy's smb.conf at it. Nothing in the
 *   database names its directory: only smb.conf does.
 * - `samba -i -M single` runs in the foreground in a process group of its own, with its stdin a
 *   pipe from this process; `stop()` signals the group and removes the run directory. An exit hook
 *   kills the group even when a test forgot to stop it, and the next run kills a DC that a killed
 *   worker left behind (its pid is kept beside the lock).
 *
 * Needs the Debian packages samba, samba-ad-dc, samba-ad-provision (the schema files;
 * `--no-install-recommends` leaves it out) and ldap-utils, and root (Samba checks it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freeTcpUdpPort } from './kdc';

export const AD_REALM = 'AD.OPENRMS.TEST';
export const AD_DOMAIN = 'OPENRMS';
export const AD_DNS_DOMAIN = 'ad.openrms.test';
export const AD_BASE_DN = 'DC=ad,DC=openrms,DC=test';
export const AD_URL = 'ldap://127.0.0.1';
export const AD_ADMIN_PASSWORD = 'Adm1nistrator-Pa55!';
/** The service principal the template's keytab holds (on the rms-svc account). */
export const AD_HTTP_SPN = `HTTP/rms.${AD_DNS_DOMAIN}`;

/** Bump when the seed below changes: it names the cached template. */
const SEED_VERSION = 'seed-5';
export const LOCK_FILE = path.join(os.tmpdir(), 'openrms-samba-ad.lock');
const PID_FILE = path.join(os.tmpdir(), 'openrms-samba-ad.pid');
/** Samba's Python modules live in Debian's python, not in a pyenv one earlier on PATH. */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const SCHEMA_FILE = '/usr/share/samba/setup/ad-schema/AD_DS_Attributes__Windows_Server_2012_R2.ldf';

export interface AdSeedUser {
  name: string;
  password: string;
  givenName?: string;
  surname?: string;
  mail?: string;
  proxyAddresses?: string[];
  disabled?: boolean;
  /** msDS-SupportedEncryptionTypes (24 = AES128 + AES256, what an administrator ticks for a service account). */
  supportedEncryptionTypes?: number;
}

export interface AdSeedGroup {
  name: string;
  mail?: string;
  /** sAMAccountNames of users and groups. */
  members: string[];
}

/**
 * The seed. No password contains its account name (AD's complexity rule may refuse that); carol's
 * is not ASCII, to show a simple bind sends UTF-8 that AD matches against its UTF-16 hash.
 */
export const AD_SEED_USERS: readonly AdSeedUser[] = [
  {
    name: 'alice',
    password: 'Wonderland-Rabbit-7!',
    givenName: 'Alice',
    surname: 'Liddell',
    mail: 'alice@ad.openrms.test',
    proxyAddresses: ['SMTP:alice@ad.openrms.test'],
  },
  {
    name: 'bob',
    password: 'Builder-Hammer-42!',
    mail: 'bob@ad.openrms.test',
    proxyAddresses: ['SMTP:bob@ad.openrms.test', 'smtp:robert@ad.openrms.test'],
  },
  { name: 'carol', password: 'Grüße-Straße-2026!', mail: 'carol@ad.openrms.test' },
  { name: 'dave', password: 'Locked-Out-Account-9!', mail: 'dave@ad.openrms.test', disabled: true },
  // The RMS server's account: its service bind, and the HTTP SPN's keys (AES only, not AD's RC4 default).
  { name: 'rms-svc', password: 'Service-Bind-Secret-5!', supportedEncryptionTypes: 24 },
];

export const AD_SEED_GROUPS: readonly AdSeedGroup[] = [
  { name: 'finance', mail: 'finance@ad.openrms.test', members: ['finance-emea'] },
  { name: 'finance-emea', mail: 'finance-emea@ad.openrms.test', members: ['bob'] },
  { name: 'staff', mail: 'staff@ad.openrms.test', members: ['alice'] },
];

export interface SambaAdTimings {
  /** Waiting for another test's DC to finish. */
  lockMs: number;
  /** Provision + seed + keytab; 0 when the cached template was used. */
  provisionMs: number;
  /** Copying the template into this run's directory. */
  copyMs: number;
  /** From spawning samba to the first LDAP answer on 127.0.0.1:389. */
  startMs: number;
  fromCache: boolean;
}

export interface SambaAd {
  url: string;
  baseDn: string;
  /** The service account rms-svc: a plain user, as an RMS server's bind account would be. */
  bindDn: string;
  bindPassword: string;
  realm: string;
  domain: string;
  adminDn: string;
  adminPassword: string;
  /** Each seeded user's password and DN (alice's CN is her display name, not her account name). */
  users: Record<string, { password: string; dn: string; disabled: boolean }>;
  /** A keytab with the keys of AD_HTTP_SPN (rms-svc's), for Negotiate tests against this KDC. */
  keytab: string;
  servicePrincipal: string;
  /** A krb5.conf naming this DC's KDC (127.0.0.1, `kdcPort`) for the realm, without DNS. */
  krb5Config: string;
  kdcPort: number;
  dir: string;
  timings: SambaAdTimings;
  /** Samba's output so far (for failure messages). */
  output(): string;
  /** Runs `samba-tool <args>` on this DC's own database (an oracle independent of LDAP clients); stdout. */
  sambaTool(args: string[]): string;
  /** Stops the DC, removes its directory, releases the lock. Safe to call twice. */
  stop(): Promise<void>;
}

/** Why this machine cannot run the DC, or null when it can. */
export function sambaAdUnavailable(): string | null {
  for (const bin of ['/usr/sbin/samba', '/usr/bin/samba-tool', '/usr/bin/ldapsearch', '/usr/bin/flock']) {
    if (!existsSync(bin)) return `${bin} is missing (install samba samba-ad-dc samba-ad-provision ldap-utils)`;
  }
  if (!existsSync(SCHEMA_FILE)) return `${SCHEMA_FILE} is missing: install the Debian package samba-ad-provision`;
  if (process.getuid?.() !== 0) return 'samba runs only as root';
  return null;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Run {
  const r = spawnSync(cmd, args, { input: opts.input, encoding: 'utf8', timeout: opts.timeoutMs ?? 180_000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function mustRun(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Run {
  const r = run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Async too: the event loop must stay free while we wait (the lock holder's pipe, timers). */
function runAsync(cmd: string, args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
    c.on('error', (e) => {
      clearTimeout(t);
      resolve({ code: -1, stdout, stderr: String(e) });
    });
  });
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.setTimeout(2000, () => {
      s.destroy();
      resolve(false);
    });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}


// ---------------------------------------------------------------------------------------------
// The machine-wide lock.

interface Lock {
  release(): void;
}

/**
 * flock(1) holds LOCK_FILE for as long as its `cat` reads our pipe: ending the pipe (release, or
 * this process dying) ends `cat` and the kernel drops the lock. No stale lock is ever left behind.
 */
async function acquireLock(timeoutMs: number): Promise<Lock> {
  const holder = spawn('flock', ['-x', LOCK_FILE, 'sh', '-c', 'echo locked; exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  const locked = new Promise<void>((resolve, reject) => {
    holder.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('locked')) resolve();
    });
    holder.stderr.on('data', (d: Buffer) => (out += d.toString()));
    holder.on('exit', (code) => reject(new Error(`flock ${LOCK_FILE} exited ${code}: ${out}`)));
    holder.on('error', reject);
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`another Samba AD DC held ${LOCK_FILE} for more than ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([locked, timeout]);
  } catch (e) {
    holder.kill('SIGKILL');
    throw e;
  } finally {
    clearTimeout(timer);
  }
  // The holder must not keep jest's worker alive, nor die with a stray EPIPE.
  holder.stdout.removeAllListeners('data');
  holder.removeAllListeners('exit');
  holder.on('exit', () => undefined);
  holder.stdin.on('error', () => undefined);
  holder.unref();
  (holder.stdin as unknown as { unref?: () => void }).unref?.();
  (holder.stdout as unknown as { unref?: () => void }).unref?.();
  (holder.stderr as unknown as { unref?: () => void }).unref?.();
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      holder.stdin.end();
      try {
        holder.kill('SIGTERM');
      } catch {
        // Gone.
      }
    },
  };
}

/**
 * What a worker killed before it could stop its DC left behind (we hold the lock now): the DC
 * itself (Samba ends on EOF on its stdin, but may not have yet) and its run directory.
 */
function killLeftover(): void {
  if (!existsSync(PID_FILE)) return;
  const [pidLine, leftDir] = readFileSync(PID_FILE, 'utf8').split('\n');
  rmSync(PID_FILE, { force: true });
  const pid = Number(pidLine?.trim());
  if (Number.isInteger(pid) && pid > 1) {
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      // Not running.
    }
    // Only if the pid was not reused by something else.
    if (cmdline.includes('samba')) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
    }
  }
  if (leftDir && path.basename(leftDir).startsWith('openrms-samba-ad-run-')) rmSync(leftDir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// The template: provision, seed, SPN and keytab, once per Samba version and seed.

const SEED_PY = String.raw`
import json, sys
import ldb
from samba import dsdb
from samba.auth import system_session
from samba.param import LoadParm
from samba.samdb import SamDB

cfg = json.load(sys.stdin)
lp = LoadParm()
lp.load(cfg['smbconf'])
db = SamDB(url=cfg['samdb'], session_info=system_session(), lp=lp)
base = str(db.domain_dn())

def dn_of(name):
    res = db.search(base, scope=ldb.SCOPE_SUBTREE, expression='(sAMAccountName=%s)' % ldb.binary_encode(name), attrs=[])
    if len(res) != 1:
        raise Exception('expected one entry for %s, found %d' % (name, len(res)))
    return str(res[0].dn)

out = {'users': {}, 'groups': {}}
for u in cfg['users']:
    db.newuser(u['name'], u['password'], useusernameascn=None, givenname=u.get('givenName'), surname=u.get('surname'), mailaddress=u.get('mail'))
    flt = '(sAMAccountName=%s)' % ldb.binary_encode(u['name'])
    # useusernameascn=None: the CN is the display name when there is one, as samba-tool and
    # Windows make it (alice's DN does not name her account).
    # The template may be reused for months: no password of it may expire.
    db.toggle_userAccountFlags(flt, dsdb.UF_DONT_EXPIRE_PASSWD, 'DONT_EXPIRE_PASSWD', on=True, strict=True)
    if u.get('proxyAddresses'):
        m = ldb.Message()
        m.dn = ldb.Dn(db, dn_of(u['name']))
        m['proxyAddresses'] = ldb.MessageElement(u['proxyAddresses'], ldb.FLAG_MOD_REPLACE, 'proxyAddresses')
        db.modify(m)
    if u.get('supportedEncryptionTypes'):
        m = ldb.Message()
        m.dn = ldb.Dn(db, dn_of(u['name']))
        m['msDS-SupportedEncryptionTypes'] = ldb.MessageElement(str(u['supportedEncryptionTypes']), ldb.FLAG_MOD_REPLACE, 'msDS-SupportedEncryptionTypes')
        db.modify(m)
    if u.get('disabled'):
        db.disable_account(flt)
    out['users'][u['name']] = dn_of(u['name'])
for g in cfg['groups']:
    db.newgroup(g['name'], mailaddress=g.get('mail'))
for g in cfg['groups']:
    if g['members']:
        db.add_remove_group_members(g['name'], g['members'], add_members_operation=True)
    out['groups'][g['name']] = dn_of(g['name'])
print(json.dumps(out))
`;

interface TemplateInfo {
  /** The directory the template was provisioned in: the only path its smb.conf names. */
  provisionedDir: string;
  users: Record<string, string>;
  groups: Record<string, string>;
  provisionMs: number;
}

function sambaVersion(): string {
  return mustRun('/usr/sbin/samba', ['-V']).stdout.trim().replace(/[^A-Za-z0-9.+-]/g, '_');
}

function templateDir(): string {
  return path.join(os.tmpdir(), `openrms-samba-ad-template-${sambaVersion()}-${SEED_VERSION}`);
}

/** Builds the template beside its final name and renames it into place (we hold the lock). */
function buildTemplate(final: string): TemplateInfo {
  const started = Date.now();
  const dir = `${final}.partial-${process.pid}`;
  // Builds that died half-way and templates of other seeds or Samba versions (we hold the lock:
  // nobody else is building or copying).
  for (const name of readdirSync(path.dirname(final))) {
    if (name.startsWith('openrms-samba-ad-template-')) rmSync(path.join(path.dirname(final), name), { recursive: true, force: true });
  }
  const smbConf = path.join(dir, 'etc', 'smb.conf');
  mustRun('samba-tool', [
    'domain',
    'provision',
    '--server-role=dc',
    '--dns-backend=NONE',
    `--realm=${AD_REALM}`,
    `--domain=${AD_DOMAIN}`,
    '--host-name=dc1',
    `--adminpass=${AD_ADMIN_PASSWORD}`,
    '--use-rfc2307',
    `--targetdir=${dir}`,
    '--option=interfaces = lo',
    '--option=bind interfaces only = yes',
    '--option=server services = ldap, kdc',
  ]);
  // Options provision does not carry into smb.conf (it drops `ldap server require strong auth`).
  const conf = readFileSync(smbConf, 'utf8').replace(
    /^\[global\]\n/m,
    [
      '[global]',
      // Simple binds over plain ldap:// (an RMS server's service bind, verifyPassword) on loopback.
      '\tldap server require strong auth = no',
      // Logs beside the run, not in /var/log/samba.
      `\tlog file = ${dir}/log.%m`,
      '\tlog level = 1',
      '',
    ].join('\n'),
  ).replace(/^\tlog file = \/var\/log\/samba\/log\.%m\n/m, '');
  writeFileSync(smbConf, conf);
  const samdb = path.join(dir, 'private', 'sam.ldb');
  const seeded = mustRun(PYTHON, ['-c', SEED_PY], {
    input: JSON.stringify({ smbconf: smbConf, samdb, users: AD_SEED_USERS, groups: AD_SEED_GROUPS }),
  });
  const { users, groups } = JSON.parse(seeded.stdout.trim().split('\n').pop()!) as { users: Record<string, string>; groups: Record<string, string> };
  mustRun('samba-tool', ['spn', 'add', AD_HTTP_SPN, 'rms-svc', '-H', samdb, '-s', smbConf]);
  mustRun('samba-tool', ['domain', 'exportkeytab', path.join(dir, 'http.keytab'), `--principal=${AD_HTTP_SPN}`, '-s', smbConf]);
  const info: TemplateInfo = { provisionedDir: dir, users, groups, provisionMs: Date.now() - started };
  writeFileSync(path.join(dir, 'template.json'), JSON.stringify(info, null, 2));
  rmSync(final, { recursive: true, force: true });
  renameSync(dir, final);
  return info;
}

function readTemplate(dir: string): TemplateInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(path.join(dir, 'template.json'), 'utf8')) as TemplateInfo;
    if (!existsSync(path.join(dir, 'private', 'sam.ldb')) || !existsSync(path.join(dir, 'http.keytab'))) return undefined;
    return info;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Processes to kill when this process exits, whatever the tests did.

const liveGroups = new Set<number>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pid of liveGroups) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Gone.
      }
    }
  });
}

async function ldapAnswers(): Promise<string | undefined> {
  const r = await runAsync('ldapsearch', ['-x', '-LLL', '-o', 'nettimeout=3', '-l', '3', '-H', AD_URL, '-s', 'base', '-b', '', 'defaultNamingContext'], 8000);
  return r.code === 0 ? r.stdout : undefined;
}

export interface StartSambaAdOptions {
  /** How long to wait for another DC's tests to finish; default 10 minutes. */
  lockTimeoutMs?: number;
  /** How long Samba may take to answer LDAP after it starts; default 120 s. */
  startTimeoutMs?: number;
  /** Provision afresh even when a template is cached. */
  fresh?: boolean;
}

/** Takes the lock, provisions (or copies the template), starts Samba and waits for LDAP. */
export async function startSambaAd(opts: StartSambaAdOptions = {}): Promise<SambaAd> {
  const why = sambaAdUnavailable();
  if (why) throw new Error(`cannot run a Samba AD DC here: ${why}`);
  installExitHook();

  const t0 = Date.now();
  const lock = await acquireLock(opts.lockTimeoutMs ?? 600_000);
  const lockMs = Date.now() - t0;
  let child: ChildProcess | undefined;
  let runDir: string | undefined;
  let out = '';
  const cleanup = async () => {
    if (child?.pid !== undefined) {
      const pid = child.pid;
      const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => child!.once('exit', () => r()));
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        // Gone.
      }
      const t = setTimeout(() => {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // Gone.
        }
      }, 5000);
      await exited;
      clearTimeout(t);
      // Whatever it forked goes with it.
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Nothing left.
      }
      liveGroups.delete(pid);
      rmSync(PID_FILE, { force: true });
    }
    if (runDir) rmSync(runDir, { recursive: true, force: true });
    lock.release();
  };

  try {
    killLeftover();
    if (await canConnect(389)) {
      const who = await ldapAnswers();
      throw new Error(`127.0.0.1:389 is already taken by another LDAP server (not ours; we hold the lock):\n${who ?? '(no LDAP answer)'}`);
    }

    // The template.
    const tpl = templateDir();
    let info = opts.fresh ? undefined : readTemplate(tpl);
    const fromCache = info !== undefined;
    if (!info) info = buildTemplate(tpl);
    const provisionMs = fromCache ? 0 : info.provisionMs;

    // This run's copy.
    const tc = Date.now();
    // The copy goes inside a fresh directory (cp -a makes `dc`); stop removes the whole of it.
    const parent = mkdtempSync(path.join(os.tmpdir(), 'openrms-samba-ad-run-'));
    runDir = parent;
    const dir = path.join(parent, 'dc');
    mustRun('cp', ['-a', tpl, dir]);
    const kdcPort = await freeTcpUdpPort();
    const kpasswdPort = await freeTcpUdpPort();
    const smbConf = path.join(dir, 'etc', 'smb.conf');
    const conf = readFileSync(smbConf, 'utf8')
      .split(info.provisionedDir)
      .join(dir)
      .replace(/^\[global\]\n/m, `[global]\n\tkrb5 port = ${kdcPort}\n\tkpasswd port = ${kpasswdPort}\n`);
    writeFileSync(smbConf, conf);
    const krb5Config = path.join(dir, 'krb5.conf');
    writeFileSync(
      krb5Config,
      [
        '[libdefaults]',
        `  default_realm = ${AD_REALM}`,
        '  dns_lookup_kdc = false',
        '  dns_lookup_realm = false',
        '  dns_canonicalize_hostname = false',
        '  rdns = false',
        '  udp_preference_limit = 1',
        '[realms]',
        `  ${AD_REALM} = {`,
        `    kdc = 127.0.0.1:${kdcPort}`,
        '  }',
        '[domain_realm]',
        `  .${AD_DNS_DOMAIN} = ${AD_REALM}`,
        `  ${AD_DNS_DOMAIN} = ${AD_REALM}`,
        '',
      ].join('\n'),
    );
    const copyMs = Date.now() - tc;

    // Start: foreground (-i), one process (-M single: less CPU and memory than prefork's workers),
    // a process group of its own, logs on stdout.
    const ts = Date.now();
    child = spawn('/usr/sbin/samba', ['-i', '-M', 'single', '-s', smbConf, '--debug-stdout', '--debuglevel=1'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, KRB5_CONFIG: krb5Config },
    });
    const pid = child.pid!;
    liveGroups.add(pid);
    writeFileSync(PID_FILE, `${pid}\n${parent}\n`);
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.stdin!.on('error', () => undefined);
    let exitedEarly: string | undefined;
    child.on('exit', (code, signal) => (exitedEarly = `samba exited (${code ?? signal})`));
    const deadline = Date.now() + (opts.startTimeoutMs ?? 120_000);
    let rootDse: string | undefined;
    while (!rootDse) {
      if (exitedEarly) throw new Error(`${exitedEarly} before LDAP answered:\n${out}`);
      if (Date.now() > deadline) throw new Error(`Samba did not answer LDAP on ${AD_URL} within ${opts.startTimeoutMs ?? 120_000} ms:\n${out}`);
      if (await canConnect(389)) rootDse = await ldapAnswers();
      if (!rootDse) await delay(200);
    }
    if (!rootDse.includes(AD_BASE_DN)) throw new Error(`the LDAP server on ${AD_URL} is not ours:\n${rootDse}`);
    // The KDC starts with the LDAP server, but give it the same proof of life.
    while (!(await canConnect(kdcPort))) {
      if (exitedEarly) throw new Error(`${exitedEarly} before its KDC listened:\n${out}`);
      if (Date.now() > deadline) throw new Error(`Samba's KDC did not listen on 127.0.0.1:${kdcPort}:\n${out}`);
      await delay(200);
    }
    const startMs = Date.now() - ts;

    const users: SambaAd['users'] = {};
    for (const u of AD_SEED_USERS) users[u.name] = { password: u.password, dn: info.users[u.name]!, disabled: u.disabled === true };
    const svc = users['rms-svc']!;
    let stopped: Promise<void> | undefined;
    return {
      url: AD_URL,
      baseDn: AD_BASE_DN,
      bindDn: svc.dn,
      bindPassword: svc.password,
      realm: AD_REALM,
      domain: AD_DOMAIN,
      adminDn: `CN=Administrator,CN=Users,${AD_BASE_DN}`,
      adminPassword: AD_ADMIN_PASSWORD,
      users,
      keytab: path.join(dir, 'http.keytab'),
      servicePrincipal: `${AD_HTTP_SPN}@${AD_REALM}`,
      krb5Config,
      kdcPort,
      dir,
      timings: { lockMs, provisionMs, copyMs, startMs, fromCache },
      output: () => out,
      sambaTool: (args) => mustRun('samba-tool', [...args, '-H', path.join(dir, 'private', 'sam.ldb'), '-s', smbConf]).stdout,
      stop: () => (stopped ??= cleanup()),
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
