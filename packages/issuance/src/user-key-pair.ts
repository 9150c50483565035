import { isRmsError } from '@openrms/domain';
import { RsaKeyPair } from '@openrms/keys';
import type { IssuingContext } from './issuing-context';

/** A user's RAC key pair is kept sealed to the cluster key, so every RAC of a user carries the same key. */
export async function userKeyPair(ctx: IssuingContext, principalId: string): Promise<RsaKeyPair> {
  const existing = await ctx.store.userKeys.find(principalId);
  if (existing) return openStored(ctx, existing.wrappedPrivateKey);
  const pair = RsaKeyPair.generate(2048);
  try {
    await ctx.store.userKeys.insert({
      principalId,
      publicKeyPem: pair.publicKeyPem,
      wrappedPrivateKey: pair.sealPrivateKeyTo(ctx.key.publicKey, 'user-key-at-rest').toString('base64'),
      createdAt: ctx.clock.now(),
    });
    return pair;
  } catch (e) {
    // Another member created it at the same moment: use theirs, so both RACs match.
    if (!isRmsError(e, 'AlreadyExists')) throw e;
    const row = await ctx.store.userKeys.find(principalId);
    return openStored(ctx, row!.wrappedPrivateKey);
  }
}

function openStored(ctx: IssuingContext, sealedBase64: string): RsaKeyPair {
  const open = () => ctx.key.unsealKeyPair(Buffer.from(sealedBase64, 'base64'), 'user-key-at-rest');
  return ctx.userKeys ? ctx.userKeys.open(sealedBase64, open) : open();
}
