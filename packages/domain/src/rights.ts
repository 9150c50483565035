import { RmsError } from './rms-error';

/**
 * Rights as the rights data (ERD) of a publishing licence states them. Reserved names are written
 * as their own XrML elements (VIEW, PRINT, …); anything else as `<RIGHT name="…">`.
 */
export const RESERVED_RIGHTS = ['VIEW', 'PRINT', 'EDIT', 'FORWARD', 'VIEWRIGHTSDATA', 'EXPORT', 'EXTRACT'] as const;
export const OWNER_RIGHT = 'OWNER';
const RIGHT_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

export function normalizeRight(name: string): string {
  const n = name.trim();
  if (!RIGHT_NAME.test(n)) throw new RmsError('InvalidInput', `"${name}" is not a right name`);
  const upper = n.toUpperCase();
  return (RESERVED_RIGHTS as readonly string[]).includes(upper) || upper === OWNER_RIGHT ? upper : n;
}

/** Who a grant is for: an e-mail address (a user or a group's address), anyone, or the owner. */
export type Grantee = { kind: 'email'; email: string } | { kind: 'anyone' } | { kind: 'owner' };

export interface TimeRange {
  from: Date;
  until: Date;
}

export interface RightGrant {
  right: string;
  grantee: Grantee;
  /** RANGETIME condition: when the right may be exercised. */
  range?: TimeRange;
  /** INTERVALTIME days: how long a use licence for this right stays valid before it must be renewed. */
  intervalDays?: number;
}

export interface RightsPolicy {
  /** The protected content's identifier (WORK OBJECT ID, MS-GUID). */
  contentId: string;
  /** E-mail of the publisher; METADATA/OWNER. */
  ownerEmail: string;
  grants: RightGrant[];
  /** Set when the policy comes from an official template: the server's copy wins at licensing time. */
  templateGuid?: string;
  /** PRECONDITIONLIST time: the policy's own validity. */
  validity?: TimeRange;
  /** APPSPECIFIC authenticated data (name → value). */
  appSpecific?: Record<string, string>;
}

export interface RightsSubject {
  email: string;
  /** The person's other addresses (directory aliases): a grant to any of them is theirs. */
  aliases?: readonly string[];
  /** E-mail addresses of every group the user belongs to (transitively). */
  groupEmails: readonly string[];
  superUser: boolean;
}

export interface EffectiveRight {
  right: string;
  range?: TimeRange;
  intervalDays?: number;
}

export interface RightsDecision {
  /** True when the subject gets OWNER (publisher or super user): then OWNER is the only right. */
  owner: boolean;
  rights: EffectiveRight[];
  reason: 'owner' | 'super-user' | 'granted' | 'none';
}

const lower = (s: string) => s.trim().toLowerCase();

function inRange(now: Date, r: TimeRange | undefined): boolean {
  return !r || (now >= r.from && now < r.until);
}

/**
 * Which rights `subject` holds under `policy` at `now`. E-mail comparison is case-insensitive;
 * the owner and super users get OWNER alone; rights whose RANGETIME has passed are not granted.
 */
export function evaluateRights(policy: RightsPolicy, subject: RightsSubject, now: Date): RightsDecision {
  const email = lower(subject.email);
  const owner = lower(policy.ownerEmail);
  const isOwner = owner === email || (subject.aliases ?? []).some((a) => lower(a) === owner);
  if (isOwner) return { owner: true, rights: [{ right: OWNER_RIGHT }], reason: 'owner' };
  if (subject.superUser) return { owner: true, rights: [{ right: OWNER_RIGHT }], reason: 'super-user' };
  if (policy.validity && !inRange(now, policy.validity)) return { owner: false, rights: [], reason: 'none' };
  const mine = new Set([email, ...(subject.aliases ?? []).map(lower), ...subject.groupEmails.map(lower)]);
  const rights = new Map<string, EffectiveRight>();
  for (const g of policy.grants) {
    const applies = g.grantee.kind === 'anyone' || (g.grantee.kind === 'email' && mine.has(lower(g.grantee.email)));
    if (!applies || !inRange(now, g.range)) continue;
    if (g.right === OWNER_RIGHT) return { owner: true, rights: [{ right: OWNER_RIGHT }], reason: 'granted' };
    if (!rights.has(g.right)) {
      rights.set(g.right, { right: g.right, ...(g.range ? { range: g.range } : {}), ...(g.intervalDays !== undefined ? { intervalDays: g.intervalDays } : {}) });
    }
  }
  return rights.size ? { owner: false, rights: [...rights.values()], reason: 'granted' } : { owner: false, rights: [], reason: 'none' };
}

/** Parses `EMAIL:RIGHT[,RIGHT…]` (the `--grant` syntax); `anyone:VIEW` grants to everyone. */
export function parseGrantSpec(spec: string): RightGrant[] {
  const i = spec.lastIndexOf(':');
  if (i <= 0 || i === spec.length - 1) throw new RmsError('InvalidInput', `--grant must be EMAIL:RIGHT[,RIGHT…], got "${spec}"`);
  const who = spec.slice(0, i).trim();
  const grantee: Grantee = who.toLowerCase() === 'anyone' ? { kind: 'anyone' } : { kind: 'email', email: who };
  if (grantee.kind === 'email' && !/^[^\s@<>]+@[^\s@<>]+$/.test(who)) throw new RmsError('InvalidInput', `"${who}" is not an e-mail address`);
  return spec
    .slice(i + 1)
    .split(',')
    .map((r) => ({ right: normalizeRight(r), grantee }));
}
