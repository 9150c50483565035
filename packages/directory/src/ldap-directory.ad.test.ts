/**
 * LdapDirectory (kind 'ad') against a real Active Directory schema: Samba's AD domain controller
 * on loopback (test/support/samba-ad.ts), seeded with samba-tool's own library. Expected ids come
 * from samba-tool reading the DC's database, not from an LDAP client, so the objectGUID/objectSid
 * decoding is checked against Samba's.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isRmsError, type DirectoryUser, type LdapDirectoryConfig } from '@openrms/domain';
import { type SambaAd, startSambaAd } from '../../../test/support/samba-ad';
import { LdapDirectory } from './ldap-directory';

const TSX = path.resolve(__dirname, '../../../node_modules/.bin/tsx');
const CONFIG_INDEX = path.resolve(__dirname, '../../config/src/index.ts');
const DIRECTORY_INDEX = path.resolve(__dirname, 'index.ts');

/** A Windows-like client: python3-gssapi makes the SPNEGO token from the ccache kinit filled. */
const INITIATOR_PY = `
import base64, sys, gssapi
target = gssapi.Name(sys.argv[1], gssapi.NameType.hostbased_service)
spnego = gssapi.OID.from_int_seq('1.3.6.1.5.5.2')
ctx = gssapi.SecurityContext(name=target, mech=spnego, usage='initiate', flags=gssapi.RequirementFlag.mutual_authentication)
sys.stdout.write(base64.b64encode(ctx.step()).decode('ascii'))
`;

/**
 * The server side in a process of its own: the Kerberos library reads KRB5_KTNAME from the C
 * environment, which jest's copy of process.env never reaches. It sets the keytab as the server's
 * start-up does and prints what the acceptor made of each token.
 */
const ACCEPTOR_DRIVER = `
const { useKerberosAcceptorKeytab } = require(${JSON.stringify(CONFIG_INDEX)});
const { KerberosNegotiateAcceptor } = require(${JSON.stringify(DIRECTORY_INDEX)});
const [keytab, krb5Config, spn, ...tokens] = process.argv.slice(2);
(async () => {
  useKerberosAcceptorKeytab(keytab, krb5Config);
  const acceptor = new KerberosNegotiateAcceptor({ keytab, spn });
  for (const token of tokens) {
    try {
      process.stdout.write(JSON.stringify({ ok: true, principal: (await acceptor.accept(token)).principal }) + '\\n');
    } catch (e) {
      process.stdout.write(JSON.stringify({ ok: false, code: e.code, message: String(e.message) }) + '\\n');
    }
  }
})();
`;

jest.setTimeout(180_000);

let ad: SambaAd;
let dir: LdapDirectory;

function config(overrides: Partial<LdapDirectoryConfig> = {}): LdapDirectoryConfig {
  return {
    kind: 'ad',
    url: ad.url,
    bindDn: ad.bindDn,
    bindPassword: ad.bindPassword,
    baseDn: ad.baseDn,
    startTls: false,
    realm: ad.realm,
    ...overrides,
  };
}

/** `samba-tool user|group show NAME --attributes=…` as a map (Samba decodes GUIDs and SIDs itself). */
function show(kind: 'user' | 'group', name: string, attrs: string[]): Record<string, string> {
  const out = ad.sambaTool([kind, 'show', name, `--attributes=${attrs.join(',')}`]);
  const r: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const m = /^([A-Za-z]+): (.*)$/.exec(line);
    if (m) r[m[1]!] = m[2]!;
  }
  return r;
}

async function mustFind(by: 'logon' | 'email' | 'kerberos', value: string): Promise<DirectoryUser> {
  const u = await dir.findUser({ by, value } as never);
  if (!u) throw new Error(`${by} ${value}: not found`);
  return u;
}

beforeAll(async () => {
  ad = await startSambaAd();
  // The timings of this run, for whoever reads the log of a slow suite.
  // eslint-disable-next-line no-console
  console.log(`Samba AD DC ready: ${JSON.stringify(ad.timings)}`);
  dir = new LdapDirectory(config());
});

