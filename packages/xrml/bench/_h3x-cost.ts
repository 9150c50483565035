import { generateKeyPairSync, sign, createHash } from 'node:crypto';
import { DOMParser, XMLSerializer } from '@xmldom/xmldom';
import { ExclusiveCanonicalization } from 'xml-crypto';
import { signXrml, buildRac, buildUseLicense, buildSlc, readRac, verifyXrmlSignature, readCertificate, issuerFromCertificate, parseXrml } from '../src/index';
const kp = () => { const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 }); return { publicKey, signer: { sign: (d: Buffer) => sign('sha256', d, privateKey) } }; };
const server = kp(), user = kp();
const T0 = new Date('2025-01-01T00:00:00Z'), T1 = new Date('2026-01-01T00:00:00Z');
const slcXml = signXrml(buildSlc({ descriptorGuid: '{11111111-2222-4333-8444-555555555555}', issuedTime: T0, validFrom: T0, validUntil: T1,
  issuer: { id: '{aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee}', name: 'x', publicKey: server.publicKey, cpsUrl: 'https://rms.example.test/c' },
  subject: { serverGuid: '{aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee}', url: 'https://rms.example.test/_wmcs', publicKey: server.publicKey, version: '6.0.0.0', sku: 'RMS 2.0' } }), server.signer);
const slc = readCertificate(verifyXrmlSignature(slcXml, server.publicKey));
const racFields = { descriptorGuid: '{c1c1c1c1-2222-4333-8444-555555555555}', issuedTime: T0, validFrom: T0, validUntil: T1, issuer: issuerFromCertificate(slc),
  activationUrl: 'https://rms.example.test/_wmcs/certification', identity: { idType: 'Federation' as const, id: '{abc}', email: 'bob@example.test' }, publicKey: user.publicKey, credentialType: 'Persistent' as const };
const rac = readRac(verifyXrmlSignature(signXrml(buildRac(racFields), server.signer), server.publicKey));
const ulFields = { descriptorGuid: '{0e0e0e0e-2222-4333-8444-555555555555}', issuedTime: T0, validFrom: T0, validUntil: T1, issuer: issuerFromCertificate(slc),
  licenseePrincipalXml: rac.principalXml, contentId: '{dddddddd-1111-4222-8333-444444444444}', owner: { idType: 'Windows', email: 'a@example.test' },
  rights: [{ right: 'VIEW', enablingBits: Buffer.alloc(300, 1) }, { right: 'EDIT', enablingBits: Buffer.alloc(300, 1) }] };
function t(name: string, fn: () => unknown, ms = 400) { for (let i = 0; i < 20; i++) fn(); let n = 0; const s = process.hrtime.bigint(); const e = s + BigInt(ms) * 1000000n; let now = s; while (now < e) { fn(); n++; now = process.hrtime.bigint(); } console.log(name.padEnd(40), (Number(now - s) / 1e6 / n).toFixed(3), 'ms'); }
const ul = buildUseLicense(ulFields);
console.log('UL bytes', ul.length);
t('buildUseLicense', () => buildUseLicense(ulFields));
t('signXrml(UL)', () => signXrml(ul, server.signer));
t('buildRac', () => buildRac(racFields));
const r = buildRac(racFields);
t('signXrml(RAC)', () => signXrml(r, server.signer));
t('RSA sign', () => server.signer.sign(Buffer.from('abc')));
t('xmldom parse UL', () => new DOMParser().parseFromString(ul, 'text/xml'));
t('parseXrml UL', () => parseXrml(ul));
const d = new DOMParser().parseFromString(ul, 'text/xml');
t('xmldom serialize UL', () => new XMLSerializer().serializeToString(d));
t('xml-crypto exc-c14n UL', () => new ExclusiveCanonicalization().process(d.documentElement as any, {}).toString());
t('sha256 UL', () => createHash('sha256').update(ul).digest('base64'));
import { referenceBuildUseLicense, referenceSignXrml, referenceBuildRac } from '../src/xml-crypto-reference';
t('OLD build+sign UL', () => referenceSignXrml(referenceBuildUseLicense(ulFields), server.signer));
t('NEW build+sign UL', () => signXrml(buildUseLicense(ulFields), server.signer));
t('OLD build+sign RAC', () => referenceSignXrml(referenceBuildRac(racFields), server.signer));
t('NEW build+sign RAC', () => signXrml(buildRac(racFields), server.signer));
