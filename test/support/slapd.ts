/**
 * A private OpenLDAP directory for tests: its own temp directory, slapd.conf, back_mdb database,
 * free loopback ports, an optional ldaps listener with a CA made here, and the seed data below
 * loaded with slapadd before the first start (no network round trips, well under a second).
 * `stop()`/`start()` take the same directory down and up again on the same ports, so a test can
 * show an outage and a recovery; `close()` kills slapd and removes the directory.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const SLAPD = '/usr/sbin/slapd';
const SLAPADD = '/usr/sbin/slapadd';
const SCHEMA_DIR = '/etc/ldap/schema';
const MODULE_DIR = '/usr/lib/ldap';

export const SEED_BASE_DN = 'dc=openrms,dc=test';
export const SEED_REALM = 'OPENRMS.TEST';
export const SEED_BIND_DN = `cn=rms-svc,ou=services,${SEED_BASE_DN}`;
export const SEED_BIND_PASSWORD = 'svc-Secret-7f3a';

export interface SeedUser {
  uid: string;
  dn: string;
  password: string;
  mail: string[];
  displayName: string;
}

const person = (uid: string, displayName: string, mail: string[], password: string): SeedUser => ({
  uid,
  dn: `uid=${uid},ou=people,${SEED_BASE_DN}`,
  password,
  mail,
  displayName,
});

export const SEED_USERS = {
  alice: person('alice', 'Alice Liddell', ['alice@openrms.test'], 'alice-Pw-1'),
  /** Two mail values: the first is the primary address, the second an alias (mixed case on purpose). */
  bob: person('bob', 'Bob Builder', ['bob@openrms.test', 'Bob.Builder@openrms.test'], 'bob-Pw-2'),
  /** Has a Kerberos principal in another realm (krbPrincipalName). */
  carol: person('carol', 'Carol Kerr', ['carol@openrms.test'], 'carol-Pw-3'),
  /** Locked by the password policy (pwdAccountLockedTime). */
  dave: person('dave', 'Dave Locked', ['dave@openrms.test'], 'dave-Pw-4'),
  /** Member of a chain of 40 nested groups (depth limit). */
  erin: person('erin', 'Erin Deep', ['erin@openrms.test'], 'erin-Pw-5'),
  /** Account name made of filter metacharacters: only an exact, escaped match finds it. */
  odd: person('odd(name)*', 'Odd Name', ['odd@openrms.test'], 'odd-Pw-6'),
  /** frank and grace share an address: a lookup by it is ambiguous. */
  frank: person('frank', 'Frank Shared', ['shared@openrms.test'], 'frank-Pw-7'),
  grace: person('grace', 'Grace Shared', ['shared@openrms.test'], 'grace-Pw-8'),
} as const;

export const SEED_CAROL_PRINCIPAL = 'carol.k@PARTNER.TEST';
export const SEED_LOCKED_TIME = '000001010000Z';
export const SEED_CHAIN_LENGTH = 40;

const groupDn = (cn: string) => `cn=${cn},ou=groups,${SEED_BASE_DN}`;
export const SEED_GROUPS = {
  /** groupOfNames with a mail; its member is the group finance-emea. */
  finance: { cn: 'finance', dn: groupDn('finance'), mail: 'finance@openrms.test' },
  /** groupOfUniqueNames with a mail; uniqueMember bob. */
  financeEmea: { cn: 'finance-emea', dn: groupDn('finance-emea'), mail: 'finance-emea@openrms.test' },
  /** groupOfNames without a mail; member alice. */
  staff: { cn: 'staff', dn: groupDn('staff'), mail: null },
  /** cycle-a has carol and cycle-b; cycle-b has cycle-a. */
  cycleA: { cn: 'cycle-a', dn: groupDn('cycle-a'), mail: 'cycle-a@openrms.test' },
  cycleB: { cn: 'cycle-b', dn: groupDn('cycle-b'), mail: null },
} as const;
/** chain-01 has erin; chain-N has chain-(N-1). */
export const seedChainGroup = (n: number) => `chain-${String(n).padStart(2, '0')}`;

export interface SlapdOptions {
  /** Also listen on ldaps:// with a certificate from a CA made for this directory. */
  tls?: boolean;
}

export interface Slapd {
  url: string;
  ldapsUrl?: string;
  /** PEM of the CA that issued the directory's certificate (also used for StartTLS on `url`). */
  caPem?: string;
  baseDn: string;
  bindDn: string;
  bindPassword: string;
  realm: string;
  dir: string;
  /** Takes the directory down (its connections close); the data stays. */
  stop(): Promise<void>;
  /** Brings it up again on the same ports. */
  start(): Promise<void>;
  /** Freezes slapd (SIGSTOP): connections stay open and nothing answers. */
  pause(): void;
  resume(): void;
  /** Stops slapd for good and removes its directory. */
  close(): Promise<void>;
}

