/**
 * Rough throughput of the XrML hot paths, printed, not asserted (timed tests are flaky).
 * Run: `npx tsx packages/xrml/bench/sign-verify.bench.ts` from the repository root.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { buildSlc, parseXrml, readCertificate, signXrml, verifyChain, verifyXrmlSignature, verifyXrmlSignatureWithXmlCrypto, type Signer } from '../src';

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signer: Signer = { sign: (data) => sign('sha256', data, privateKey) };
const t0 = new Date('2025-01-01T00:00:00Z');
const unsigned = buildSlc({
  descriptorGuid: '{11111111-2222-4333-8444-555555555555}',
  issuedTime: t0,
  validFrom: t0,
  validUntil: new Date('2026-01-01T00:00:00Z'),
  issuer: { id: '{aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee}', name: 'OpenRMS Server Self Enrollment Service', publicKey },
  subject: { serverGuid: '{aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee}', name: 'rms01', url: 'https://rms.example.test/_wmcs', publicKey, version: '6.0.0.0', sku: 'RMS 2.0' },
  issueScope: ['RAC', 'CLC', 'PL', 'UL', 'SLC'],
});
const signed = signXrml(unsigned, signer);
const now = new Date('2025-06-01T00:00:00Z');

function rate(label: string, fn: () => unknown, seconds = 2): void {
  for (let i = 0; i < 20; i++) fn(); // warm-up
  let n = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(seconds * 1e9);
  while (process.hrtime.bigint() < end) {
    fn();
    n++;
  }
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`${label.padEnd(44)} ${(n / secs).toFixed(0).padStart(7)} /s   ${((secs / n) * 1000).toFixed(3)} ms each`);
}

console.log(`SLC: ${Buffer.byteLength(signed)} bytes signed, RSA-2048, node ${process.version}`);
rate('raw RSA-2048 PKCS#1 v1.5 sign (node:crypto)', () => signer.sign(Buffer.from('x')));
rate('parseXrml (secure parse)', () => parseXrml(signed));
rate('signXrml (parse + c14n + digest + RSA sign)', () => signXrml(unsigned, signer));
rate('verifyXrmlSignature (lean)', () => verifyXrmlSignature(signed, publicKey));
rate('verifyXrmlSignatureWithXmlCrypto (reference)', () => verifyXrmlSignatureWithXmlCrypto(signed, publicKey));
rate('verify + readCertificate', () => readCertificate(verifyXrmlSignature(signed, publicKey)));
rate('verifyChain (1 member)', () => verifyChain([signed], { trustedRootKeys: [publicKey], now }));
