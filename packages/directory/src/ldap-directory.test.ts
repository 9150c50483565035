import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isRmsError, type DirectoryUser, type LdapDirectoryConfig } from '@openrms/domain';
import {
  SEED_CAROL_PRINCIPAL,
  SEED_GROUPS,
  SEED_USERS,
  seedChainGroup,
  startSlapd,
  type Slapd,
} from '../../../test/support/slapd';
import { DEFAULT_ATTRIBUTES, guidToString, LdapDirectory, MAX_GROUP_DEPTH, sidToString, validateLdapConfig } from './ldap-directory';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let slapd: Slapd;
let dir: LdapDirectory;
const opened: LdapDirectory[] = [];

function config(over: Partial<LdapDirectoryConfig> = {}): LdapDirectoryConfig {
  return {
    kind: 'ldap',
    url: slapd.url,
    bindDn: slapd.bindDn,
    bindPassword: slapd.bindPassword,
    baseDn: slapd.baseDn,
    startTls: false,
    realm: slapd.realm,
    timeoutMs: 3000,
    ...over,
  };
}

function provider(over: Partial<LdapDirectoryConfig> = {}): LdapDirectory {
  const d = new LdapDirectory(config(over));
  opened.push(d);
  return d;
}

async function unavailable(p: Promise<unknown>): Promise<Error> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  if (!isRmsError(e, 'Unavailable')) throw new Error(`expected RmsError Unavailable, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  return e;
}

async function user(by: 'logon' | 'email' | 'kerberos', value: string, d: LdapDirectory = dir): Promise<DirectoryUser | undefined> {
  return d.findUser({ by, value });
}

beforeAll(async () => {
  slapd = await startSlapd({ tls: true });
  dir = provider();
});

afterAll(async () => {
  for (const d of opened) await d.close();
  await slapd?.close();
});

describe('findUser', () => {
  it('finds a person by account name, DOMAIN\\name and name@suffix, with every field filled', async () => {
    const alice = await user('logon', 'alice');
    expect(alice).toMatchObject({
      source: 'ldap',
      dn: SEED_USERS.alice.dn,
      name: 'alice',
      userPrincipalName: null,
      displayName: 'Alice Liddell',
      email: 'alice@openrms.test',
      aliases: [],
      sid: null,
      disabled: false,
    });
    expect(alice!.externalId).toMatch(UUID);
    expect((await user('logon', 'OPENRMS\\alice'))?.dn).toBe(SEED_USERS.alice.dn);
    expect((await user('logon', 'alice@openrms.test'))?.dn).toBe(SEED_USERS.alice.dn);
    expect((await user('logon', 'ALICE@OPENRMS.TEST'))?.dn).toBe(SEED_USERS.alice.dn);
    expect(await user('logon', 'nobody')).toBeUndefined();
    expect(await user('logon', 'OPENRMS\\nobody')).toBeUndefined();
  });

  it('maps name@REALM to the account name only when REALM is the configured one', async () => {
    // odd's address is odd@openrms.test, so only its account name can match here.
    expect((await user('logon', 'odd(name)*@openrms.test'))?.dn).toBe(SEED_USERS.odd.dn);
    expect(await user('logon', 'odd(name)*@other.test')).toBeUndefined();
    expect(await user('logon', 'odd(name)*@openrms.test', provider({ realm: undefined }))).toBeUndefined();
  });

  it('finds a person by the primary address or an alias, case-insensitively; aliases are lower-cased', async () => {
    const bob = await user('email', 'bob@openrms.test');
    expect(bob).toMatchObject({ name: 'bob', email: 'bob@openrms.test', aliases: ['bob.builder@openrms.test'] });
    expect((await user('email', 'BOB.BUILDER@openrms.test'))?.dn).toBe(SEED_USERS.bob.dn);
    expect((await user('logon', 'bob.builder@openrms.test'))?.dn).toBe(SEED_USERS.bob.dn);
    expect(await user('email', 'nobody@openrms.test')).toBeUndefined();
  });

  it('answers undefined when an address names two people', async () => {
    expect(await user('email', 'shared@openrms.test')).toBeUndefined();
    expect(await user('logon', 'frank')).toMatchObject({ email: 'shared@openrms.test' });
  });

  it('finds a person by Kerberos principal: krbPrincipalName, or name@REALM for the configured realm', async () => {
    expect((await user('kerberos', 'alice@OPENRMS.TEST'))?.dn).toBe(SEED_USERS.alice.dn);
    expect((await user('kerberos', 'alice@openrms.test'))?.dn).toBe(SEED_USERS.alice.dn);
    expect(await user('kerberos', 'alice@OTHER.TEST')).toBeUndefined();
    expect(await user('kerberos', 'alice')).toBeUndefined();
    expect(await user('kerberos', '@OPENRMS.TEST')).toBeUndefined();
    expect((await user('kerberos', SEED_CAROL_PRINCIPAL))?.dn).toBe(SEED_USERS.carol.dn);
    // Principals are case-sensitive (caseExactIA5Match).
    expect(await user('kerberos', SEED_CAROL_PRINCIPAL.toUpperCase())).toBeUndefined();
    expect(await user('kerberos', SEED_CAROL_PRINCIPAL, provider({ attributes: { kerberosPrincipal: '' } }))).toBeUndefined();
  });

  it('reports a ppolicy-locked account as disabled', async () => {
    expect(await user('logon', 'dave')).toMatchObject({ name: 'dave', disabled: true });
    expect(await user('logon', 'dave', provider({ attributes: { accountDisabled: '' } }))).toMatchObject({ disabled: false });
  });

  it('shares one service connection between concurrent lookups', async () => {
    const names = ['alice', 'bob', 'carol', 'dave', 'erin'];
    const found = await Promise.all(Array.from({ length: 25 }, (_, i) => user('logon', names[i % names.length]!)));
    expect(found.map((u) => u?.name)).toEqual(Array.from({ length: 25 }, (_, i) => names[i % names.length]));
  });
});

describe('groups', () => {
  it('lists nested groups once each with the path from the direct group outwards', async () => {
    const bob = await user('logon', 'bob');
    const groups = [...bob!.groups].sort((a, b) => a.name.localeCompare(b.name));
    expect(groups).toEqual([
      { externalId: expect.stringMatching(UUID), dn: SEED_GROUPS.finance.dn, name: 'finance', email: 'finance@openrms.test', path: ['finance-emea', 'finance'] },
      { externalId: expect.stringMatching(UUID), dn: SEED_GROUPS.financeEmea.dn, name: 'finance-emea', email: 'finance-emea@openrms.test', path: ['finance-emea'] },
    ]);
    expect((await user('logon', 'alice'))!.groups).toEqual([
      { externalId: expect.stringMatching(UUID), dn: SEED_GROUPS.staff.dn, name: 'staff', email: null, path: ['staff'] },
    ]);
    expect((await user('logon', 'odd(name)*'))!.groups).toEqual([]);
  });

  it('survives a membership cycle', async () => {
    const carol = await user('logon', 'carol');
    expect(carol!.groups.map((g) => [g.name, g.path])).toEqual([
      ['cycle-a', ['cycle-a']],
      ['cycle-b', ['cycle-a', 'cycle-b']],
    ]);
  });

  it(`stops walking after ${MAX_GROUP_DEPTH} levels`, async () => {
    const erin = await user('logon', 'erin');
    expect(erin!.groups).toHaveLength(MAX_GROUP_DEPTH);
    const last = erin!.groups[MAX_GROUP_DEPTH - 1]!;
    expect(last.name).toBe(seedChainGroup(MAX_GROUP_DEPTH));
    expect(last.path).toEqual(Array.from({ length: MAX_GROUP_DEPTH }, (_, i) => seedChainGroup(i + 1)));
  });

  it('finds a group by name or address, with an empty path', async () => {
    expect(await dir.findGroup('finance')).toMatchObject({ dn: SEED_GROUPS.finance.dn, email: 'finance@openrms.test', path: [] });
    expect(await dir.findGroup('FINANCE-EMEA@openrms.test')).toMatchObject({ dn: SEED_GROUPS.financeEmea.dn, name: 'finance-emea' });
    expect(await dir.findGroup('staff')).toMatchObject({ email: null });
    expect(await dir.findGroup('nope')).toBeUndefined();
    // People are not groups.
    expect(await dir.findGroup('alice@openrms.test')).toBeUndefined();
  });
});

describe('verifyPassword', () => {
  it('binds as the person: right → true, wrong or empty → false, locked → false', async () => {
    const alice = (await user('logon', 'alice'))!;
    const dave = (await user('logon', 'dave'))!;
    expect(await dir.verifyPassword(alice, SEED_USERS.alice.password)).toBe(true);
    expect(await dir.verifyPassword(alice, 'wrong')).toBe(false);
    expect(await dir.verifyPassword(alice, SEED_USERS.bob.password)).toBe(false);
    // An empty simple bind is an unauthenticated bind, which slapd accepts: it must not count.
    expect(await dir.verifyPassword(alice, '')).toBe(false);
    expect(await dir.verifyPassword({ ...alice, dn: null }, SEED_USERS.alice.password)).toBe(false);
    expect(await dir.verifyPassword(dave, SEED_USERS.dave.password)).toBe(false);
  });
});

describe('filter injection', () => {
  const hostile = [
    '*',
    '*)(uid=*',
    'alice)(uid=*',
    '*)(|(uid=*',
    'alice)(|(objectClass=*)',
    '(uid=alice)',
    'al*',
    '*lice',
    'odd(name)',
    'odd*',
    'odd(name)**',
    '\\2a',
    'alice\\',
    'x\\*',
    '\\00',
    '\u0000',
    'alice\u0000',
    'alice\u0000)(uid=*',
    '(',
    ')',
    '\\',
    'a'.repeat(10 * 1024),
    '*@openrms.test',
    '*)(mail=*@openrms.test',
    'alice@*',
    '*@OPENRMS.TEST',
  ];

  it.each(['logon', 'email', 'kerberos'] as const)('%s lookups of filter syntax match nobody', async (by) => {
    for (const v of hostile) {
      const found = await user(by, v);
      if (found !== undefined) throw new Error(`${by} ${JSON.stringify(v.slice(0, 40))} matched ${found.dn}`);
    }
  });

  it('group lookups of filter syntax match nothing', async () => {
    for (const v of [...hostile, 'fin*', '*)(cn=finance']) expect(await dir.findGroup(v)).toBeUndefined();
  });

  it('finds an account whose name is made of filter metacharacters by that exact name only', async () => {
    expect((await user('logon', 'odd(name)*'))?.dn).toBe(SEED_USERS.odd.dn);
    expect((await user('logon', 'OPENRMS\\odd(name)*'))?.dn).toBe(SEED_USERS.odd.dn);
  });
});

describe('TLS', () => {
  it('speaks ldaps:// with the configured CA', async () => {
    const d = provider({ url: slapd.ldapsUrl!, caPem: slapd.caPem! });
    expect((await user('logon', 'alice', d))?.dn).toBe(SEED_USERS.alice.dn);
    expect(await d.verifyPassword((await user('logon', 'alice', d))!, SEED_USERS.alice.password)).toBe(true);
  });

  it('speaks StartTLS with the configured CA', async () => {
    const d = provider({ startTls: true, caPem: slapd.caPem! });
    const bob = await user('logon', 'bob', d);
    expect(bob?.groups).toHaveLength(2);
    expect(await d.verifyPassword(bob!, SEED_USERS.bob.password)).toBe(true);
  });

  it('refuses a certificate it cannot verify: Unavailable', async () => {
    for (const d of [provider({ url: slapd.ldapsUrl! }), provider({ startTls: true })]) {
      const e = await unavailable(user('logon', 'alice', d));
      expect(e.message).toMatch(/certificate/i);
      expect(e.message).not.toContain(slapd.bindPassword);
    }
    // A CA that did not issue the directory's certificate.
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'openrms-otherca-'));
    try {
      const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '1', '-subj', '/CN=Other CA'], { cwd: tmp });
      expect(r.status).toBe(0);
      const other = readFileSync(path.join(tmp, 'c.pem'), 'utf8');
      await unavailable(user('logon', 'alice', provider({ url: slapd.ldapsUrl!, caPem: other })));
      await unavailable(user('logon', 'alice', provider({ startTls: true, caPem: other })));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('availability', () => {
  it('a refused service bind is Unavailable and does not show the password', async () => {
    const secret = 'Not-The-Password-93f1';
    const e = await unavailable(user('logon', 'alice', provider({ bindPassword: secret })));
    expect(e.message).toContain(slapd.bindDn);
    expect(e.message).not.toContain(secret);
    await unavailable(provider({ bindPassword: secret }).checkConnection());
  });

  it('nothing listening is Unavailable at once', async () => {
    const d = provider({ url: 'ldap://127.0.0.1:1', timeoutMs: 1000 });
    const t0 = Date.now();
    await unavailable(user('email', 'alice@openrms.test', d));
    await unavailable(d.findGroup('finance'));
    // No retry loop: well within a loaded machine's bound.
    expect(Date.now() - t0).toBeLessThan(20_000);
  });

  it('a stopped directory is Unavailable within the timeout, and the same provider answers once it is back', async () => {
    const d = provider({ timeoutMs: 1500 });
    const alice = (await user('logon', 'alice', d))!;
    await slapd.stop();
    try {
      const t0 = Date.now();
      await unavailable(user('logon', 'alice', d));
      await unavailable(d.verifyPassword(alice, SEED_USERS.alice.password));
      // Bounded by the timeout, not hanging (the margin is for a loaded machine).
      expect(Date.now() - t0).toBeLessThan(1500 + 20_000);
    } finally {
      await slapd.start();
    }
    expect((await user('logon', 'alice', d))?.dn).toBe(SEED_USERS.alice.dn);
    expect(await d.verifyPassword(alice, SEED_USERS.alice.password)).toBe(true);
    // The provider made before the outage reconnects too.
    expect((await user('logon', 'bob'))?.name).toBe('bob');
  });

  it('a directory that accepts connections but never answers is Unavailable within the timeout', async () => {
    const d = provider({ timeoutMs: 1000 });
    await user('logon', 'alice', d);
    slapd.pause();
    try {
      for (const op of [() => user('logon', 'alice', d), () => user('logon', 'bob', provider({ timeoutMs: 1000 }))]) {
        const t0 = Date.now();
        const e = await unavailable(op());
        expect(e.message).toMatch(/timed out/);
        expect(Date.now() - t0).toBeLessThan(1000 + 20_000);
      }
    } finally {
      slapd.resume();
    }
    expect((await user('logon', 'alice', d))?.name).toBe('alice');
  });

  it('a closed provider is Unavailable', async () => {
    const d = provider();
    await d.close();
    await unavailable(user('logon', 'alice', d));
  });
});

describe('validateLdapConfig', () => {
  const secret = 'p@ss-SECRET-x';
  const good = () => ({
    kind: 'ldap',
    url: 'ldaps://ldap.example.com:636',
    bindDn: 'cn=svc,dc=example,dc=com',
    bindPassword: secret,
    baseDn: 'dc=example,dc=com',
    startTls: false,
  });

  it('accepts a complete configuration and keeps its values', () => {
    expect(validateLdapConfig({ ...good(), realm: 'EXAMPLE.COM', timeoutMs: 2000, attributes: { logon: 'cn', groupMember: ['member'] } })).toEqual({
      ...good(),
      realm: 'EXAMPLE.COM',
      timeoutMs: 2000,
      attributes: { logon: 'cn', groupMember: ['member'] },
    });
    expect(validateLdapConfig({ ...good(), url: 'ldap://127.0.0.1:389', startTls: true, caPem: slapd.caPem })).toMatchObject({ startTls: true });
    const { startTls: _omitted, ...noStartTls } = good();
    expect(validateLdapConfig(noStartTls).startTls).toBe(false);
    // Settings of the caller's own (cache TTL, groups) are left out, not refused.
    expect(validateLdapConfig({ ...good(), cacheTtlSeconds: 300 })).toEqual(good());
  });

  it.each<[string, unknown, RegExp]>([
    ['not an object', 'ldap://x', /must be an object/],
    ['kind', { kind: 'novell' }, /kind must be "ad" or "ldap"/],
    ['url scheme', { url: 'http://ldap.example.com' }, /url must start with ldap:\/\/ or ldaps:\/\//],
    ['url garbage', { url: 'not a url' }, /url is not a URL/],
    ['url with credentials', { url: `ldap://svc:${secret}@ldap.example.com` }, /url must not carry credentials/],
    ['url with a DN', { url: 'ldap://ldap.example.com/dc=example,dc=com' }, /url must be only scheme, host and port/],
    ['bindDn missing', { bindDn: undefined }, /bindDn is required/],
    ['bindDn not a DN', { bindDn: 'svc' }, /bindDn must be a distinguished name/],
    ['bindPassword empty', { bindPassword: '' }, /bindPassword is required/],
    ['baseDn', { baseDn: '' }, /baseDn is required/],
    ['startTls type', { startTls: 'yes' }, /startTls must be true or false/],
    ['startTls with ldaps', { startTls: true }, /startTls cannot be used with an ldaps:\/\/ url/],
    ['caPem', { caPem: 'hello' }, /caPem must be a PEM certificate/],
    ['caPem unreadable', { caPem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' }, /caPem is not a readable PEM certificate/],
    ['realm', { realm: 'a b' }, /realm must be a Kerberos realm/],
    ['timeoutMs', { timeoutMs: 5 }, /timeoutMs must be a whole number/],
    ['attributes type', { attributes: [] }, /attributes must be an object/],
    ['unknown attribute', { attributes: { email: 'mail' } }, /attributes\.email is not a known attribute setting/],
    ['required attribute empty', { attributes: { logon: '' } }, /attributes\.logon cannot be empty/],
    ['attribute name', { attributes: { mail: 'ma il)(' } }, /attributes\.mail is not an attribute name/],
    ['attribute list', { attributes: { groupMember: [] } }, /attributes\.groupMember must be a non-empty list/],
  ])('rejects %s with InvalidInput naming the field', (_name, patch, message) => {
    const input = typeof patch === 'object' && patch !== null ? { ...good(), ...patch } : patch;
    let err: unknown;
    try {
      validateLdapConfig(input);
    } catch (e) {
      err = e;
    }
    expect(isRmsError(err, 'InvalidInput')).toBe(true);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain(secret);
  });

  it('is applied by the constructor', () => {
    expect(() => new LdapDirectory({ ...good(), kind: 'x' } as unknown as LdapDirectoryConfig)).toThrow(/kind/);
  });
});

describe('AD value formats', () => {
  it('formats objectGUID and objectSid the way Windows does', () => {
    // {b5e6b1f7-1a2b-4c3d-8e9f-0a1b2c3d4e5f} as stored by AD: first three fields little-endian.
    const guid = Buffer.from('f7b1e6b52b1a3d4c8e9f0a1b2c3d4e5f', 'hex');
    expect(guidToString(guid)).toBe('b5e6b1f7-1a2b-4c3d-8e9f-0a1b2c3d4e5f');
    // S-1-5-21-1004336348-1177238915-682003330-512
    const sid = Buffer.from('010500000000000515000000dcf4dc3b833d2b46828ba62800020000', 'hex');
    expect(sidToString(sid)).toBe('S-1-5-21-1004336348-1177238915-682003330-512');
    expect(DEFAULT_ATTRIBUTES.ad).toMatchObject({ logon: 'sAMAccountName', uniqueId: 'objectGUID', accountDisabled: 'userAccountControl' });
  });
});
