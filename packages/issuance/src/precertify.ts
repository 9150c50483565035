import { type Caller, fail, type IssuingContext } from './issuing-context';
import { issueRac } from './issue-rac';
import { isValidEmail } from './principal-rules';
import { userKeyPair } from './user-key-pair';

/**
 * Precertify: the public-key certificate of another user (a RAC without FEDERATIONPRINCIPALS), so
 * a server can license content for someone who is not calling. UserName and Id must agree.
 */
export async function precertify(ctx: IssuingContext, _caller: Caller, req: { userName?: string; id?: string }): Promise<{ certificate: string }> {
  const s = ctx.state();
  if (s.cluster.kind !== 'root') fail('InvalidOperation', 'this licensing-only cluster does not issue rights account certificates');
  const byName = req.userName ? await ctx.store.principals.findUserByEmail(req.userName) : undefined;
  const byId = req.id ? await ctx.store.principals.find(req.id.replace(/[{}]/g, '')) : undefined;
  if (req.userName && !byName) fail('AdEntrySearchFailed', `no user has the e-mail address ${req.userName}`);
  if (req.id && (!byId || byId.kind !== 'user')) fail('AdEntrySearchFailed', `no user has the id ${req.id}`);
  if (byName && byId && byName.id !== byId.id) fail('UnauthorizedAccess', 'UserName and Identification name different users');
  const user = (byName ?? byId)!;
  if (!user.email || !isValidEmail(user.email)) fail('VerifyEmailAddressFailed', `the account ${user.name} has no valid e-mail address`);
  const key = await userKeyPair(ctx, user.id);
  const rac = await issueRac(ctx, s, { id: user.id, email: user.email }, key, { temporary: false });
  return { certificate: rac };
}
