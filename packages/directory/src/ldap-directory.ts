/*
 * Active Directory and LDAP directories behind the DirectoryProvider port (DESIGN.md §5).
 *
 * One service connection, bound as the configured account, answers every search; it is dropped
 * and made again after any error, and a reconnect is never used unbound (ldapts reconnects on its
 * own, anonymously, when a socket closed: we check `isBound` first). Password checks bind as the
 * user on a connection of their own. Filters are ldapts filter objects, BER-encoded: no user
 * input is ever parsed as filter syntax.
 */
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import type tls from 'node:tls';
import {
  AndFilter,
  Client,
  EqualityFilter,
  ExtensibleFilter,
  InappropriateAuthError,
  InvalidCredentialsError,
  InvalidDNSyntaxError,
  OrFilter,
  ResultCodeError,
  type Entry,
  type Filter,
} from 'ldapts';
import {
  RmsError,
  type DirectoryGroup,
  type DirectoryProvider,
  type DirectorySource,
  type DirectoryUser,
  type LdapAttributeMap,
  type LdapDirectoryConfig,
  type UserQuery,
} from '@openrms/domain';

export const DEFAULT_ATTRIBUTES: Record<'ad' | 'ldap', LdapAttributeMap> = {
  ad: {
    userObjectClass: 'user',
    groupObjectClasses: ['group'],
    logon: 'sAMAccountName',
    userPrincipalName: 'userPrincipalName',
    kerberosPrincipal: '',
    mail: 'mail',
    proxyAddresses: 'proxyAddresses',
    displayName: 'displayName',
    groupName: 'sAMAccountName',
    groupMember: ['member'],
    uniqueId: 'objectGUID',
    accountDisabled: 'userAccountControl',
  },
  ldap: {
    userObjectClass: 'inetOrgPerson',
    groupObjectClasses: ['groupOfNames', 'groupOfUniqueNames'],
    logon: 'uid',
    userPrincipalName: '',
    // MIT Kerberos's LDAP schema; a directory without it treats the term as Undefined (RFC 4511).
    kerberosPrincipal: 'krbPrincipalName',
    mail: 'mail',
    proxyAddresses: '',
    displayName: 'displayName',
    groupName: 'cn',
    groupMember: ['member', 'uniqueMember'],
    uniqueId: 'entryUUID',
    accountDisabled: 'pwdAccountLockedTime',
  },
};

const DEFAULT_TIMEOUT_MS = 5000;
/** How many levels of nested groups are walked (AD's own in-chain search is not limited). */
export const MAX_GROUP_DEPTH = 32;
/** Longest logon, address or principal looked up; longer input cannot name anyone (AD caps UPNs at 1024). */
const MAX_QUERY_LENGTH = 1024;
/** Group DNs per OR search when walking nested LDAP groups. */
const DNS_PER_SEARCH = 50;
const GROUP_PAGE_SIZE = 500;
/** AD's LDAP_MATCHING_RULE_IN_CHAIN: transitive membership evaluated by the DC. */
const IN_CHAIN_RULE = '1.2.840.113556.1.4.1941';
const AD_ACCOUNTDISABLE = 0x2;

// ---------------------------------------------------------------------------------------------
// Configuration

const OPTIONAL_ATTRIBUTES = new Set<keyof LdapAttributeMap>(['userPrincipalName', 'kerberosPrincipal', 'proxyAddresses', 'displayName', 'uniqueId', 'accountDisabled']);
const LIST_ATTRIBUTES = new Set<keyof LdapAttributeMap>(['groupObjectClasses', 'groupMember']);
const ATTRIBUTE_KEYS = Object.keys(DEFAULT_ATTRIBUTES.ad) as Array<keyof LdapAttributeMap>;
/** An attribute description (RFC 4512 descr or numeric OID, with options) or an object class name. */
const ATTRIBUTE_NAME = /^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)(?:;[A-Za-z0-9-]+)*$/;

function invalid(field: string, problem: string): RmsError {
  return new RmsError('InvalidInput', `directory config: ${field} ${problem}`);
}

