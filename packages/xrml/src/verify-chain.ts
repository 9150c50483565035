import { RmsError, isRmsError } from '@openrms/domain';
import { parseXrml, type XrmlDocument } from './parse-xrml';
import { readCertificate, type CertificateInfo } from './read-certificate';
import { verifyXrmlSignature } from './verify-xrml-signature';
import { publicKeyFingerprint, publicKeysEqual, type RsaPublicKey } from './xrml-public-key';

export interface VerifyChainOptions {
  trustedRootKeys: readonly RsaPublicKey[];
  now: Date;
  maxBytesPerCert?: number;
  /** Default 10; the longest chain in the protocol (SPC) has five members. */
  maxLength?: number;
  /**
   * Signature results of members seen before: `lookup` answers the CertificateInfo a member's exact
   * bytes yielded when one of `keys` verified them (and which key), `remember` records a fresh one.
   * Time validity is checked on every call whatever the source.
   */
  cache?: ChainMemberCache;
}

export interface ChainMemberCache {
  lookup(xml: string, keys: readonly RsaPublicKey[]): { info: CertificateInfo; key: RsaPublicKey } | undefined;
  remember(xml: string, key: RsaPublicKey, info: CertificateInfo): void;
}

export const DEFAULT_MAX_CHAIN_LENGTH = 10;

/**
 * Verifies a certificate chain, leaf first: each certificate's signature with the public key of the
 * principal of the certificate after it (read from that certificate's verified content), the last
 * one with the matching trusted root key object (never with a key taken from the chain), and each
 * certificate's VALIDITYTIME against `now`, half-open [FROM, UNTIL).
 *
 * Verification runs from the root down, so every key used to verify comes from content that has
 * itself already been verified. A certificate without VALIDITYTIME (CLC, PL: the protocol defines
 * none) is not time-bounded here; ISSUE-right ranges (`issueRange`) and issue scope are for the
 * caller to enforce, because what they mean depends on what is being issued.
 *
 * Returns the verified certificates, leaf first. Any failure is RmsError('ChainInvalid') naming the
 * index and the reason.
 */
export function verifyChain(chain: readonly string[], opts: VerifyChainOptions): CertificateInfo[] {
  const maxLength = opts.maxLength ?? DEFAULT_MAX_CHAIN_LENGTH;
  if (!Array.isArray(chain) || chain.length === 0) throw new RmsError('ChainInvalid', 'certificate chain is empty');
  if (chain.length > maxLength) throw new RmsError('ChainInvalid', `certificate chain has ${chain.length} members, more than ${maxLength}`);
  const now = opts.now.getTime();
  if (!Number.isFinite(now)) throw new RmsError('InvalidInput', 'verifyChain needs a valid `now`');
  const parseOpts = opts.maxBytesPerCert === undefined ? {} : { maxBytes: opts.maxBytesPerCert };

  // Every member is parsed first (the leaf's faults are reported first), except with a cache: then
  // only when needed, so a member found in the cache is never parsed.
  const docs: (XrmlDocument | undefined)[] = new Array(chain.length);
  const parsed = (i: number): XrmlDocument => (docs[i] ??= at(i, chain.length, () => parseXrml(chain[i]!, parseOpts)));
  if (!opts.cache) chain.forEach((_, i) => parsed(i));
  const infos: CertificateInfo[] = new Array(chain.length);

  for (let i = chain.length - 1; i >= 0; i--) {
    const cached = opts.cache?.lookup(chain[i]!, i === chain.length - 1 ? opts.trustedRootKeys : [infos[i + 1]!.principal.publicKey]);
    if (cached) {
      infos[i] = checkTime(cached.info, now, i, chain.length);
      continue;
    }
    const doc = parsed(i);
    const claimedIssuerKey = at(i, chain.length, () => readCertificate(doc)).issuer.publicKey;
    let issuerKey: RsaPublicKey;
    if (i === chain.length - 1) {
      const trusted = opts.trustedRootKeys.find((k) => publicKeysEqual(k, claimedIssuerKey));
      if (!trusted) {
        throw fail(i, chain.length, `issuer key ${publicKeyFingerprint(claimedIssuerKey).slice(0, 16)}… is not a trusted root`);
      }
      issuerKey = trusted;
    } else {
      issuerKey = infos[i + 1]!.principal.publicKey;
      if (!publicKeysEqual(claimedIssuerKey, issuerKey)) {
        throw fail(i, chain.length, `ISSUER key does not match the principal key of certificate ${i + 1}`);
      }
    }
    const verified = at(i, chain.length, () => verifyXrmlSignature(doc, issuerKey, parseOpts), 'bad signature: ');
    const info = at(i, chain.length, () => readCertificate(verified));
    // Re-checked on the verified content: the pre-check above read unverified bytes.
    if (!publicKeysEqual(info.issuer.publicKey, issuerKey)) throw fail(i, chain.length, 'signed ISSUER key does not match');
    opts.cache?.remember(chain[i]!, issuerKey, info);
    infos[i] = checkTime(info, now, i, chain.length);
  }
  return infos;
}

