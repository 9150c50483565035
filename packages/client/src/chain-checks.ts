import type { KeyObject } from 'node:crypto';
import { isRmsError } from '@openrms/domain';
import { parseXrml, readCertificate, verifyChain, verifyXrmlSignature, type CertificateInfo, type XrmlDocument } from '@openrms/xrml';
import { RmsClientError } from './rms-client-error';

export interface VerifiedLeaf {
  /** The leaf, rebuilt from exactly the bytes its signature covers: read only from this. */
  doc: XrmlDocument;
  /** The rest of the chain, verified, leaf first (`issuers[0]` signed the leaf). */
  issuers: CertificateInfo[];
}

function why(e: unknown): string {
  return isRmsError(e) || e instanceof Error ? e.message : String(e);
}

/**
 * Verifies `chain` (leaf first) down from `rootKey`: every member after the leaf with verifyChain
 * (signatures, ISSUER keys, VALIDITYTIME), then the leaf with the key of the certificate after it.
 * The leaf's own validity and meaning are for the caller, who reads it with the matching reader.
 */
export function verifyLeaf(
  chain: readonly string[],
  rootKey: KeyObject,
  now: Date,
  what: string,
  failure = 'does not verify against the server key this client trusts',
): VerifiedLeaf {
  if (chain.length < 2) throw new RmsClientError('trust', `the ${what} chain has no issuer certificate`);
  try {
    const issuers = verifyChain(chain.slice(1), { trustedRootKeys: [rootKey], now });
    const doc = verifyXrmlSignature(chain[0]!, issuers[0]!.principal.publicKey);
    return { doc, issuers };
  } catch (e) {
    throw new RmsClientError('trust', `the ${what} ${failure}: ${why(e)}`, { cause: e });
  }
}

/** The ISSUER key the last member of a chain names: an unverified claim, only for trust on first use. */
export function claimedRootKey(chain: readonly string[], what: string): KeyObject {
  const last = chain[chain.length - 1];
  if (last === undefined) throw new RmsClientError('trust', `the ${what} chain is empty`);
  try {
    return readCertificate(parseXrml(last)).issuer.publicKey;
  } catch (e) {
    throw new RmsClientError('trust', `the ${what} chain cannot be read: ${why(e)}`, { cause: e });
  }
}

/** Runs a reader on verified content, turning its InvalidInput into a trust error naming `what`. */
export function readVerified<T>(what: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    throw new RmsClientError('trust', `the ${what} is not well formed: ${why(e)}`, { cause: e });
  }
}