function nonEmptyString(o: Record<string, unknown>, field: string): string {
  const v = o[field];
  if (typeof v !== 'string' || v.trim() === '') throw invalid(field, 'is required (a non-empty string)');
  return v;
}

/**
 * Checks a stored or operator-given directory configuration; the messages name the field (never
 * the password). Returns only the connection settings: other keys (a caller's cache TTL, say)
 * are left out, not refused.
 */
export function validateLdapConfig(c: unknown): LdapDirectoryConfig {
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new RmsError('InvalidInput', 'directory config: must be an object');
  const o = c as Record<string, unknown>;

  if (o.kind !== 'ad' && o.kind !== 'ldap') throw invalid('kind', 'must be "ad" or "ldap"');
  const kind = o.kind;

  const url = nonEmptyString(o, 'url').trim();
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid('url', 'is not a URL (expected ldap://host[:port] or ldaps://host[:port])');
  }
  if (parsed.protocol !== 'ldap:' && parsed.protocol !== 'ldaps:') throw invalid('url', 'must start with ldap:// or ldaps://');
  if (!parsed.hostname) throw invalid('url', 'has no host');
  if (parsed.username || parsed.password) throw invalid('url', 'must not carry credentials (use bindDn and bindPassword)');
  if ((parsed.pathname && parsed.pathname !== '/') || parsed.search || parsed.hash) throw invalid('url', 'must be only scheme, host and port (put the base DN in baseDn)');

  const bindDn = nonEmptyString(o, 'bindDn');
  if (!bindDn.includes('=')) throw invalid('bindDn', 'must be a distinguished name (cn=…,dc=…)');
  // An empty password makes a simple bind unauthenticated: it "succeeds" and reads as anonymous.
  if (typeof o.bindPassword !== 'string' || o.bindPassword === '') throw invalid('bindPassword', 'is required (a non-empty string)');
  const bindPassword = o.bindPassword;
  const baseDn = nonEmptyString(o, 'baseDn');
  if (!baseDn.includes('=')) throw invalid('baseDn', 'must be a distinguished name (dc=example,dc=com)');

  if (o.startTls !== undefined && typeof o.startTls !== 'boolean') throw invalid('startTls', 'must be true or false');
  const startTls = o.startTls === true;
  if (startTls && parsed.protocol === 'ldaps:') throw invalid('startTls', 'cannot be used with an ldaps:// url (it is TLS already)');

  let caPem: string | undefined;
  if (o.caPem !== undefined) {
    if (typeof o.caPem !== 'string' || !o.caPem.includes('-----BEGIN CERTIFICATE-----')) throw invalid('caPem', 'must be a PEM certificate');
    try {
      new X509Certificate(o.caPem);
    } catch {
      throw invalid('caPem', 'is not a readable PEM certificate');
    }
    caPem = o.caPem;
  }

  let realm: string | undefined;
  if (o.realm !== undefined) {
    if (typeof o.realm !== 'string' || o.realm.trim() === '' || /[@\s]/.test(o.realm.trim())) throw invalid('realm', 'must be a Kerberos realm name (EXAMPLE.COM)');
    realm = o.realm.trim();
  }

  let timeoutMs: number | undefined;
  if (o.timeoutMs !== undefined) {
    if (typeof o.timeoutMs !== 'number' || !Number.isInteger(o.timeoutMs) || o.timeoutMs < 100 || o.timeoutMs > 600_000) {
      throw invalid('timeoutMs', 'must be a whole number of milliseconds from 100 to 600000');
    }
    timeoutMs = o.timeoutMs;
  }

  let attributes: Partial<LdapAttributeMap> | undefined;
  if (o.attributes !== undefined) {
    if (typeof o.attributes !== 'object' || o.attributes === null || Array.isArray(o.attributes)) throw invalid('attributes', 'must be an object');
    attributes = {};
    for (const [k, v] of Object.entries(o.attributes as Record<string, unknown>)) {
      const key = k as keyof LdapAttributeMap;
      const field = `attributes.${k}`;
      if (!ATTRIBUTE_KEYS.includes(key)) throw invalid(field, `is not a known attribute setting (known: ${ATTRIBUTE_KEYS.join(', ')})`);
      if (LIST_ATTRIBUTES.has(key)) {
        if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string' && ATTRIBUTE_NAME.test(x))) {
          throw invalid(field, 'must be a non-empty list of attribute or class names');
        }
        (attributes as Record<string, string[]>)[key] = [...(v as string[])];
      } else {
        if (typeof v !== 'string') throw invalid(field, 'must be a string');
        if (v === '' && !OPTIONAL_ATTRIBUTES.has(key)) throw invalid(field, 'cannot be empty');
        if (v !== '' && !ATTRIBUTE_NAME.test(v)) throw invalid(field, 'is not an attribute name');
        (attributes as Record<string, string>)[key] = v;
      }
    }
  }

  return {
    kind,
    url,
    bindDn,
    bindPassword,
    baseDn,
    startTls,
    ...(caPem !== undefined ? { caPem } : {}),
    ...(realm !== undefined ? { realm } : {}),
    ...(attributes !== undefined ? { attributes } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Attribute values

type Value = string | Buffer;

function valuesOf(entry: Entry, attr: string): Value[] {
  if (!attr) return [];
  const want = attr.toLowerCase();
  const key = Object.keys(entry).find((k) => k.toLowerCase() === want);
  if (key === undefined || key === 'dn') return [];
  const v = entry[key];
  if (v === undefined) return [];
  return Array.isArray(v) ? (v as Value[]) : [v];
}

function stringsOf(entry: Entry, attr: string): string[] {
  return valuesOf(entry, attr).map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : v));
}

