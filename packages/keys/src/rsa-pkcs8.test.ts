import { createPrivateKey, generateKeyPairSync, verify } from 'node:crypto';
import { RsaKeyPair } from './cluster-key';
import { rsaPrivateKeyPkcs8Der } from './rsa-pkcs8';

describe('PKCS#8 around PKCS#1', () => {
  it.each([1024, 2048, 3072, 4096])('is byte for byte what OpenSSL writes for RSA-%i', (bits) => {
    for (let i = 0; i < 3; i++) {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 0x10001 });
      const ours = rsaPrivateKeyPkcs8Der(privateKey);
      expect(ours.equals(privateKey.export({ type: 'pkcs8', format: 'der' }))).toBe(true);
      // And it reads back as the same key.
      const back = createPrivateKey({ key: ours, format: 'der', type: 'pkcs8' });
      expect(back.export({ type: 'pkcs1', format: 'der' }).equals(privateKey.export({ type: 'pkcs1', format: 'der' }))).toBe(true);
    }
  });

  it('a key sealed to another key opens there as the same key', () => {
    const pair = RsaKeyPair.generate(2048);
    const machine = RsaKeyPair.generate(2048);
    const opened = machine.unsealKeyPair(pair.sealPrivateKeyTo(machine.publicKey, 'rac-private-key'), 'rac-private-key');
    expect(opened.publicKeyPem).toBe(pair.publicKeyPem);
    const data = Buffer.from('signed by the opened key');
    expect(verify('sha256', data, pair.publicKey, opened.sign(data))).toBe(true);
  });
});