function checkTime(info: CertificateInfo, now: number, i: number, length: number): CertificateInfo {
  if (info.validFrom && now < info.validFrom.getTime()) {
    throw fail(i, length, `not yet valid (valid from ${info.validFrom.toISOString()})`);
  }
  if (info.validUntil && now >= info.validUntil.getTime()) {
    throw fail(i, length, `expired (valid until ${info.validUntil.toISOString()})`);
  }
  return info;
}

export interface ChainMemberSummary {
  index: number;
  descriptorType: string | undefined;
  descriptorGuid: string;
  subjectName: string | undefined;
  subjectId: string;
  subjectUrl: string | undefined;
  subjectKeyFingerprint: string;
  issuerName: string | undefined;
  issuerId: string;
  issuerKeyFingerprint: string;
  selfSigned: boolean;
  issuedTime: Date;
  validFrom: Date | undefined;
  validUntil: Date | undefined;
  issueScope: string[] | undefined;
}

export interface ChainSummary {
  length: number;
  members: ChainMemberSummary[];
}

/**
 * What `rmsctl slc show` prints. It does NOT verify anything: run verifyChain for that.
 */
export function summarizeChain(chain: readonly string[], opts: { maxBytesPerCert?: number } = {}): ChainSummary {
  const members = chain.map((xml, index) => {
    const info = at(index, chain.length, () =>
      readCertificate(parseXrml(xml, opts.maxBytesPerCert === undefined ? {} : { maxBytes: opts.maxBytesPerCert })),
    );
    return {
      index,
      descriptorType: info.descriptorType,
      descriptorGuid: info.descriptorGuid,
      subjectName: info.principal.name,
      subjectId: info.principal.id,
      subjectUrl: info.principal.url,
      subjectKeyFingerprint: publicKeyFingerprint(info.principal.publicKey),
      issuerName: info.issuer.name,
      issuerId: info.issuer.id,
      issuerKeyFingerprint: publicKeyFingerprint(info.issuer.publicKey),
      selfSigned: publicKeysEqual(info.issuer.publicKey, info.principal.publicKey),
      issuedTime: info.issuedTime,
      validFrom: info.validFrom,
      validUntil: info.validUntil,
      issueScope: info.issueScope,
    };
  });
  return { length: chain.length, members };
}

function fail(index: number, length: number, reason: string, cause?: unknown): RmsError {
  return new RmsError('ChainInvalid', `certificate ${index} of chain (length ${length}, leaf = 0): ${reason}`, cause === undefined ? undefined : { cause });
}

/** Runs one step for chain member `index`, turning any failure into ChainInvalid naming that member. */
function at<T>(index: number, length: number, step: () => T, prefix = ''): T {
  try {
    return step();
  } catch (cause) {
    const message = isRmsError(cause) || cause instanceof Error ? cause.message : String(cause);
    throw fail(index, length, `${prefix}${message}`, cause);
  }
}
