import type { KeyObject } from 'node:crypto';
import { addYears, clusterBaseUrl, newBracedGuid, newId, normalizeGuid, parseVersion, SLC_VALIDITY_YEARS } from '@openrms/domain';
import { buildSlc, issuerFromCertificate, publicKeyFromPkcs1Base64, publicKeysEqual, signXrml } from '@openrms/xrml';
import { type Caller, fail, type IssuingContext, sha256, stillWanted } from './issuing-context';
import { slcRevocationFromSetting } from './provision-root';
import { SETTINGS } from './settings';
import { revocationListUrl } from './revocation-list';
import { refuseRevokedServer } from './revocations';

export interface SubEnrollRequest {
  publicKeyPkcs1: Buffer;
  guid: string;
  sku: string;
  version: string;
  name: string;
  url: string;
}

/**
 * Signs the SLC of a licensing-only cluster (root clusters only). It may issue CLCs, PLs and ULs,
 * never RACs or further SLCs; its revocation policy is the root's; it ends no later than the
 * root's own SLC. Every sub-enrollment is audited.
 */
export async function subEnroll(ctx: IssuingContext, caller: Caller, req: SubEnrollRequest): Promise<{ chain: string[] }> {
  const s = ctx.state();
  if (s.cluster.kind !== 'root') fail('InvalidOperation', 'only the root certification cluster signs licensing-only clusters');
  const guid = normalizeGuid(req.guid);
  if (!guid) fail('Argument', `"${req.guid}" is not a GUID`);
  let publicKey: KeyObject;
  try {
    publicKey = publicKeyFromPkcs1Base64(req.publicKeyPkcs1.toString('base64'));
  } catch {
    return fail('Argument', 'aPublicKeyBytes is not an RSA public key (PKCS#1)');
  }
  const bits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < 2048 || bits > 8192) fail('UnsupportedCryptographicSet', `the requesting key is RSA-${bits}; RSA-2048 to RSA-8192 is required`);
  if (publicKeysEqual(publicKey, s.slc.principal.publicKey)) fail('Argument', 'the requesting key is this cluster’s own key');
  refuseRevokedServer(s, { serverGuid: guid!, publicKey });
  let url: string;
  try {
    url = clusterBaseUrl(req.url);
  } catch {
    return fail('Argument', `URL "${req.url}" is not an http(s) URL`);
  }
  if (!parseVersion(req.version)) fail('Argument', `Version "${req.version}" is not a.b.c.d`);
  if (req.name.length > 255 || req.sku.length > 64) fail('Argument', 'Name or SKU is too long');
  const now = ctx.clock.now();
  const rootUntil = s.slc.validUntil ?? addYears(now, SLC_VALIDITY_YEARS);
  const oneYear = addYears(now, SLC_VALIDITY_YEARS);
  const validUntil = oneYear < rootUntil ? oneYear : rootUntil;
  const revocation = await ctx.store.settings.get(SETTINGS.slcRevocation);
  const descriptorGuid = newBracedGuid();
  const unsigned = buildSlc({
    descriptorGuid,
    issuedTime: now,
    validFrom: now,
    validUntil,
    issuer: { ...issuerFromCertificate(s.slc), cpsUrl: `${s.cluster.url}/certification` },
    subject: { serverGuid: guid, name: req.name, url, publicKey, version: req.version, sku: req.sku },
    issueScope: ['CLC', 'PL', 'UL'],
    // The root is the SLC's issuer: its list is the one that can revoke it.
    revocation: { ...(slcRevocationFromSetting(revocation) ?? { kind: 'standard' }), listUrl: revocationListUrl(s.cluster) },
  });
  stillWanted(caller);
  const slc = signXrml(unsigned, ctx.key);
  await ctx.store.transaction(async (tx) => {
    await tx.issued.record({ id: newId(), clusterId: s.cluster.id, kind: 'SubSLC', subject: `${req.name} ${guid}`, documentGuid: descriptorGuid, issuedAt: now, validUntil, documentSha256: sha256(slc) });
    await tx.audit.append({
      at: now,
      actor: caller.principal.name,
      action: 'slc.subenroll',
      target: guid,
      after: { name: req.name, url, sku: req.sku, version: req.version, validUntil: validUntil.toISOString(), keyBits: bits },
      correlationId: caller.requestId,
    });
  });
  return { chain: [slc, ...s.chain] };
}