function firstString(entry: Entry, attr: string): string | undefined {
  return stringsOf(entry, attr)[0];
}

function asBuffer(v: Value): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8');
}

/** AD's objectGUID bytes (first three fields little-endian) as the canonical 8-4-4-4-12 string. */
export function guidToString(b: Buffer): string {
  if (b.length !== 16) return b.toString('hex');
  const h = (i: number) => b[i]!.toString(16).padStart(2, '0');
  const part = (idx: number[]) => idx.map(h).join('');
  return `${part([3, 2, 1, 0])}-${part([5, 4])}-${part([7, 6])}-${part([8, 9])}-${part([10, 11, 12, 13, 14, 15])}`;
}

/** A binary SID as S-1-5-21-…: revision, 48-bit big-endian authority, 32-bit little-endian sub-authorities. */
export function sidToString(b: Buffer): string | null {
  if (b.length < 8) return null;
  const count = b[1]!;
  if (b.length < 8 + 4 * count) return null;
  const authority = b.readUIntBE(2, 6);
  const subs: number[] = [];
  for (let i = 0; i < count; i++) subs.push(b.readUInt32LE(8 + 4 * i));
  return `S-${b[0]}-${authority}${subs.map((s) => `-${s}`).join('')}`;
}

/** Compares DNs as this provider needs to: same server, differences only in case and spacing. */
function normDn(dn: string): string {
  return dn
    .replace(/#'[01]*'B$/, '') // uniqueMember's optional UID
    .trim()
    .toLowerCase()
    .replace(/\s*([,=+])\s*/g, '$1');
}

function rdnValue(dn: string): string {
  const m = /^[^=]+=((?:\\.|[^,])*)/.exec(dn);
  return m ? m[1]!.replace(/\\(.)/g, '$1') : dn;
}

function unique(xs: string[]): string[] {
  return [...new Set(xs.filter((x) => x !== ''))];
}

/** Input that cannot name anyone: empty, oversize, or with control characters (NUL included). */
function unusable(v: string): boolean {
  // eslint-disable-next-line no-control-regex
  return v === '' || v.length > MAX_QUERY_LENGTH || /[\u0000-\u001f\u007f]/.test(v);
}

const eq = (attribute: string, value: string): Filter => new EqualityFilter({ attribute, value });
const or = (filters: Filter[]): Filter => (filters.length === 1 ? filters[0]! : new OrFilter({ filters }));
const and = (filters: Filter[]): Filter => (filters.length === 1 ? filters[0]! : new AndFilter({ filters }));

// ---------------------------------------------------------------------------------------------
// Errors

/** What an operator should read for the result codes a directory typically answers. */
const RESULT_MEANINGS: Record<number, string> = {
  1: 'operations error',
  2: 'protocol error',
  3: 'time limit exceeded',
  4: 'size limit exceeded',
  8: 'the directory requires a stronger authentication (TLS or signing)',
  11: 'administrative limit exceeded',
  13: 'the directory requires TLS (ldaps:// or startTls)',
  32: 'no such object (check baseDn)',
  34: 'invalid DN syntax',
  48: 'inappropriate authentication',
  49: 'invalid credentials',
  50: 'insufficient access rights (the service account may not read there)',
  51: 'the directory is busy',
  52: 'the directory is unavailable',
  53: 'the directory is unwilling to perform the operation',
};

function isTimeout(e: unknown): boolean {
  return e instanceof Error && /timed out|timeout/i.test(e.message);
}

function describe(e: unknown): string {
  if (e instanceof RmsError) return e.message;
  if (e instanceof ResultCodeError) {
    const diagnostic = e.message.replace(/\s*Code: 0x[0-9a-f]+$/, '').trim();
    const meaning = RESULT_MEANINGS[e.code] ?? e.constructor.name.replace(/Error$/, '').replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
    return `${meaning} (LDAP result ${e.code})${diagnostic ? `: ${diagnostic}` : ''}`;
  }
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    const msg = e.message.split('\n').filter(Boolean).join(': ');
    const text = code && !msg.includes(code) ? `${msg} (${code})` : msg;
    if (code && /CERT|SELF_SIGNED|UNABLE_TO_|ERR_TLS|ERR_SSL/.test(code)) return `TLS certificate not trusted: ${text} (is caPem the directory's CA?)`;
    return text;
  }
  return String(e);
}

