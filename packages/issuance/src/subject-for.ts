import type { RightsSubject } from '@openrms/domain';
import { fail, type IssuingContext } from './issuing-context';
import type { Policies } from './policies';

const lower = (s: string) => s.trim().toLowerCase();

/**
 * Who a RAC's e-mail address is when rights are evaluated, as the directory says now: the
 * person's aliases (grants to any of their addresses count), the e-mail addresses of every group
 * they are in through any nesting, and whether one of those groups is the super-users group.
 *
 * A disabled account gets no licence. So does an address nobody has any more, when this cluster
 * is the authority for it (it issued the RAC, or it reads a directory); a RAC of another
 * organisation's user (a trusted user domain) is only its e-mail.
 */
export async function subjectFor(ctx: IssuingContext, email: string, p: Policies, opts: { authoritative: boolean }): Promise<RightsSubject> {
  const identities = ctx.identities();
  const user = await identities.findUser({ by: 'email', value: email });
  if (user?.disabled) fail('NoRightsForRequestedPrincipal', `the account of ${email} is disabled`);
  if (!user && (opts.authoritative || identities.source !== 'local')) fail('NoRightsForRequestedPrincipal', `no account has the address ${email} any more`);
  const groups = user?.groups ?? [];
  const wanted = p.superUsers.enabled && p.superUsers.group ? lower(p.superUsers.group) : undefined;
  const superUser = wanted !== undefined && groups.some((g) => lower(g.name) === wanted || (g.email !== null && lower(g.email) === wanted));
  return {
    email,
    aliases: (user?.aliases ?? []).concat(user?.email && lower(user.email) !== lower(email) ? [user.email] : []),
    groupEmails: groups.map((g) => g.email).filter((e): e is string => !!e),
    superUser,
  };
}
