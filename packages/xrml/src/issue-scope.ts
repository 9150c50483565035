import { RmsError } from '@openrms/domain';

/**
 * What an SLC's holder may issue. XrML 1.2 has no element for this, so OpenRMS records it as one
 * more SECURITYLEVEL on the SLC's ISSUEDPRINCIPALS principal, next to Server-Version and Server-SKU:
 *
 *   <SECURITYLEVEL name="Issue-Scope" value="RAC,CLC,PL,UL,SLC"/>
 *
 * SECURITYLEVEL is XrML's generic name/value slot and clients skip names they do not know (SPCs and
 * RACs already carry product-specific ones), so foreign readers are unaffected. The root cluster's
 * SLC carries all five; a licensing-only cluster's SLC carries `CLC,PL,UL` (no RAC: it forwards
 * certification; no SLC: it cannot sub-enroll others). The value is signed with the rest of the
 * certificate; because ISSUER elements copy the issuer's principal verbatim, it also appears in the
 * ISSUER of documents a server issues, where it is informational only: read scope from the SLC.
 */
export const ISSUE_SCOPES = ['RAC', 'CLC', 'PL', 'UL', 'SLC'] as const;
export type IssueScope = (typeof ISSUE_SCOPES)[number];
export const ISSUE_SCOPE_LEVEL = 'Issue-Scope';

/** Validates, de-duplicates and orders a scope list so equal scopes always serialise identically. */
export function formatIssueScope(scope: readonly string[]): string {
  for (const s of scope) {
    if (!(ISSUE_SCOPES as readonly string[]).includes(s)) throw new RmsError('InvalidInput', `unknown issue scope ${JSON.stringify(s)}`);
  }
  return ISSUE_SCOPES.filter((s) => scope.includes(s)).join(',');
}

/** True when `scope` (from readCertificate) allows issuing `what`; an absent scope allows nothing. */
export function scopeAllows(scope: readonly string[] | undefined, what: IssueScope): boolean {
  return scope !== undefined && scope.includes(what);
}
