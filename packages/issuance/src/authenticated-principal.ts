/** Who the runtime authenticated; what the use-cases know of a caller comes from here. */
export interface AuthenticatedPrincipal {
  id: string;
  name: string;
  email: string;
  /** The principal itself, every group it belongs to (transitively) and the implicit groups. */
  principalIds: ReadonlySet<string>;
  /** Other SMTP addresses of the person (directory aliases). */
  aliases?: readonly string[];
  /** Which directory answered: the cluster's tables, Active Directory or LDAP. */
  source?: 'local' | 'ad' | 'ldap';
}
