import type { KeyObject } from 'node:crypto';

/** AlgorithmIdentifier { rsaEncryption, NULL } and the version INTEGER 0 that precede the key. */
const VERSION_0 = Buffer.from([0x02, 0x01, 0x00]);
const RSA_ENCRYPTION = Buffer.from([0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00]);

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/**
 * An RSA private key as PKCS#8 PrivateKeyInfo DER, built around its PKCS#1 RSAPrivateKey DER.
 * Same bytes as `key.export({ type: 'pkcs8', format: 'der' })` (rsa-pkcs8.test.ts), at a tenth of
 * the cost: OpenSSL 3's PKCS#8 encoder takes about 0.2 ms per call, its PKCS#1 one 0.02 ms, and
 * the wrapping is fixed for RSA (version 0, rsaEncryption with NULL parameters, the PKCS#1 key
 * in an OCTET STRING). Certify seals the user's key to the machine once per request. The caller
 * owns (and should zero) the result; the intermediate copy is zeroed here.
 */
export function rsaPrivateKeyPkcs8Der(key: KeyObject): Buffer {
  const pkcs1 = key.export({ type: 'pkcs1', format: 'der' });
  try {
    const octets = Buffer.concat([Buffer.from([0x04]), derLength(pkcs1.length), pkcs1]);
    const bodyLength = VERSION_0.length + RSA_ENCRYPTION.length + octets.length;
    const out = Buffer.concat([Buffer.from([0x30]), derLength(bodyLength), VERSION_0, RSA_ENCRYPTION, octets]);
    octets.fill(0);
    return out;
  } finally {
    pkcs1.fill(0);
  }
}