afterAll(async () => {
  await dir?.close();
  await ad?.stop();
});

describe('LdapDirectory against a Samba AD DC', () => {
  it('binds its service account with a simple bind over ldap://', async () => {
    await expect(dir.checkConnection()).resolves.toBeUndefined();
  });

  it('finds alice by sAMAccountName with every attribute AD keeps for her', async () => {
    const alice = await mustFind('logon', 'alice');
    expect(alice).toMatchObject({
      source: 'ad',
      // Her CN is her display name, as Windows and samba-tool make it: the DN does not name her account.
      dn: ad.users.alice!.dn,
      name: 'alice',
      userPrincipalName: 'alice@ad.openrms.test',
      displayName: 'Alice Liddell',
      email: 'alice@ad.openrms.test',
      aliases: [],
      disabled: false,
    });
    expect(alice.dn).toBe('CN=Alice Liddell,CN=Users,DC=ad,DC=openrms,DC=test');
  });

  it('finds alice as OPENRMS\\alice, by her UPN, by e-mail, in any case', async () => {
    const byName = await mustFind('logon', 'alice');
    for (const [by, value] of [
      ['logon', 'OPENRMS\\alice'],
      ['logon', 'openrms\\ALICE'],
      ['logon', 'alice@ad.openrms.test'],
      ['logon', 'Alice@AD.OpenRMS.test'],
      ['email', 'alice@ad.openrms.test'],
      ['email', 'ALICE@AD.OPENRMS.TEST'],
    ] as const) {
      const u = await mustFind(by, value);
      expect({ by, value, id: u.externalId, name: u.name }).toEqual({ by, value, id: byName.externalId, name: 'alice' });
    }
  });

  it('decodes objectGUID and objectSid exactly as Samba does', async () => {
    for (const name of ['alice', 'bob', 'dave']) {
      const u = await mustFind('logon', name);
      const samba = show('user', name, ['objectGUID', 'objectSid']);
      expect(u.externalId).toBe(samba.objectGUID);
      expect(u.externalId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(u.sid).toBe(samba.objectSid);
      expect(u.sid).toMatch(/^S-1-5-21-\d+-\d+-\d+-\d+$/);
    }
    const finance = await dir.findGroup('finance');
    expect(finance?.externalId).toBe(show('group', 'finance', ['objectGUID']).objectGUID);
  });

  it('finds bob by his alias: the primary SMTP address is his e-mail, the smtp: one an alias', async () => {
    const bob = await mustFind('email', 'robert@ad.openrms.test');
    expect(bob.name).toBe('bob');
    expect(bob.email).toBe('bob@ad.openrms.test');
    expect(bob.aliases).toEqual(['robert@ad.openrms.test']);
    // The alias answers in any case too (AD compares proxyAddresses case-insensitively).
    expect((await mustFind('email', 'Robert@AD.openrms.TEST')).externalId).toBe(bob.externalId);
    // An alias is an e-mail address, not a logon name the DC knows.
    expect((await mustFind('logon', 'robert@ad.openrms.test')).externalId).toBe(bob.externalId);
  });

  it('takes the mail attribute as the e-mail when there are no proxyAddresses', async () => {
    const carol = await mustFind('logon', 'carol');
    expect(carol.email).toBe('carol@ad.openrms.test');
    expect(carol.aliases).toEqual([]);
    expect(carol.groups).toEqual([]);
  });

  it("gives bob's nested groups with their paths (the in-chain rule) and nothing else", async () => {
    const bob = await mustFind('logon', 'bob');
    const byName = Object.fromEntries(bob.groups.map((g) => [g.name, g]));
    expect(Object.keys(byName).sort()).toEqual(['finance', 'finance-emea']);
    expect(byName['finance-emea']).toEqual({
      externalId: show('group', 'finance-emea', ['objectGUID']).objectGUID,
      dn: 'CN=finance-emea,CN=Users,DC=ad,DC=openrms,DC=test',
      name: 'finance-emea',
      email: 'finance-emea@ad.openrms.test',
      path: ['finance-emea'],
    });
    expect(byName.finance).toEqual({
      externalId: show('group', 'finance', ['objectGUID']).objectGUID,
      dn: 'CN=finance,CN=Users,DC=ad,DC=openrms,DC=test',
      name: 'finance',
      email: 'finance@ad.openrms.test',
      path: ['finance-emea', 'finance'],
    });
  });

  it("gives alice her direct group only (Domain Users is a primary group, not a member value)", async () => {
    const alice = await mustFind('logon', 'alice');
    expect(alice.groups.map((g) => [g.name, g.email, g.path])).toEqual([['staff', 'staff@ad.openrms.test', ['staff']]]);
  });

  it('finds a group by name or e-mail, with an empty path', async () => {
    const byName = await dir.findGroup('finance-emea');
    expect(byName).toMatchObject({ name: 'finance-emea', email: 'finance-emea@ad.openrms.test', path: [] });
    const byMail = await dir.findGroup('FINANCE@ad.openrms.test');
    expect(byMail).toMatchObject({ name: 'finance', email: 'finance@ad.openrms.test', path: [] });
    await expect(dir.findGroup('alice')).resolves.toBeUndefined();
    await expect(dir.findGroup('no-such-group')).resolves.toBeUndefined();
  });

  it('reads userAccountControl: dave is disabled and cannot sign in with his right password', async () => {
    const dave = await mustFind('logon', 'dave');
    expect(dave.disabled).toBe(true);
    expect(show('user', 'dave', ['userAccountControl']).userAccountControl).toBe(String(0x10000 | 0x200 | 0x2));
    await expect(dir.verifyPassword(dave, ad.users.dave!.password)).resolves.toBe(false);
    expect((await mustFind('logon', 'bob')).disabled).toBe(false);
  });

  it('maps a Kerberos principal of its realm to the account', async () => {
    const bob = await mustFind('kerberos', 'bob@AD.OPENRMS.TEST');
    expect(bob.name).toBe('bob');
    expect((await mustFind('kerberos', 'bob@ad.openrms.test')).externalId).toBe(bob.externalId);
    // Another realm's bob is not ours.
    await expect(dir.findUser({ by: 'kerberos', value: 'bob@OTHER.TEST' })).resolves.toBeUndefined();
    await expect(dir.findUser({ by: 'kerberos', value: 'bob' })).resolves.toBeUndefined();
  });

  it('checks passwords with a bind as the user: right, wrong, empty, and a non-ASCII one', async () => {
    const alice = await mustFind('logon', 'alice');
    await expect(dir.verifyPassword(alice, ad.users.alice!.password)).resolves.toBe(true);
    await expect(dir.verifyPassword(alice, `${ad.users.alice!.password}x`)).resolves.toBe(false);
    await expect(dir.verifyPassword(alice, ad.users.alice!.password.toUpperCase())).resolves.toBe(false);
    await expect(dir.verifyPassword(alice, '')).resolves.toBe(false);
    await expect(dir.verifyPassword(alice, ad.users.bob!.password)).resolves.toBe(false);
    const carol = await mustFind('logon', 'carol');
    await expect(dir.verifyPassword(carol, ad.users.carol!.password)).resolves.toBe(true);
    await expect(dir.verifyPassword(carol, ad.users.carol!.password.normalize('NFD'))).resolves.toBe(false);
  });

  it('treats filter syntax in a query as plain text', async () => {
    for (const value of ['*)(sAMAccountName=*', '*', 'ali*', '*)(|(objectClass=*)', 'alice)(mail=*', 'OPENRMS\\*', '*@ad.openrms.test']) {
      await expect(dir.findUser({ by: 'logon', value })).resolves.toBeUndefined();
      await expect(dir.findUser({ by: 'email', value })).resolves.toBeUndefined();
      await expect(dir.findUser({ by: 'kerberos', value: `${value}@AD.OPENRMS.TEST` })).resolves.toBeUndefined();
      await expect(dir.findGroup(value)).resolves.toBeUndefined();
    }
  });

  it('leaves out computer accounts and knows nobody for unknown names', async () => {
    // The DC's own machine account is objectClass=user too, but not objectCategory=person.
    expect(ad.sambaTool(['computer', 'list'])).toMatch(/DC1\$/);
    await expect(dir.findUser({ by: 'logon', value: 'DC1$' })).resolves.toBeUndefined();
    await expect(dir.findUser({ by: 'logon', value: 'mallory' })).resolves.toBeUndefined();
    await expect(dir.findUser({ by: 'email', value: 'mallory@ad.openrms.test' })).resolves.toBeUndefined();
    await expect(dir.findUser({ by: 'logon', value: '' })).resolves.toBeUndefined();
  });

  it('answers Unavailable when the DC refuses the service bind', async () => {
    const wrong = new LdapDirectory(config({ bindPassword: 'not-the-password' }));
    try {
      const e = await wrong.findUser({ by: 'logon', value: 'alice' }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isRmsError(e) && e.code).toBe('Unavailable');
      expect(String((e as Error).message)).not.toContain('not-the-password');
    } finally {
      await wrong.close();
    }
  });

  it("signs alice on with a ticket from the DC's KDC for the SPN it exported, and maps the principal to her account", () => {
    const env = { ...process.env, KRB5_CONFIG: ad.krb5Config, KRB5RCACHEDIR: path.join(ad.dir, 'rcache') };
    mkdirSync(env.KRB5RCACHEDIR, { recursive: true });
    const tokenFor = (user: string, target: string): string => {
      const ccEnv = { ...env, KRB5CCNAME: `FILE:${path.join(ad.dir, `cc-${user}`)}` };
      const kinit = spawnSync('kinit', [`${user}@${ad.realm}`], { env: ccEnv, input: `${ad.users[user]!.password}\n`, encoding: 'utf8' });
      expect(kinit.stderr).toBe('');
      const r = spawnSync('/usr/bin/python3', ['-c', INITIATOR_PY, target], { env: ccEnv, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`initiator: ${r.stderr}`);
      return r.stdout.trim();
    };
    const good = tokenFor('alice', 'HTTP@rms.ad.openrms.test');
    // A ticket for another service of the same realm (the DC's own host) must not pass.
    const other = tokenFor('bob', 'host@dc1.ad.openrms.test');
    const script = path.join(ad.dir, 'acceptor-driver.ts');
    writeFileSync(script, ACCEPTOR_DRIVER);
    const r = spawnSync(TSX, [script, ad.keytab, ad.krb5Config, ad.servicePrincipal, good, other], { env, encoding: 'utf8', timeout: 60_000 });
    const answers = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { ok: boolean; principal?: string; code?: string });
    expect({ answers, stderr: r.stderr }).toMatchObject({ answers: [{ ok: true, principal: 'alice@AD.OPENRMS.TEST' }, { ok: false, code: 'AuthenticationRequired' }] });
    return dir.findUser({ by: 'kerberos', value: answers[0]!.principal! }).then((u) => {
      expect(u?.name).toBe('alice');
      expect(u?.email).toBe('alice@ad.openrms.test');
    });
  });

  it('answers Unavailable once the DC is gone (last: it stops the DC)', async () => {
    const alice = await mustFind('logon', 'alice');
    await ad.stop();
    const e = await dir.findUser({ by: 'logon', value: 'alice' }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isRmsError(e) && e.code).toBe('Unavailable');
    const p = await dir.verifyPassword(alice, ad.users.alice!.password).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isRmsError(p) && p.code).toBe('Unavailable');
  });
});
