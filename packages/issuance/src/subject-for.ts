import type { RightsSubject } from '@openrms/domain';
import type { IssuingContext } from './issuing-context';
import type { Policies } from './policies';

/**
 * Who a RAC's e-mail address is when rights are evaluated: the user's group e-mails and whether
 * one of those groups is the super-users group. An unknown or disabled user is only its e-mail.
 */
export async function subjectFor(ctx: IssuingContext, email: string, p: Policies): Promise<RightsSubject> {
  const user = await ctx.store.principals.findUserByEmail(email);
  const groups = user && !user.disabled ? await ctx.store.principals.groupsOf(user.id) : [];
  const superUser = p.superUsers.enabled && p.superUsers.group !== null && groups.some((g) => g.name.toLowerCase() === p.superUsers.group!.toLowerCase());
  return { email, groupEmails: groups.map((g) => g.email).filter((e): e is string => !!e), superUser };
}
