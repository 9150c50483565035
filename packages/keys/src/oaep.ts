import { createHash } from 'node:crypto';

const H_LEN = 32;
// SHA-256 of the empty label: sealing never sets an OAEP label.
const EMPTY_LABEL_HASH = createHash('sha256').digest();

function mgf1Sha256(seed: Buffer, length: number): Buffer {
  const out = Buffer.alloc(Math.ceil(length / H_LEN) * H_LEN);
  const counter = Buffer.alloc(4);
  for (let i = 0; i * H_LEN < length; i++) {
    counter.writeUInt32BE(i);
    createHash('sha256').update(seed).update(counter).digest().copy(out, i * H_LEN);
  }
  return out.subarray(0, length);
}

/**
 * EME-OAEP decoding (RFC 8017 §7.1.2) with SHA-256 and MGF1-SHA-256, the parameters `seal` uses,
 * of `em`, the output of the raw RSA private-key operation (CKM_RSA_X_509) for a `k`-byte modulus.
 *
 * Used only with a PKCS#11 token that keeps the key but cannot do RSA-OAEP with SHA-256 itself
 * (SoftHSM 2.6 allows OAEP with SHA-1 only): the token does the private-key operation, this removes
 * the padding. Every check runs whatever the earlier ones found and every failure is the same
 * `undefined`, so a caller cannot tell which check failed (Manger's attack needs that); callers
 * report all failures with one message.
 */
export function decodeOaepSha256(em: Buffer, k: number): Buffer | undefined {
  if (k < 2 * H_LEN + 2 || em.length > k) return undefined;
  // A token may drop leading zero bytes of the result.
  const full = em.length === k ? em : Buffer.concat([Buffer.alloc(k - em.length), em]);
  const maskedSeed = full.subarray(1, 1 + H_LEN);
  const maskedDb = full.subarray(1 + H_LEN);
  const seed = Buffer.alloc(H_LEN);
  const seedMask = mgf1Sha256(maskedDb, H_LEN);
  for (let i = 0; i < H_LEN; i++) seed[i] = maskedSeed[i]! ^ seedMask[i]!;
  const dbMask = mgf1Sha256(seed, maskedDb.length);
  const db = Buffer.alloc(maskedDb.length);
  for (let i = 0; i < db.length; i++) db[i] = maskedDb[i]! ^ dbMask[i]!;

  let bad = full[0]!;
  for (let i = 0; i < H_LEN; i++) bad |= db[i]! ^ EMPTY_LABEL_HASH[i]!;
  // The first non-zero byte after the label hash must be 0x01; the message follows it.
  let seenOne = 0;
  let start = 0;
  for (let i = H_LEN; i < db.length; i++) {
    const b = db[i]!;
    const isOne = ((b ^ 1) - 1) >>> 31; // 1 when b === 1
    const isZero = (b - 1) >>> 31; // 1 when b === 0
    const first = isOne & (seenOne ^ 1);
    start |= (i + 1) * first;
    // A non-zero byte other than 0x01 before the separator is bad padding.
    bad |= (seenOne ^ 1) & (isOne ^ 1) & (isZero ^ 1);
    seenOne |= isOne;
  }
  bad |= seenOne ^ 1;
  seed.fill(0);
  if (bad !== 0) {
    db.fill(0);
    return undefined;
  }
  const message = Buffer.from(db.subarray(start));
  db.fill(0);
  return message;
}
