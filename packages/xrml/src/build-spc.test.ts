import { createHash } from 'node:crypto';
import { buildSpc, type SpcFields } from './build-spc';
import { parseXrml } from './parse-xrml';
import { readSpc } from './read-spc';
import { signXrml } from './sign-xrml';
import { childNames, errorCode, newKeyPair, signAndVerify, T0 } from './test-fixtures';
import { requiredPath } from './xrml-dom';
import { publicKeysEqual } from './xrml-public-key';

const machine = newKeyPair();
const spcCa = newKeyPair();

function fields(overrides: Partial<SpcFields> = {}): SpcFields {
  return {
    descriptorGuid: '{0b0b0b0b-1111-4222-8333-444444444444}',
    issuedTime: T0,
    machineGuid: '{5e5e5e5e-6666-4777-8888-999999999999}',
    publicKey: machine.publicKey,
    platform: 'Windows 10.0',
    manufacturer: 'OpenRMS',
    repositoryVersion: '1.0.0.0',
    hardwareDigest: createHash('sha256').update('hw-id').digest(),
    ...overrides,
  };
}

describe('buildSpc / readSpc', () => {
  it('round-trips through sign, verify and read (self-signed with the machine key)', () => {
    const { doc } = signAndVerify(buildSpc(fields()), machine);
    const spc = readSpc(doc);
    const f = fields();
    expect(spc).toMatchObject({
      verified: true,
      descriptorGuid: f.descriptorGuid,
      issuedTime: T0,
      machineGuid: f.machineGuid,
      platform: f.platform,
      manufacturer: f.manufacturer,
      repositoryVersion: f.repositoryVersion,
      hardwareDigest: f.hardwareDigest,
    });
    expect(publicKeysEqual(spc.publicKey, machine.publicKey)).toBe(true);
    expect(publicKeysEqual(spc.issuerPublicKey, machine.publicKey)).toBe(true);
    expect(spc.issuer.objectType).toBe('MS-DRM-Desktop-Security-Processor');
    expect(spc.principalXml).toBe(
      '<OBJECT type="Machine-Unique-Identifier"><ID type="MS-GUID">{5e5e5e5e-6666-4777-8888-999999999999}</ID><NAME>Machine</NAME></OBJECT>',
    );
  });

  it('keeps the element order of PROTOCOL.md §4.6 SPC', () => {
    const doc = parseXrml(buildSpc(fields()));
    expect(childNames(doc.body)).toEqual(['ISSUEDTIME', 'DESCRIPTOR', 'ISSUER', 'DISTRIBUTIONPOINT', 'ISSUEDPRINCIPALS']);
    expect(childNames(requiredPath(doc.body, 'ISSUEDPRINCIPALS/PRINCIPAL'))).toEqual([
      'OBJECT',
      'PUBLICKEY',
      'DIGEST',
      'SECURITYLEVEL',
      'SECURITYLEVEL',
      'SECURITYLEVEL',
    ]);
    const dp = requiredPath(doc.body, 'DISTRIBUTIONPOINT/OBJECT');
    expect(dp.getAttribute('type')).toBe('Activation');
    expect(requiredPath(dp, 'ID').textContent).toBe('{99f48562-703e-4e7d-9175-dd69c66921b7}');
    expect(requiredPath(doc.body, 'DESCRIPTOR/OBJECT/NAME').textContent).toBe('Microsoft Machine-Certificate');
  });

  it('takes an explicit issuer (an SPC CA) and verifies with that key', () => {
    const xml = buildSpc(fields({ issuer: { objectType: 'MS-DRM-Server', id: '{12121212-1212-4121-8121-121212121212}', publicKey: spcCa.publicKey } }));
    const spc = readSpc(signAndVerify(xml, spcCa).doc);
    expect(publicKeysEqual(spc.issuerPublicKey, spcCa.publicKey)).toBe(true);
    expect(spc.issuer.objectType).toBe('MS-DRM-Server');
  });

  it('refuses bad input', () => {
    expect(errorCode(() => buildSpc(fields({ hardwareDigest: Buffer.alloc(20) })))).toBe('InvalidInput');
    expect(errorCode(() => buildSpc(fields({ machineGuid: 'machine' })))).toBe('InvalidInput');
    expect(errorCode(() => buildSpc(fields({ platform: '' })))).toBe('InvalidInput');
    expect(errorCode(() => buildSpc(fields({ manufacturer: 'a\u0007' })))).toBe('InvalidInput');
  });

  it('refuses an unsigned document unless parsed with allowUnsigned, and a document of another type', () => {
    const xml = buildSpc(fields());
    expect(errorCode(() => readSpc(parseXrml(xml)))).toBe('InvalidInput');
    const unsigned = readSpc(parseXrml(xml, { allowUnsigned: true }));
    expect(unsigned.machineGuid).toBe(fields().machineGuid);
    expect(unsigned.verified).toBe(false);
    // Signed but not verified: readable, and it says so.
    expect(readSpc(parseXrml(signXrml(xml, machine.signer))).verified).toBe(false);
    const read = (x: string) => readSpc(parseXrml(x, { allowUnsigned: true }));
    expect(() => read(xml.replace('type="Machine-Certificate"', 'type="Group-Identity-Credential"'))).toThrow(/DESCRIPTOR OBJECT type/);
    expect(() => read(xml.replace(/<DIGEST>.*<\/DIGEST>/, ''))).toThrow(/lacks required <DIGEST>/);
  });
});