/** Every slapd of this process and its directory, killed and removed on exit even when a test forgot to close it. */
const live = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) {
      try {
        c.kill('SIGKILL');
      } catch {
        // Already gone.
      }
    }
    for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
  });
}

function ssha(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash('sha1').update(password).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

/** A DN value with the RFC 4514 specials escaped (the seed's odd account name needs it). */
function dnValue(v: string): string {
  return v.replace(/[\\,+"<>;=#]/g, (c) => `\\${c}`);
}

function ldif(entries: Array<[string, Array<[string, string]>]>): string {
  return entries
    .map(([dn, attrs]) => [`dn: ${dn}`, ...attrs.map(([k, v]) => `${k}: ${v}`)].join('\n'))
    .join('\n\n')
    .concat('\n');
}

export function seedLdif(): string {
  const b = SEED_BASE_DN;
  const entries: Array<[string, Array<[string, string]>]> = [
    [b, [['objectClass', 'dcObject'], ['objectClass', 'organization'], ['dc', 'openrms'], ['o', 'OpenRMS test']]],
    ...['people', 'groups', 'services', 'policies'].map((ou): [string, Array<[string, string]>] => [
      `ou=${ou},${b}`,
      [['objectClass', 'organizationalUnit'], ['ou', ou]],
    ]),
    [
      SEED_BIND_DN,
      [['objectClass', 'applicationProcess'], ['objectClass', 'simpleSecurityObject'], ['cn', 'rms-svc'], ['userPassword', ssha(SEED_BIND_PASSWORD)]],
    ],
    [
      `cn=default,ou=policies,${b}`,
      [
        ['objectClass', 'device'],
        ['objectClass', 'pwdPolicy'],
        ['cn', 'default'],
        ['pwdAttribute', 'userPassword'],
        ['pwdLockout', 'TRUE'],
        ['pwdMaxFailure', '0'],
      ],
    ],
  ];
  for (const u of Object.values(SEED_USERS)) {
    // LDIF values of one attribute must be contiguous: slapadd keeps only the last run.
    const attrs: Array<[string, string]> = [
      ['objectClass', 'inetOrgPerson'],
      ...(u.uid === 'carol' ? ([['objectClass', 'krbPrincipalAux']] as Array<[string, string]>) : []),
      ['uid', u.uid],
      ['cn', u.displayName],
      ['sn', u.displayName.split(' ')[1] ?? u.uid],
      ['displayName', u.displayName],
      ...u.mail.map((m): [string, string] => ['mail', m]),
      ['userPassword', ssha(u.password)],
    ];
    if (u.uid === 'carol') attrs.push(['krbPrincipalName', SEED_CAROL_PRINCIPAL]);
    if (u.uid === 'dave') attrs.push(['pwdAccountLockedTime', SEED_LOCKED_TIME]);
    entries.push([`uid=${dnValue(u.uid)},ou=people,${b}`, attrs]);
  }
  const g = SEED_GROUPS;
  const group = (cn: string, cls: 'groupOfNames' | 'groupOfUniqueNames', members: string[], mail: string | null): [string, Array<[string, string]>] => [
    groupDn(cn),
    [
      ['objectClass', cls],
      ...(mail ? ([['objectClass', 'extensibleObject']] as Array<[string, string]>) : []),
      ['cn', cn],
      ...(mail ? ([['mail', mail]] as Array<[string, string]>) : []),
      ...members.map((m): [string, string] => [cls === 'groupOfNames' ? 'member' : 'uniqueMember', m]),
    ],
  ];
  entries.push(
    group(g.financeEmea.cn, 'groupOfUniqueNames', [SEED_USERS.bob.dn], g.financeEmea.mail),
    group(g.finance.cn, 'groupOfNames', [g.financeEmea.dn], g.finance.mail),
    group(g.staff.cn, 'groupOfNames', [SEED_USERS.alice.dn], null),
    group(g.cycleA.cn, 'groupOfNames', [SEED_USERS.carol.dn, g.cycleB.dn], g.cycleA.mail),
    group(g.cycleB.cn, 'groupOfNames', [g.cycleA.dn], null),
  );
  for (let n = 1; n <= SEED_CHAIN_LENGTH; n++) {
    entries.push(group(seedChainGroup(n), 'groupOfNames', [n === 1 ? SEED_USERS.erin.dn : groupDn(seedChainGroup(n - 1))], null));
  }
  return ldif(entries);
}

/** The MIT Kerberos LDAP schema's principal name, enough of it for a test (Debian ships it only with krb5-kdc-ldap). */
const KERBEROS_SCHEMA = `attributetype ( 1.2.840.113554.1.4.1.6.1 NAME 'krbPrincipalName'
  EQUALITY caseExactIA5Match SUBSTR caseExactSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )
objectclass ( 1.2.840.113554.1.4.2.8 NAME 'krbPrincipalAux' SUP top AUXILIARY MAY ( krbPrincipalName ) )
`;

function slapdConf(dir: string, tls: boolean): string {
  return `${['core', 'cosine', 'inetorgperson', 'nis'].map((s) => `include ${SCHEMA_DIR}/${s}.schema`).join('\n')}
include ${dir}/kerberos.schema
modulepath ${MODULE_DIR}
moduleload back_mdb
moduleload ppolicy
pidfile ${dir}/slapd.pid
argsfile ${dir}/slapd.args
${tls ? `TLSCACertificateFile ${dir}/ca.pem\nTLSCertificateFile ${dir}/server.pem\nTLSCertificateKeyFile ${dir}/server.key\n` : ''}
database mdb
suffix "${SEED_BASE_DN}"
rootdn "cn=admin,${SEED_BASE_DN}"
directory ${dir}/db
maxsize 16777216
overlay ppolicy
ppolicy_default "cn=default,ou=policies,${SEED_BASE_DN}"
ppolicy_use_lockout

access to attrs=userPassword
  by self write
  by anonymous auth
  by * none
access to *
  by dn.exact="${SEED_BIND_DN}" read
  by self read
  by * none
`;
}

function run(cmd: string, args: string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}${r.stdout}`);
}

function makeCa(dir: string): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('openssl', ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=OpenRMS slapd test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  run('openssl', ['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'], dir);
  writeFileSync(
    path.join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n',
  );
  run('openssl', ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext'], dir);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
    sock.setTimeout(2000, () => done(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startSlapd(opts: SlapdOptions = {}): Promise<Slapd> {
  installExitHook();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'openrms-slapd-'));
  liveDirs.add(dir);
  const tls = opts.tls === true;
  try {
    mkdirSync(path.join(dir, 'db'));
    writeFileSync(path.join(dir, 'kerberos.schema'), KERBEROS_SCHEMA);
    if (tls) makeCa(dir);
    writeFileSync(path.join(dir, 'slapd.conf'), slapdConf(dir, tls));
    writeFileSync(path.join(dir, 'seed.ldif'), seedLdif());
    run(SLAPADD, ['-q', '-f', path.join(dir, 'slapd.conf'), '-l', path.join(dir, 'seed.ldif')], dir);
  } catch (e) {
    liveDirs.delete(dir);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  let port = 0;
  let tlsPort = 0;
  let child: ChildProcess | undefined;
  let watchdog: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const launch = async (): Promise<void> => {
    const urls = [`ldap://127.0.0.1:${port}/`, ...(tls ? [`ldaps://127.0.0.1:${tlsPort}/`] : [])].join(' ');
    // -d 0 keeps slapd in the foreground, so this process owns it and sees it exit.
    const c = spawn(SLAPD, ['-f', path.join(dir, 'slapd.conf'), '-h', urls, '-d', '0'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child = c;
    live.add(c);
    let hasExited = false;
    exited = new Promise((resolve) =>
      c.once('exit', () => {
        hasExited = true;
        live.delete(c);
        resolve();
      }),
    );
    // If this process dies without running its exit hook (SIGKILL of a jest worker), nothing
    // else would stop slapd: a watchdog does, checking the pid is still a slapd first.
    const wd = spawn(
      '/bin/sh',
      ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 2; done; [ "$(cat /proc/${c.pid}/comm 2>/dev/null)" = slapd ] && kill -9 ${c.pid}`],
      { stdio: 'ignore', detached: true },
    );
    wd.unref();
    watchdog = wd;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (hasExited) throw new Error(`slapd exited during start-up: ${out}`);
      const ok = (await canConnect(port)) && (!tls || (await canConnect(tlsPort)));
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`slapd did not listen on 127.0.0.1:${port} within 30 s: ${out}`);
      await sleep(20);
    }
  };

  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (watchdog?.pid) {
      try {
        process.kill(watchdog.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    watchdog = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill('SIGCONT');
    c.kill('SIGTERM');
    const killer = setTimeout(() => c.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
  };

  // Another process may take a free port between the probe and slapd's bind: try a few times.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    tlsPort = tls ? await freePort() : 0;
    try {
      await launch();
      break;
    } catch (e) {
      await stop();
      if (attempt >= 3) {
        liveDirs.delete(dir);
        rmSync(dir, { recursive: true, force: true });
        throw e;
      }
    }
  }

  return {
    url: `ldap://127.0.0.1:${port}`,
    ldapsUrl: tls ? `ldaps://127.0.0.1:${tlsPort}` : undefined,
    caPem: tls ? readFileSync(path.join(dir, 'ca.pem'), 'utf8') : undefined,
    baseDn: SEED_BASE_DN,
    bindDn: SEED_BIND_DN,
    bindPassword: SEED_BIND_PASSWORD,
    realm: SEED_REALM,
    dir,
    stop,
    async start() {
      if (child) return;
      await launch();
    },
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    async close() {
      await stop();
      liveDirs.delete(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