// ---------------------------------------------------------------------------------------------

interface ServiceConnection {
  client: Client;
  ready: Promise<void>;
  established: boolean;
}

interface FoundGroup {
  entry: Entry;
  path: string[];
}

export class LdapDirectory implements DirectoryProvider {
  readonly source: DirectorySource;
  readonly config: Readonly<LdapDirectoryConfig>;
  readonly attributes: Readonly<LdapAttributeMap>;
  private readonly timeoutMs: number;
  private readonly host: string;
  private readonly secure: boolean;
  private readonly label: string;
  private service: ServiceConnection | undefined;
  private closed = false;

  constructor(config: LdapDirectoryConfig) {
    const c = validateLdapConfig(config);
    this.config = c;
    this.source = c.kind;
    this.attributes = { ...DEFAULT_ATTRIBUTES[c.kind], ...c.attributes };
    this.timeoutMs = c.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const u = new URL(c.url);
    this.host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    this.secure = u.protocol === 'ldaps:';
    this.label = `${c.kind === 'ad' ? 'Active Directory' : 'LDAP directory'} ${u.protocol}//${u.host}`;
  }

  static create(config: LdapDirectoryConfig): LdapDirectory {
    return new LdapDirectory(config);
  }

  /** Connects and binds the service account now (for `rmsctl directory test` and readiness); throws Unavailable. */
  async checkConnection(): Promise<void> {
    await this.withService('connect', async () => undefined);
  }

