import type { DirectoryUser } from '@openrms/domain';
import { type Caller, fail, type IssuingContext, stillWanted } from './issuing-context';
import { issueRac } from './issue-rac';
import { isValidEmail } from './principal-rules';
import { userKeyPair } from './user-key-pair';

/**
 * Precertify: the public-key certificate of another user (a RAC without FEDERATIONPRINCIPALS), so
 * a server can license content for someone who is not calling. UserName and Id must agree. The
 * person is looked up through the Directory port, so directory people need no local row first.
 */
export async function precertify(ctx: IssuingContext, caller: Caller, req: { userName?: string; id?: string }): Promise<{ certificate: string }> {
  const s = ctx.state();
  if (s.cluster.kind !== 'root') fail('InvalidOperation', 'this licensing-only cluster does not issue rights account certificates');
  const identities = ctx.identities();
  let byName: { user: DirectoryUser; rowId: string } | undefined;
  if (req.userName) {
    const user = await identities.findUser({ by: 'email', value: req.userName });
    if (!user) fail('AdEntrySearchFailed', `no user has the e-mail address ${req.userName}`);
    byName = { user, rowId: await identities.rowOf(user) };
  }
  let byId: { user: DirectoryUser; rowId: string } | undefined;
  if (req.id) {
    const row = await ctx.store.principals.find(req.id.replace(/[{}]/g, ''));
    const user = row?.kind === 'user' && row.email ? await identities.findUser({ by: 'email', value: row.email }) : undefined;
    if (!row || !user) fail('AdEntrySearchFailed', `no user has the id ${req.id}`);
    byId = { user, rowId: row.id };
  }
  if (byName && byId && byName.rowId !== byId.rowId) fail('UnauthorizedAccess', 'UserName and Identification name different users');
  const { user, rowId } = (byName ?? byId)!;
  if (user.disabled) fail('UnauthorizedAccess', `the account ${user.name} is disabled`);
  if (!user.email || !isValidEmail(user.email)) fail('VerifyEmailAddressFailed', `the account ${user.name} has no valid e-mail address`);
  const key = await userKeyPair(ctx, rowId);
  stillWanted(caller);
  const rac = await issueRac(ctx, s, { id: rowId, email: user.email }, key, { temporary: false });
  return { certificate: rac };
}
