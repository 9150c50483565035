import { createPublicKey } from 'node:crypto';
import { compareVersions, isRmsError, parseVersion, RmsError } from '@openrms/domain';
import { parseXrml, publicKeysEqual, readCertificate, readSpc, verifyChain, verifyXrmlSignature } from '@openrms/xrml';
import { type Caller, claimedIssuerKey, fail, type IssuingContext, stillWanted } from './issuing-context';
import { issueRac } from './issue-rac';
import type { Policies } from './policies';
import { isValidEmail } from './principal-rules';
import { userKeyPair } from './user-key-pair';

/** Certify: a RAC for the calling user, its private key sealed to the calling machine's SPC. */
export async function certify(ctx: IssuingContext, caller: Caller, request: { machineChain: string[]; persistent: boolean }): Promise<{ chain: string[] }> {
  const s = ctx.state();
  if (s.cluster.kind !== 'root') fail('InvalidOperation', 'this licensing-only cluster does not issue rights account certificates');
  const email = caller.principal.email;
  if (!email) fail('AdEntrySearchFailed', `the account ${caller.principal.name} has no e-mail address`);
  if (!isValidEmail(email)) fail('VerifyEmailAddressFailed', `the e-mail address of ${caller.principal.name} is not valid`);
  const spc = verifyMachineChain(ctx, request.machineChain, s.policies);
  const userKey = await userKeyPair(ctx, caller.principal.id);
  stillWanted(caller);
  const rac = await issueRac(ctx, s, { id: caller.principal.id, email }, userKey, {
    temporary: !request.persistent,
    machine: {
      objectXml: spc.objectXml,
      enablingBits: userKey.sealPrivateKeyTo(spc.publicKey, 'rac-private-key'),
      securityLevels: { platform: spc.platform, manufacturer: spc.manufacturer, repository: spc.repositoryVersion },
    },
  });
  return { chain: [rac, ...s.chain] };
}

function verifyMachineChain(ctx: IssuingContext, chain: string[], p: Policies) {
  const bad = (why: string): never => fail('VerifyMachineCertificateChainFailed', `the machine certificate chain is not acceptable: ${why}`);
  let spc: ReturnType<typeof readSpc>;
  try {
    const leaf = parseXrml(chain[0]!);
    const claimed = claimedIssuerKey(leaf, 'machine certificate', 'VerifyMachineCertificateChainFailed');
    if (chain.length === 1) {
      const self = readSpc(leaf).publicKey;
      if (!p.spcTrust.allowSelfIssued) bad('self-issued machine certificates are not accepted here');
      if (!publicKeysEqual(claimed, self)) bad('a single machine certificate must be issued by its own key');
      const verified = verifyXrmlSignature(leaf, self);
      // A chain's validity is checked by verifyChain; a lone certificate's here, the same way.
      const { validFrom, validUntil } = readCertificate(verified);
      const now = ctx.clock.now();
      if ((validFrom && now < validFrom) || (validUntil && now >= validUntil)) bad('the machine certificate is expired or not yet valid');
      spc = readSpc(verified);
    } else {
      const trusted = p.spcTrust.caKeysPem.map((pem) => createPublicKey(pem));
      verifyChain(chain, { trustedRootKeys: trusted, now: ctx.clock.now() });
      spc = readSpc(parseXrml(chain[0]!));
    }
  } catch (e) {
    if (isRmsError(e, 'VerifyMachineCertificateChainFailed')) throw e;
    return bad(e instanceof RmsError ? e.message : 'unreadable');
  }
  if (p.lockboxMinVersion) {
    const have = parseVersion(spc.repositoryVersion);
    const need = parseVersion(p.lockboxMinVersion)!;
    if (!have || compareVersions(have, need) < 0) {
      fail('BlackBoxIsInvalid', `the client's lockbox version ${spc.repositoryVersion} is below ${p.lockboxMinVersion}; activate the client again`);
    }
  }
  return { publicKey: spc.publicKey, objectXml: spc.principalXml, platform: spc.platform, manufacturer: spc.manufacturer, repositoryVersion: spc.repositoryVersion };
}