  async findUser(q: UserQuery): Promise<DirectoryUser | undefined> {
    const a = this.attributes;
    const value = typeof q.value === 'string' ? q.value.trim() : '';
    if (unusable(value)) return undefined;
    const terms: Filter[] = [];
    if (q.by === 'logon') {
      const backslash = value.indexOf('\\');
      if (backslash >= 0) {
        // DOMAIN\name: the NetBIOS domain is not ours to check; the account name is.
        const name = value.slice(backslash + 1);
        if (name === '') return undefined;
        terms.push(eq(a.logon, name));
      } else if (value.includes('@')) {
        const at = value.lastIndexOf('@');
        const name = value.slice(0, at);
        const suffix = value.slice(at + 1);
        if (name === '' || suffix === '') return undefined;
        if (a.userPrincipalName) terms.push(eq(a.userPrincipalName, value));
        terms.push(...this.mailTerms(value));
        if (this.isOurRealm(suffix)) terms.push(eq(a.logon, name));
      } else {
        terms.push(eq(a.logon, value));
      }
    } else if (q.by === 'email') {
      terms.push(...this.mailTerms(value));
    } else if (q.by === 'kerberos') {
      const at = value.lastIndexOf('@');
      if (at <= 0 || at === value.length - 1) return undefined;
      const name = value.slice(0, at);
      const realm = value.slice(at + 1);
      if (a.kerberosPrincipal) terms.push(eq(a.kerberosPrincipal, value));
      // An AD account's UPN is name@realm unless an administrator chose another suffix.
      if (this.config.kind === 'ad' && a.userPrincipalName) terms.push(eq(a.userPrincipalName, value));
      if (this.isOurRealm(realm)) terms.push(eq(a.logon, name));
    } else {
      return undefined;
    }
    if (terms.length === 0) return undefined;

    const entries = await this.search(and([this.userClassFilter(), or(terms)]), this.userAttributes(), { sizeLimit: 2 });
    // Two people answering to one name: neither is the one meant.
    if (entries.length !== 1) return undefined;
    const entry = entries[0]!;
    const groups = this.config.kind === 'ad' ? await this.adGroups(entry) : await this.ldapGroups(entry.dn);
    return this.toUser(entry, groups);
  }

  async findGroup(nameOrEmail: string): Promise<DirectoryGroup | undefined> {
    const a = this.attributes;
    const value = typeof nameOrEmail === 'string' ? nameOrEmail.trim() : '';
    if (unusable(value)) return undefined;
    const terms = [eq(a.groupName, value)];
    if (value.includes('@')) terms.push(...this.mailTerms(value));
    const entries = await this.search(and([this.groupClassFilter(), or(terms)]), this.groupAttributes([]), { sizeLimit: 2 });
    if (entries.length !== 1) return undefined;
    return this.toGroup(entries[0]!, []);
  }

