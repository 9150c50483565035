import { createPublicKey, type KeyObject } from 'node:crypto';
import { compareVersions, isRmsError, parseVersion, RmsError } from '@openrms/domain';
import { parseXrml, publicKeysEqual, readCertificate, readSpc, verifyChain, verifyXrmlSignature, type CertificateInfo, type ChainMemberCache } from '@openrms/xrml';
import { type Caller, claimedIssuerKey, fail, type IssuingContext, stillWanted } from './issuing-context';
import { issueRac } from './issue-rac';
import type { Policies } from './policies';
import { isValidEmail } from './principal-rules';
import { userKeyPair } from './user-key-pair';
import { verifiedThrough, type VerifiedDocuments } from './verified-documents';
import { refuseRevokedUserKey } from './revocations';

/** Certify: a RAC for the calling user, its private key sealed to the calling machine's SPC. */
export async function certify(ctx: IssuingContext, caller: Caller, request: { machineChain: string[]; persistent: boolean }): Promise<{ chain: string[] }> {
  const s = ctx.state();
  if (s.cluster.kind !== 'root') fail('InvalidOperation', 'this licensing-only cluster does not issue rights account certificates');
  const email = caller.principal.email;
  if (!email) fail('AdEntrySearchFailed', `the account ${caller.principal.name} has no e-mail address`);
  if (!isValidEmail(email)) fail('VerifyEmailAddressFailed', `the e-mail address of ${caller.principal.name} is not valid`);
  const spc = verifyMachineChain(ctx, request.machineChain, s.policies);
  const userKey = await userKeyPair(ctx, caller.principal.id);
  refuseRevokedUserKey(s, userKey.publicKey, caller.principal.name);
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
    const now = ctx.clock.now();
    if (chain.length === 1) {
      if (!p.spcTrust.allowSelfIssued) bad('self-issued machine certificates are not accepted here');
      // The signature result may be cached (its key is the one it certifies); the time is checked here every time.
      const { validFrom, validUntil, info } = verifiedThrough(ctx.verifiedDocuments, 'SPC', chain[0]!, ['self'], () => ({
        value: verifySelfIssuedSpc(chain[0]!, bad),
        key: 'self',
      })).value;
      // A chain's validity is checked by verifyChain; a lone certificate's here, the same way.
      if ((validFrom && now < validFrom) || (validUntil && now >= validUntil)) bad('the machine certificate is expired or not yet valid');
      spc = info;
    } else {
      const trusted = p.spcTrust.caKeysPem.map((pem) => createPublicKey(pem));
      const [, issuer] = verifyChain(chain, { trustedRootKeys: trusted, now, cache: chainMemberCache(ctx.verifiedDocuments) });
      spc = verifiedThrough(ctx.verifiedDocuments, 'SPC', chain[0]!, [issuer!.principal.publicKey], () => ({
        value: readSpc(parseXrml(chain[0]!)),
        key: issuer!.principal.publicKey,
      })).value;
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

/** A lone SPC: issued by its own key, verified with it, read from what was signed. */
function verifySelfIssuedSpc(xml: string, bad: (why: string) => never): { info: ReturnType<typeof readSpc>; validFrom?: Date; validUntil?: Date } {
  const leaf = parseXrml(xml);
  const claimed = claimedIssuerKey(leaf, 'machine certificate', 'VerifyMachineCertificateChainFailed');
  const self = readSpc(leaf).publicKey;
  if (!publicKeysEqual(claimed, self)) bad('a single machine certificate must be issued by its own key');
  const verified = verifyXrmlSignature(leaf, self);
  const { validFrom, validUntil } = readCertificate(verified);
  return { info: readSpc(verified), ...(validFrom ? { validFrom } : {}), ...(validUntil ? { validUntil } : {}) };
}

/** verifyChain's cache hook over the verified-document cache (members as CertificateInfo). */
function chainMemberCache(cache: VerifiedDocuments | undefined): ChainMemberCache | undefined {
  if (!cache) return undefined;
  return {
    lookup: (xml, keys) => {
      const hit = cache.lookup<CertificateInfo>('CHAIN', xml, keys);
      return hit ? { info: hit.value, key: hit.key as KeyObject } : undefined;
    },
    remember: (xml, key, info) => void cache.remember('CHAIN', xml, key, info),
  };
}
