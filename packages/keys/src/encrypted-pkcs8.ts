import { createCipheriv, createPrivateKey, randomBytes, scryptSync, type KeyObject } from 'node:crypto';
import { RmsError } from '@openrms/domain';

/*
 * Encrypted PKCS#8 (RFC 5958 EncryptedPrivateKeyInfo) with PBES2: scrypt (RFC 7914 §7) and
 * AES-256-CBC, the shape `openssl pkcs8 -topk8 -v2 aes-256-cbc -scrypt` writes. Node's own
 * KeyObject.export({ cipher, passphrase }) would give PBKDF2 with 2048 iterations, which is cheap
 * to brute-force for a file meant to sit on backup media; scrypt is memory-hard. Node (OpenSSL)
 * reads both, so import goes through createPrivateKey.
 */

// OpenSSL's own -scrypt defaults: 16 MiB, inside the 32 MiB OpenSSL allows when decoding.
const SCRYPT = { N: 1 << 14, r: 8, p: 1 } as const;

const OID = {
  pbes2: Buffer.from('06092a864886f70d01050d', 'hex'), // 1.2.840.113549.1.5.13
  scrypt: Buffer.from('06092b06010401da47040b', 'hex'), // 1.3.6.1.4.1.11591.4.11
  aes256cbc: Buffer.from('060960864801650304012a', 'hex'), // 2.16.840.1.101.3.4.1.42
};

function der(tag: number, body: Buffer): Buffer {
  const n = body.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, body]);
}

const seq = (...parts: Buffer[]) => der(0x30, Buffer.concat(parts));
const octets = (b: Buffer) => der(0x04, b);
function int(v: number): Buffer {
  const bytes: number[] = [];
  for (let x = v; x > 0; x = Math.floor(x / 256)) bytes.unshift(x & 0xff);
  if (bytes.length === 0 || bytes[0]! & 0x80) bytes.unshift(0);
  return der(0x02, Buffer.from(bytes));
}

function pem(label: string, body: Buffer): string {
  const b64 = body.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}

/** The private key as `-----BEGIN ENCRYPTED PRIVATE KEY-----` (PBES2, scrypt, AES-256-CBC). */
export function encryptPkcs8(privateKey: KeyObject, password: string): string {
  const salt = randomBytes(16);
  const iv = randomBytes(16);
  const key = scryptSync(password.normalize('NFC'), salt, 32, { ...SCRYPT, maxmem: 64 * 1024 * 1024 });
  const plain = privateKey.export({ format: 'der', type: 'pkcs8' });
  try {
    const c = createCipheriv('aes-256-cbc', key, iv);
    const encrypted = Buffer.concat([c.update(plain), c.final()]);
    const algorithm = seq(
      OID.pbes2,
      seq(seq(OID.scrypt, seq(octets(salt), int(SCRYPT.N), int(SCRYPT.r), int(SCRYPT.p), int(32))), seq(OID.aes256cbc, octets(iv))),
    );
    return pem('ENCRYPTED PRIVATE KEY', seq(algorithm, octets(encrypted)));
  } finally {
    plain.fill(0);
    key.fill(0);
  }
}

/** Reads an encrypted PKCS#8 PEM; a wrong password (or a damaged block) is KeyPasswordInvalid. */
export function decryptPkcs8(pemText: string, password: string, what: string): KeyObject {
  if (!/^-----BEGIN ENCRYPTED PRIVATE KEY-----\r?\n/.test(pemText)) {
    throw new RmsError('InvalidInput', `the ${what} is not an encrypted PKCS#8 private key`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pemText, format: 'pem', passphrase: password.normalize('NFC') });
  } catch {
    throw new RmsError('KeyPasswordInvalid', `the ${what} cannot be opened: the password is wrong or the key block was altered`);
  }
  if (key.asymmetricKeyType !== 'rsa') throw new RmsError('InvalidInput', `the ${what} is not an RSA key`);
  return key;
}