  async verifyPassword(user: DirectoryUser, password: string): Promise<boolean> {
    // An empty password turns a simple bind into an unauthenticated one, which servers accept.
    if (typeof password !== 'string' || password === '') return false;
    if (!user.dn) return false;
    if (this.closed) throw new RmsError('Unavailable', `${this.label}: the directory connection is closed`);
    const client = this.newClient();
    try {
      await this.establish(client, user.dn, password);
      return true;
    } catch (e) {
      // AD answers 49 for a wrong password and for disabled, expired or locked accounts alike.
      if (e instanceof InvalidCredentialsError || e instanceof InvalidDNSyntaxError || e instanceof InappropriateAuthError) return false;
      throw this.unavailable('password check', e, password);
    } finally {
      void client.unbind().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const s = this.service;
    this.service = undefined;
    if (s) await s.client.unbind().catch(() => undefined);
  }

  // --- filters and attributes ------------------------------------------------------------------

  private isOurRealm(realm: string): boolean {
    return this.config.realm !== undefined && realm.toLowerCase() === this.config.realm.toLowerCase();
  }

  private mailTerms(address: string): Filter[] {
    const a = this.attributes;
    // AD compares proxyAddresses case-insensitively, so smtp: also finds the SMTP: primary.
    return [eq(a.mail, address), ...(a.proxyAddresses ? [eq(a.proxyAddresses, `smtp:${address}`)] : [])];
  }

  private userClassFilter(): Filter {
    const cls = this.attributes.userObjectClass;
    // In AD computer accounts are objectClass=user too; objectCategory=person leaves them out.
    if (this.config.kind === 'ad' && cls.toLowerCase() === 'user') return and([eq('objectCategory', 'person'), eq('objectClass', cls)]);
    return eq('objectClass', cls);
  }

  private groupClassFilter(): Filter {
    return or(this.attributes.groupObjectClasses.map((c) => eq('objectClass', c)));
  }

  private userAttributes(): string[] {
    const a = this.attributes;
    return unique([
      a.logon,
      a.userPrincipalName,
      a.kerberosPrincipal,
      a.mail,
      a.proxyAddresses,
      a.displayName,
      // entryUUID and pwdAccountLockedTime are operational: only returned when named.
      a.uniqueId,
      a.accountDisabled,
      ...(this.config.kind === 'ad' ? ['objectSid', 'memberOf'] : []),
    ]);
  }

  private groupAttributes(extra: string[]): string[] {
    const a = this.attributes;
    return unique([a.groupName, a.mail, a.uniqueId, ...extra]);
  }

  private binaryAttributes(): string[] {
    // ldapts matches these names exactly as the server spells them in its answer.
    const id = this.attributes.uniqueId;
    return unique(['objectGUID', 'objectguid', 'objectSid', 'objectsid', ...(/^objectguid$/i.test(id) ? [id] : [])]);
  }

  // --- entries to domain values -----------------------------------------------------------------

  private externalId(entry: Entry): string {
    const attr = this.attributes.uniqueId;
    const v = valuesOf(entry, attr)[0];
    if (v === undefined) return entry.dn;
    if (/^objectguid$/i.test(attr)) return guidToString(asBuffer(v));
    return Buffer.isBuffer(v) ? v.toString('hex') : v;
  }

  private toGroup(entry: Entry, path: string[]): DirectoryGroup {
    return {
      externalId: this.externalId(entry),
      dn: entry.dn,
      name: firstString(entry, this.attributes.groupName) ?? rdnValue(entry.dn),
      email: firstString(entry, this.attributes.mail) ?? null,
      path,
    };
  }

  private toUser(entry: Entry, groups: DirectoryGroup[]): DirectoryUser {
    const a = this.attributes;
    const mails = stringsOf(entry, a.mail).map((m) => m.trim()).filter(Boolean);
    const proxies = a.proxyAddresses ? stringsOf(entry, a.proxyAddresses) : [];
    // Exchange's convention: SMTP: (upper case) marks the primary address, smtp: the others.
    const smtpPrimary = proxies.find((p) => p.startsWith('SMTP:'))?.slice(5).trim();
    const email = smtpPrimary || mails[0] || null;
    const others = [...proxies.filter((p) => p.startsWith('smtp:')).map((p) => p.slice(5).trim()), ...mails].map((m) => m.toLowerCase());
    const aliases = unique(others).filter((m) => m !== email?.toLowerCase());

    let sid: string | null = null;
    const sidValue = valuesOf(entry, 'objectSid')[0];
    if (sidValue !== undefined) sid = sidToString(asBuffer(sidValue));

    let disabled = false;
    if (a.accountDisabled) {
      const flags = stringsOf(entry, a.accountDisabled);
      if (/^userAccountControl$/i.test(a.accountDisabled)) disabled = flags.some((f) => (Number.parseInt(f, 10) & AD_ACCOUNTDISABLE) !== 0);
      else disabled = flags.length > 0;
    }

    return {
      source: this.source,
      externalId: this.externalId(entry),
      dn: entry.dn,
      name: firstString(entry, a.logon) ?? rdnValue(entry.dn),
      userPrincipalName: (a.userPrincipalName && firstString(entry, a.userPrincipalName)) || null,
      displayName: (a.displayName && firstString(entry, a.displayName)) || null,
      email,
      aliases,
      sid,
      disabled,
      groups,
    };
  }

  // --- groups ------------------------------------------------------------------------------------

  /**
   * AD: the DC computes the transitive set with the in-chain rule (one search); the paths come
   * from walking memberOf upwards from the user's direct groups, breadth first, inside that set.
   */
  private async adGroups(user: Entry): Promise<DirectoryGroup[]> {
    const a = this.attributes;
    const chain = or(a.groupMember.map((m) => new ExtensibleFilter({ matchType: m, rule: IN_CHAIN_RULE, value: user.dn })));
    const entries = await this.search(and([this.groupClassFilter(), chain]), this.groupAttributes(['memberOf']), { paged: true });
    const byDn = new Map(entries.map((e) => [normDn(e.dn), e]));
    const paths = new Map<string, string[]>();
    let frontier: string[] = [];
    for (const dn of stringsOf(user, 'memberOf').map(normDn)) {
      const e = byDn.get(dn);
      if (e && !paths.has(dn)) {
        paths.set(dn, [firstString(e, a.groupName) ?? rdnValue(e.dn)]);
        frontier.push(dn);
      }
    }
    for (let depth = 1; depth < MAX_GROUP_DEPTH && frontier.length > 0; depth++) {
      const next: string[] = [];
      for (const dn of frontier) {
        const path = paths.get(dn)!;
        for (const parent of stringsOf(byDn.get(dn)!, 'memberOf').map(normDn)) {
          const pe = byDn.get(parent);
          if (!pe || paths.has(parent)) continue;
          paths.set(parent, [...path, firstString(pe, a.groupName) ?? rdnValue(pe.dn)]);
          next.push(parent);
        }
      }
      frontier = next;
    }
    // A group the DC counts but the walk did not reach (through a group outside the base DN, or
    // deeper than the walk) is still a membership; its path is then only its own name.
    return entries.map((e) => this.toGroup(e, paths.get(normDn(e.dn)) ?? [firstString(e, a.groupName) ?? rdnValue(e.dn)]));
  }

  /** LDAP: one OR search per level of nesting, breadth first, each group once (cycle-safe). */
  private async ldapGroups(userDn: string): Promise<DirectoryGroup[]> {
    const a = this.attributes;
    const seen = new Set<string>([normDn(userDn)]);
    const found: FoundGroup[] = [];
    let frontier: Array<{ dn: string; path: string[] }> = [{ dn: userDn, path: [] }];
    for (let depth = 1; depth <= MAX_GROUP_DEPTH && frontier.length > 0; depth++) {
      const next: Array<{ dn: string; path: string[] }> = [];
      for (let i = 0; i < frontier.length; i += DNS_PER_SEARCH) {
        const chunk = frontier.slice(i, i + DNS_PER_SEARCH);
        // With one possible parent the path is known; with several, the member values say which.
        const needMembers = chunk.length > 1;
        const entries = await this.search(
          and([this.groupClassFilter(), or(chunk.flatMap((f) => a.groupMember.map((m) => eq(m, f.dn))))]),
          this.groupAttributes(needMembers ? a.groupMember : []),
          { paged: true },
        );
        const chunkByDn = new Map(chunk.map((f) => [normDn(f.dn), f]));
        for (const e of entries) {
          const key = normDn(e.dn);
          if (seen.has(key)) continue;
          seen.add(key);
          let parent = chunk[0]!;
          if (needMembers) {
            const members = a.groupMember.flatMap((m) => stringsOf(e, m)).map(normDn);
            parent = members.map((m) => chunkByDn.get(m)).find((f) => f !== undefined) ?? parent;
          }
          const path = [...parent.path, firstString(e, a.groupName) ?? rdnValue(e.dn)];
          found.push({ entry: e, path });
          next.push({ dn: e.dn, path });
        }
      }
      frontier = next;
    }
    return found.map((f) => this.toGroup(f.entry, f.path));
  }

  // --- connections -------------------------------------------------------------------------------

  private tlsOptions(): tls.ConnectionOptions {
    return {
      // Only the configured CA is trusted when one is given; otherwise the system's roots.
      ...(this.config.caPem ? { ca: [this.config.caPem] } : {}),
      minVersion: 'TLSv1.2',
      // host is what the certificate is checked against (StartTLS wraps an existing socket);
      // SNI may only carry a name, not an address.
      host: this.host,
      ...(net.isIP(this.host) ? {} : { servername: this.host }),
    };
  }

  private newClient(): Client {
    return new Client({
      url: this.config.url,
      timeout: this.timeoutMs,
      connectTimeout: this.timeoutMs,
      // Passing tlsOptions to an ldap:// client would make ldapts speak TLS at once.
      ...(this.secure ? { tlsOptions: this.tlsOptions() } : {}),
    });
  }

  /** Connect, StartTLS when configured, bind; all within one timeout. Leaves no socket on failure. */
  private async establish(client: Client, dn: string, password: string): Promise<void> {
    const work = (async () => {
      if (this.config.startTls) await client.startTLS(this.tlsOptions());
      await client.bind(dn, password);
    })();
    work.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms (timed out)`)), this.timeoutMs);
    });
    try {
      await Promise.race([work, deadline]);
    } catch (e) {
      void client.unbind().catch(() => undefined);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  private async serviceClient(): Promise<{ client: Client; fresh: boolean }> {
    let s = this.service;
    // ldapts reconnects by itself, unbound, after the server closed the socket: never use that.
    if (s?.established && !s.client.isBound) {
      this.drop(s.client);
      s = undefined;
    }
    if (!s) {
      const client = this.newClient();
      const conn: ServiceConnection = { client, established: false, ready: Promise.resolve() };
      conn.ready = this.establish(client, this.config.bindDn, this.config.bindPassword).then(
        () => {
          conn.established = true;
        },
        (e: unknown) => {
          if (this.service === conn) this.service = undefined;
          throw e instanceof InvalidCredentialsError
            ? this.unavailable(`the service account bind as ${this.config.bindDn} was refused`, e)
            : this.unavailable('connect and bind', e);
        },
      );
      this.service = conn;
      await conn.ready;
      return { client, fresh: true };
    }
    const wasEstablished = s.established;
    await s.ready;
    return { client: s.client, fresh: !wasEstablished };
  }

  private drop(client: Client): void {
    if (this.service?.client === client) this.service = undefined;
    void client.unbind().catch(() => undefined);
  }

  private async withService<T>(what: string, op: (c: Client) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw new RmsError('Unavailable', `${this.label}: the directory connection is closed`);
      const { client, fresh } = await this.serviceClient();
      try {
        return await op(client);
      } catch (e) {
        this.drop(client);
        // A connection that had been idle may have been closed by the server (AD drops idle ones
        // after 15 minutes): try once more on a new one. A timeout is not retried, so an answer
        // (Unavailable) comes within the timeout.
        if (!fresh && attempt === 1 && !isTimeout(e)) continue;
        throw this.unavailable(what, e);
      }
    }
  }

  private async search(filter: Filter, attributes: string[], opts: { sizeLimit?: number; paged?: boolean }): Promise<Entry[]> {
    const result = await this.withService('search', (c) =>
      c.search(this.config.baseDn, {
        scope: 'sub',
        filter,
        attributes,
        derefAliases: 'never',
        sizeLimit: opts.sizeLimit ?? 0,
        timeLimit: Math.max(1, Math.ceil(this.timeoutMs / 1000)),
        ...(opts.paged ? { paged: { pageSize: GROUP_PAGE_SIZE } } : {}),
        explicitBufferAttributes: this.binaryAttributes(),
      }),
    );
    // Continuation references (AD's ForestDnsZones, DomainDnsZones, …) are not followed.
    return result.searchEntries;
  }

  private unavailable(what: string, e: unknown, ...secrets: string[]): RmsError {
    if (e instanceof RmsError) return e;
    let reason = describe(e);
    for (const s of [this.config.bindPassword, ...secrets]) if (s) reason = reason.split(s).join('***');
    return new RmsError('Unavailable', `${this.label} unavailable: ${what}: ${reason}`);
  }
}
