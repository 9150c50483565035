import { buildClc, type ClcFields } from './build-clc';
import { parseXrml } from './parse-xrml';
import { readCertificate } from './read-certificate';
import { readClc } from './read-clc';
import { blob, childNames, errorCode, newKeyPair, signAndVerify, T0, T1, verifiedSlc, xmlsecVerify } from './test-fixtures';
import { verifyChain } from './verify-chain';
import { requiredPath } from './xrml-dom';
import { publicKeysEqual } from './xrml-public-key';

const server = newKeyPair();
const clcKey = newKeyPair();
const slc = verifiedSlc(server);

function fields(overrides: Partial<ClcFields> = {}): ClcFields {
  return {
    descriptorGuid: '{c2c2c2c2-2222-4333-8444-555555555555}',
    issuedTime: T0,
    issuer: slc.issuer,
    licensingUrl: 'https://rms.example.test/_wmcs/licensing',
    extranetLicensingUrl: 'https://rms.example.com/_wmcs/licensing',
    identity: { idType: 'Federation', id: '{77777777-1111-4222-8333-444444444444}', email: 'bob@example.test', aliases: ['robert@example.test'] },
    publicKey: clcKey.publicKey,
    issueRange: { from: new Date('2024-12-31T23:45:00Z'), until: T1 },
    enablingBits: blob(1500, 0x22),
    ...overrides,
  };
}

describe('buildClc / readClc', () => {
  it('round-trips through sign, verify (SLC key) and read', () => {
    const f = fields();
    const clc = readClc(signAndVerify(buildClc(f), server).doc);
    expect(clc).toMatchObject({
      descriptorGuid: f.descriptorGuid,
      issuedTime: T0,
      licensingUrl: f.licensingUrl,
      extranetLicensingUrl: f.extranetLicensingUrl,
      identity: f.identity,
      issueRange: f.issueRange,
      enablingBits: f.enablingBits,
    });
    expect(publicKeysEqual(clc.publicKey, clcKey.publicKey)).toBe(true);
    expect(publicKeysEqual(clc.issuerPublicKey, server.publicKey)).toBe(true);
  });

  it('keeps the element order of PROTOCOL.md §4.6 CLC (no VALIDITYTIME)', () => {
    const doc = parseXrml(buildClc(fields()));
    expect(childNames(doc.body)).toEqual(['ISSUEDTIME', 'DESCRIPTOR', 'ISSUER', 'DISTRIBUTIONPOINT', 'DISTRIBUTIONPOINT', 'ISSUEDPRINCIPALS', 'WORK']);
    expect(childNames(requiredPath(doc.body, 'ISSUEDPRINCIPALS/PRINCIPAL'))).toEqual(['OBJECT', 'PUBLICKEY']);
    expect(childNames(requiredPath(doc.body, 'WORK'))).toEqual(['OBJECT', 'RIGHTSGROUP']);
    const right = requiredPath(doc.body, 'WORK/RIGHTSGROUP/RIGHTSLIST/RIGHT');
    expect(right.getAttribute('name')).toBe('ISSUE');
    expect(childNames(requiredPath(right, 'CONDITIONLIST'))).toEqual(['TIME', 'ACCESS']);
    const access = requiredPath(right, 'CONDITIONLIST/ACCESS/PRINCIPAL');
    expect(access.getAttribute('internal-id')).toBe('1');
    expect(childNames(access)).toEqual(['ENABLINGBITS']);
    const value = requiredPath(access, 'ENABLINGBITS/VALUE');
    expect(value.getAttribute('size')).toBe(String(1500 * 8));
    const dps = Array.from(doc.body.getElementsByTagName('DISTRIBUTIONPOINT')).map((d) => requiredPath(d, 'OBJECT'));
    expect(dps.map((o) => o.getAttribute('type'))).toEqual(['License-Acquisition-URL', 'Extranet-License-Acquisition-URL']);
    expect(dps.map((o) => requiredPath(o, 'NAME').textContent)).toEqual(['DRM Server Cluster', 'DRM Server Cluster']);
  });

  it('chains to the SLC, and xmlsec1 verifies it with the SLC key only', () => {
    const { signed } = signAndVerify(buildClc(fields()), server);
    const [leaf] = verifyChain([signed, slc.xml], { trustedRootKeys: [server.publicKey], now: new Date('2025-06-01T00:00:00Z') });
    expect(leaf?.descriptorType).toBe('Client-Licensor-Certificate');
    expect(leaf?.issueRange).toEqual(fields().issueRange);
    expect(xmlsecVerify(signed, server.publicKey).status).toBe(0);
    expect(xmlsecVerify(signed, clcKey.publicKey).status).not.toBe(0);
  });

  it('gives the offline PL issuer through issuerFromCertificate', () => {
    const { signed } = signAndVerify(buildClc(fields()), server);
    const principal = readCertificate(signed).principal;
    expect(principal).toMatchObject({ objectType: 'Group-Identity', idType: 'Federation', name: 'bob@example.test' });
  });

  it('refuses bad input and bad documents', () => {
    expect(errorCode(() => buildClc(fields({ licensingUrl: 'not a url' })))).toBe('InvalidInput');
    expect(errorCode(() => buildClc(fields({ issueRange: { from: T1, until: T0 } })))).toBe('InvalidInput');
    expect(errorCode(() => buildClc(fields({ enablingBits: 'abc' as unknown as Buffer })))).toBe('InvalidInput');
    const xml = buildClc(fields());
    const read = (x: string) => readClc(parseXrml(x, { allowUnsigned: true }));
    expect(() => read(xml.replace(/<RANGETIME>.*?<\/RANGETIME>/, ''))).toThrow(/lacks required <RANGETIME>/);
    expect(() => read(xml.replace(/(<VALUE encoding="base64" size=")\d+(">)[^<]*(<\/VALUE><\/ENABLINGBITS>)/, '$18$2%%%%$3'))).toThrow(/not valid base64/);
    expect(() => read(xml.replace('name="ISSUE"', 'name="VIEW"'))).toThrow(/must be ISSUE/);
    expect(() => read(xml.replace(/<DISTRIBUTIONPOINT>.*?<\/DISTRIBUTIONPOINT>/, ''))).toThrow(/License-Acquisition-URL/);
  });
});
