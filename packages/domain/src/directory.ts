/*
 * The identity ports (DESIGN.md §5): use-cases ask a directory who a person is and which groups
 * they belong to, and an acceptor who a Negotiate token names. The cluster's own tables are one
 * directory; Active Directory and LDAP directories are others (packages/directory). Use-cases
 * never branch on which one answered.
 */

/** Who answered: the cluster's own tables, an Active Directory, or an LDAP directory. */
export type DirectorySource = 'local' | 'ad' | 'ldap';

export interface DirectoryGroup {
  /** Stable id in its source: AD objectGUID, LDAP entryUUID (or the DN), a local principal id. */
  externalId: string;
  /** Distinguished name, for LDAP sources. */
  dn: string | null;
  /** The account or common name (sAMAccountName, cn, local name). */
  name: string;
  /** The group's RMS identity: its mail attribute. */
  email: string | null;
  /**
   * How a user reaches this group, outermost last: the names of the groups from the user's direct
   * group to this one (a direct group has a path of one element, its own name). Empty when the
   * group was looked up by itself.
   */
  path: string[];
}

export interface DirectoryUser {
  source: DirectorySource;
  externalId: string;
  dn: string | null;
  /** Account name: sAMAccountName (AD), uid (LDAP), the local name. */
  name: string;
  userPrincipalName: string | null;
  displayName: string | null;
  /** The primary SMTP address: the person's RMS identity. */
  email: string | null;
  /** The other SMTP addresses (AD proxyAddresses `smtp:`, LDAP extra mail values), lower-cased, without the primary. */
  aliases: string[];
  /** AD objectSid as S-1-5-…, when the source has one. */
  sid: string | null;
  disabled: boolean;
  /** Every group the user belongs to, directly or through nested groups, each once (shortest path). */
  groups: DirectoryGroup[];
}

/**
 * How a user is looked up.
 * - `logon`: what a person types at sign-on: `name`, `DOMAIN\name`, or `name@upn-suffix`.
 * - `email`: the primary address or any alias.
 * - `kerberos`: the client principal of a Kerberos ticket, `name@REALM`.
 */
export type UserQuery = { by: 'logon'; value: string } | { by: 'email'; value: string } | { by: 'kerberos'; value: string };

/**
 * A source of people and groups. Every method throws RmsError('Unavailable') when the source
 * cannot answer (down, timed out, refused the service bind), and answers `undefined`/false only
 * when it knows the answer.
 */
export interface DirectoryProvider {
  readonly source: DirectorySource;
  findUser(q: UserQuery): Promise<DirectoryUser | undefined>;
  /** A group by its name (sAMAccountName/cn) or its e-mail address; `path` is empty. */
  findGroup(nameOrEmail: string): Promise<DirectoryGroup | undefined>;
  /** True when `password` is the user's (LDAP: a simple bind as the user's DN). */
  verifyPassword(user: DirectoryUser, password: string): Promise<boolean>;
  close(): Promise<void>;
}

/** Attribute names an LDAP provider reads; `--kind ad` and `--kind ldap` have defaults for all. */
export interface LdapAttributeMap {
  /** Object class that marks a person (AD: user, LDAP: inetOrgPerson). */
  userObjectClass: string;
  /** Object classes that mark a group (AD: group; LDAP: groupOfNames, groupOfUniqueNames). */
  groupObjectClasses: string[];
  /** Account name attribute (AD: sAMAccountName, LDAP: uid). */
  logon: string;
  /** AD: userPrincipalName; LDAP: none by default (empty string = not read). */
  userPrincipalName: string;
  /** Kerberos principal attribute, when the directory stores one (LDAP: krbPrincipalName); empty = not read. */
  kerberosPrincipal: string;
  mail: string;
  /** AD: proxyAddresses (values `SMTP:` primary, `smtp:` alias); LDAP: empty (extra `mail` values are aliases). */
  proxyAddresses: string;
  displayName: string;
  /** Group name attribute (AD: sAMAccountName, LDAP: cn). */
  groupName: string;
  /** Membership attributes on a group entry (AD: member; LDAP: member, uniqueMember). */
  groupMember: string[];
  /** Stable id attribute (AD: objectGUID, LDAP: entryUUID). */
  uniqueId: string;
  /**
   * What marks an account disabled. `userAccountControl` is read as AD's flags (bit 0x2,
   * ACCOUNTDISABLE); any other attribute disables the account by being present (LDAP:
   * pwdAccountLockedTime, set by the ppolicy overlay or an administrator). Empty = never disabled.
   */
  accountDisabled: string;
}

/** What `rmsctl directory set` stores for a cluster (the bind password is kept sealed, see issuance). */
export interface LdapDirectoryConfig {
  kind: 'ad' | 'ldap';
  /** ldap://host[:port] or ldaps://host[:port]. */
  url: string;
  bindDn: string;
  bindPassword: string;
  baseDn: string;
  startTls: boolean;
  /** PEM of the CA that issued the directory's TLS certificate (from --ca-file). */
  caPem?: string;
  /** Kerberos realm whose principals map to this directory's account names (`name@REALM` → logon `name`). */
  realm?: string;
  /** Overrides of the defaults for `kind`. */
  attributes?: Partial<LdapAttributeMap>;
  /** Per-operation timeout (connect and each search/bind), milliseconds; default 5000. */
  timeoutMs?: number;
}

/** What a Negotiate (SPNEGO/Kerberos) token proved. */
export interface NegotiateResult {
  /** The client principal, `name@REALM`. */
  principal: string;
  /** The base64 token for the `WWW-Authenticate: Negotiate …` header of the answer (mutual authentication), if any. */
  responseToken: string | null;
}

/**
 * Accepts SPNEGO tokens for one service principal from a keytab. Throws
 * RmsError('AuthenticationRequired') for a token that does not prove a client to this service
 * (malformed, oversize, expired, for another service, needing another round trip), and
 * RmsError('Unavailable') when the Kerberos library cannot be used (no keytab, say).
 */
export interface NegotiateAcceptor {
  readonly servicePrincipal: string;
  accept(tokenBase64: string): Promise<NegotiateResult>;
}
