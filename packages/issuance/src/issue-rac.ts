import { addYears, MINUTE_MS, newBracedGuid } from '@openrms/domain';
import type { RsaKeyPair } from '@openrms/keys';
import { buildRac, issuerFromCertificate, signXrml } from '@openrms/xrml';
import { type IssuingContext, recordIssued } from './issuing-context';
import type { IssuingState } from './issuing-state';

/** Builds, signs and records a RAC for a user; with `machine`, its private key travels sealed to that machine. */
export async function issueRac(
  ctx: IssuingContext,
  s: IssuingState,
  user: { id: string; email: string },
  key: RsaKeyPair,
  opts: { temporary: boolean; machine?: Parameters<typeof buildRac>[0]['machine'] },
): Promise<string> {
  const now = ctx.clock.now();
  const validUntil = opts.temporary ? new Date(now.getTime() + s.validity.temporaryRacMinutes * MINUTE_MS) : addYears(now, s.validity.racYears);
  const descriptorGuid = newBracedGuid();
  const rac = signXrml(
    buildRac({
      descriptorGuid,
      issuedTime: now,
      validFrom: new Date(now.getTime() - s.validity.backdateMinutes * MINUTE_MS),
      validUntil,
      issuer: issuerFromCertificate(s.slc),
      activationUrl: `${s.cluster.url}/certification`,
      identity: { idType: 'Federation', id: `{${user.id}}`, email: user.email },
      publicKey: key.publicKey,
      credentialType: opts.temporary ? 'Temporary' : 'Persistent',
      credentialCreationTime: now,
      ...(opts.machine ? { machine: opts.machine } : {}),
    }),
    ctx.key,
  );
  await recordIssued(ctx, 'RAC', user.email, descriptorGuid, rac, now, validUntil);
  return rac;
}
