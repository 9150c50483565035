import { BUILTIN_GROUPS, RmsError } from '@openrms/domain';

// Deliberately plain: local part and a dotted domain, no spaces or angle brackets (RFC 822 addr-spec subset).
const EMAIL_RE = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const NAME_RE = /^[^\s:\\/<>"]{1,128}$|^[^\s:\\/<>"][^:\\/<>"]{0,126}[^\s:\\/<>"]$/;

export function isValidEmail(s: string): boolean {
  return s.length <= 254 && EMAIL_RE.test(s);
}

export function checkPrincipalName(name: string, what: string): void {
  if (!NAME_RE.test(name)) {
    throw new RmsError('InvalidInput', `"${name}" is not a valid ${what} name (1–128 characters, no : \\ / < > ")`);
  }
}

/** Groups every caller is in; their membership cannot be changed. */
export const IMPLICIT_GROUPS = new Set<string>([BUILTIN_GROUPS.authenticatedUsers, BUILTIN_GROUPS.everyone]);

