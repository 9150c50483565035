import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { isRmsError } from '@openrms/domain';
import { ClusterKey, RsaKeyPair } from './cluster-key';
import { ContentKey } from './content-key';
import { readKeyExport, writeKeyExport } from './key-export';

function rmsErrorOf(fn: () => unknown): { code?: string; message: string } {
  try {
    fn();
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('expected an error');
}

describe('cluster key export', () => {
  const key = ClusterKey.generate();
  const password = 'export-password-1';
  const chain = ['<XrML>leaf</XrML>', '<XrML>root ü</XrML>'];
  const file = writeKeyExport(key, password, { clusterId: 'c1', name: 'rms.example' }, chain);

  it('writes a PEM bundle whose first block is an encrypted PKCS#8 key with no clear key material', () => {
    expect(file.startsWith('-----BEGIN ENCRYPTED PRIVATE KEY-----\n')).toBe(true);
    expect(file).not.toMatch(/BEGIN (RSA )?PRIVATE KEY/);
    expect(file.match(/-----BEGIN OPENRMS SLC-----/g)).toHaveLength(2);
    expect(file).toMatch(/-----END OPENRMS EXPORT SIGNATURE-----\n$/);
  });

  it('is read back with its password: same key, identity and chain', () => {
    const opened = readKeyExport(file, password);
    expect(opened.publicKey.export({ format: 'pem', type: 'spki' })).toEqual(key.publicKey.export({ format: 'pem', type: 'spki' }));
    expect(opened.identity).toMatchObject({ format: 'openrms-cluster-key-export-v1', clusterId: 'c1', name: 'rms.example', chainLength: 2 });
    expect(opened.chain).toEqual(chain);
    expect(inspect(opened)).not.toMatch(/PRIVATE/);
    expect(JSON.stringify(opened)).not.toMatch(/PRIVATE/);
  });

  it('is readable by openssl with the export password, and not with another', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'openrms-keyexport-'));
    try {
      const f = path.join(dir, 'cluster.pem');
      writeFileSync(f, file, { mode: 0o600 });
      execFileSync('openssl', ['pkey', '-in', f, '-passin', 'env:PW', '-noout'], { env: { ...process.env, PW: password }, stdio: 'pipe' });
      const pub = execFileSync('openssl', ['pkey', '-in', f, '-passin', 'env:PW', '-pubout'], { env: { ...process.env, PW: password } }).toString();
      expect(pub).toBe(key.publicKeyPem);
      const wrong = spawnSync('openssl', ['pkey', '-in', f, '-passin', 'env:PW', '-noout'], { env: { ...process.env, PW: 'wrong-password-1' } });
      expect(wrong.status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a wrong password with KeyPasswordInvalid', () => {
    const e = rmsErrorOf(() => readKeyExport(file, 'wrong-password-1'));
    expect(isRmsError(e, 'KeyPasswordInvalid')).toBe(true);
    expect(e.message).toMatch(/password is wrong/);
  });

  it('refuses a file whose identity or chain was altered', () => {
    const idBlock = /-----BEGIN OPENRMS CLUSTER IDENTITY-----\n([\s\S]*?)-----END/.exec(file)![1]!;
    const id = JSON.parse(Buffer.from(idBlock, 'base64').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...id, name: 'evil.example' })).toString('base64').replace(/.{1,64}/g, '$&\n');
    const e1 = rmsErrorOf(() => readKeyExport(file.replace(idBlock, forged), password));
    expect(isRmsError(e1, 'InvalidInput')).toBe(true);
    expect(e1.message).toMatch(/altered/);

    const slcBlock = /-----BEGIN OPENRMS SLC-----\n([\s\S]*?)-----END/.exec(file)![1]!;
    const otherSlc = Buffer.from('<XrML>forged leaf</XrML>').toString('base64').replace(/.{1,64}/g, '$&\n');
    expect(rmsErrorOf(() => readKeyExport(file.replace(slcBlock, otherSlc), password)).message).toMatch(/altered/);
  });

  it('refuses a damaged key block, a key block from another export, and what is not an export', () => {
    const keyBlock = /-----BEGIN ENCRYPTED PRIVATE KEY-----\n([\s\S]*?)-----END/.exec(file)![1]!;
    const bytes = Buffer.from(keyBlock.replace(/\n/g, ''), 'base64');
    // Inside the encrypted modulus: the key still decrypts (CBC has no MAC) but is another key.
    bytes[200]! ^= 0xff;
    const damaged = file.replace(keyBlock, bytes.toString('base64').replace(/.{1,64}/g, '$&\n'));
    expect(isRmsError(rmsErrorOf(() => readKeyExport(damaged, password)))).toBe(true);

    const other = writeKeyExport(RsaKeyPair.generate(), password, { clusterId: 'c2' }, chain);
    const otherKeyBlock = /-----BEGIN ENCRYPTED PRIVATE KEY-----\n([\s\S]*?)-----END/.exec(other)![1]!;
    expect(rmsErrorOf(() => readKeyExport(file.replace(keyBlock, otherKeyBlock), password)).message).toMatch(/altered|does not belong/);

    expect(rmsErrorOf(() => readKeyExport('hello', password)).message).toMatch(/not a usable cluster key export/);
    expect(rmsErrorOf(() => readKeyExport(key.exportEncryptedPkcs8(password), password)).message).toMatch(/lacks/);
  });

  it('refuses a short export password', () => {
    expect(() => writeKeyExport(key, 'short', {}, chain)).toThrow(/at least 12/);
  });

  it('imports as a publishing domain key sealed to another cluster key: opens content keys, cannot sign', () => {
    const here = ClusterKey.generate();
    const opened = readKeyExport(file, password);
    const sealed = opened.sealAsPublishingDomainKey(here.publicKey);
    const domainKey = here.openPublishingDomainKey(sealed);
    const ck = ContentKey.generate();
    expect(domainKey.unsealContentKey(ck.sealTo(key.publicKey)).equals(ck)).toBe(true);
    expect(() => domainKey.unsealContentKey(ck.sealTo(here.publicKey))).toThrow(/sealed to another key/);
    expect((domainKey as unknown as { sign?: unknown }).sign).toBeUndefined();
    expect(inspect(domainKey)).toBe('PublishingDomainKey<RSA-2048>');
    // The sealed blob opens only as a publishing domain key, and only with the cluster it was sealed to.
    expect(() => here.unsealKeyPair(sealed, 'publishing-domain-key')).toThrow(/openPublishingDomainKey/);
    expect(() => here.unsealKeyPair(sealed, 'user-key-at-rest')).toThrow(/another purpose/);
    expect(() => key.openPublishingDomainKey(sealed)).toThrow(/another key/);
  });
});
