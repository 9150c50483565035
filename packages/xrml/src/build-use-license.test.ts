import { buildRac } from './build-rac';
import { buildUseLicense, type UseLicenseFields } from './build-use-license';
import { parseXrml } from './parse-xrml';
import { readRac } from './read-rac';
import { readUseLicense } from './read-use-license';
import { blob, childNames, errorCode, newKeyPair, signAndVerify, T0, T1, verifiedSlc, xmlsecVerify } from './test-fixtures';
import { verifyChain } from './verify-chain';
import { requiredPath } from './xrml-dom';
import { publicKeysEqual } from './xrml-public-key';

const server = newKeyPair();
const user = newKeyPair();
const slc = verifiedSlc(server);
const identity = { idType: 'Windows' as const, id: 'S-1-5-21-1-2-3-1104', email: 'alice&co@example.test', aliases: ['a<b>@example.test'] };
const racSigned = signAndVerify(
  buildRac({
    descriptorGuid: '{c1c1c1c1-2222-4333-8444-555555555555}',
    issuedTime: T0,
    validFrom: T0,
    validUntil: T1,
    issuer: slc.issuer,
    activationUrl: 'https://rms.example.test/_wmcs/certification',
    identity,
    publicKey: user.publicKey,
    credentialType: 'Persistent',
  }),
  server,
);
const rac = readRac(racSigned.doc);
const R1 = { from: new Date('2025-06-01T21:41:00Z'), until: new Date('2025-07-02T06:59:00Z') };

function fields(overrides: Partial<UseLicenseFields> = {}): UseLicenseFields {
  return {
    descriptorGuid: '{0e0e0e0e-2222-4333-8444-555555555555}',
    issuedTime: new Date('2025-06-01T21:41:00Z'),
    validFrom: new Date('2025-06-01T21:26:00Z'),
    validUntil: new Date('2025-07-02T06:59:00Z'),
    issuer: slc.issuer,
    licenseePrincipalXml: rac.principalXml,
    contentId: '{dddddddd-1111-4222-8333-444444444444}',
    owner: { idType: 'Windows', email: 'author@example.test' },
    rights: [
      { right: 'VIEW', enablingBits: blob(300, 1), range: R1, intervalDays: 30 },
      { right: 'PRINT', enablingBits: blob(300, 2) },
      { right: 'DOCEDIT', enablingBits: blob(300, 3), intervalDays: 1 },
    ],
    referral: { name: 'Author', address: 'mailto:author@example.test', guid: '{12345678-1111-4222-8333-444444444444}' },
    applicationExclusions: [
      { name: 'badviewer.exe', min: '0.0.0.0', max: '2.1.5.2600' },
      { name: 'old<app>.exe', min: '1.0', max: '1.9' },
    ],
    ...overrides,
  };
}

describe('buildUseLicense / readUseLicense', () => {
  it('round-trips through sign, verify (SLC key) and read', () => {
    const f = fields();
    const { doc } = signAndVerify(buildUseLicense(f), server);
    const ul = readUseLicense(doc);
    expect(ul).toMatchObject({
      descriptorGuid: f.descriptorGuid,
      issuedTime: f.issuedTime,
      validFrom: f.validFrom,
      validUntil: f.validUntil,
      licensee: { identity },
      contentId: f.contentId,
      owner: f.owner,
      referral: f.referral,
    });
    expect(ul.rights).toEqual(f.rights);
    expect(ul.applicationExclusions).toEqual(f.applicationExclusions);
    expect(publicKeysEqual(ul.licensee.publicKey, user.publicKey)).toBe(true);
    expect(publicKeysEqual(ul.issuerPublicKey, server.publicKey)).toBe(true);
  });

  it('copies the RAC principal verbatim: identical bytes in the RAC and the UL', () => {
    const { signed, doc } = signAndVerify(buildUseLicense(fields()), server);
    expect(racSigned.signed).toContain(rac.principalXml);
    expect(signed).toContain(`<ISSUEDPRINCIPALS>${rac.principalXml}</ISSUEDPRINCIPALS>`);
    expect(readUseLicense(doc).licenseePrincipalXml).toBe(rac.principalXml);
    // Markup in the copied identity stays escaped, not re-interpreted.
    expect(rac.principalXml).toContain('alice&amp;co@example.test');
    expect(rac.principalXml).toContain('a&lt;b&gt;@example.test');
  });

  it('keeps the element order of PROTOCOL.md §4.6 UL', () => {
    const doc = parseXrml(buildUseLicense(fields()));
    expect(doc.root.getAttribute('purpose')).toBe('Content-License');
    expect(doc.root.getAttribute('version')).toBe('1.2');
    expect(childNames(doc.body)).toEqual([
      'ISSUEDTIME',
      'VALIDITYTIME',
      'DESCRIPTOR',
      'ISSUER',
      'ISSUEDPRINCIPALS',
      'DISTRIBUTIONPOINT',
      'WORK',
      'POLICYLIST',
    ]);
    expect(requiredPath(doc.body, 'DESCRIPTOR/OBJECT').getAttribute('type')).toBe('Content-License');
    expect(childNames(requiredPath(doc.body, 'WORK'))).toEqual(['OBJECT', 'METADATA', 'RIGHTSGROUP']);
    expect(childNames(requiredPath(doc.body, 'WORK/RIGHTSGROUP/RIGHTSLIST'))).toEqual(['VIEW', 'PRINT', 'RIGHT']);
    const view = requiredPath(doc.body, 'WORK/RIGHTSGROUP/RIGHTSLIST/VIEW/CONDITIONLIST');
    expect(childNames(view)).toEqual(['ACCESS', 'TIME', 'TIME']);
    expect(childNames(requiredPath(view, 'ACCESS/PRINCIPAL'))).toEqual(['ENABLINGBITS']);
    expect(requiredPath(view, 'ACCESS/PRINCIPAL').getAttribute('internal-id')).toBe('1');
    const policyList = requiredPath(doc.body, 'POLICYLIST');
    expect(policyList.getAttribute('type')).toBe('exclusion');
    expect(childNames(policyList)).toEqual(['POLICY', 'POLICY']);
    // Attributes in canonical (sorted) order: the UL is written canonically (canonical-xml.ts).
    expect(doc.xml).toMatch(/<POLICY><OBJECT><ID type="filename">badviewer\.exe<\/ID><VERSIONSPAN max="2\.1\.5\.2600" min="0\.0\.0\.0"(\/>|><\/VERSIONSPAN>)<\/OBJECT><\/POLICY>/);
  });

  it('a UL without referral or exclusions, with an OWNER right', () => {
    const f = fields({ referral: undefined, applicationExclusions: undefined, rights: [{ right: 'OWNER', enablingBits: blob(256) }] });
    const { doc } = signAndVerify(buildUseLicense(f), server);
    expect(childNames(doc.body)).toEqual(['ISSUEDTIME', 'VALIDITYTIME', 'DESCRIPTOR', 'ISSUER', 'ISSUEDPRINCIPALS', 'WORK']);
    const ul = readUseLicense(doc);
    expect(ul.rights).toEqual(f.rights);
    expect(ul.applicationExclusions).toEqual([]);
    expect(ul.referral).toBeUndefined();
    expect(doc.xml).toContain('<RIGHT name="OWNER">');
  });

  it('chains to the SLC and verifies with xmlsec1 (SLC key only)', () => {
    const { signed } = signAndVerify(buildUseLicense(fields()), server);
    const [leaf] = verifyChain([signed, slc.xml], { trustedRootKeys: [server.publicKey], now: new Date('2025-06-15T00:00:00Z') });
    expect(leaf?.descriptorType).toBe('Content-License');
    expect(() => verifyChain([signed, slc.xml], { trustedRootKeys: [server.publicKey], now: new Date('2025-07-03T00:00:00Z') })).toThrow(/expired/);
    expect(xmlsecVerify(signed, server.publicKey).status).toBe(0);
    expect(xmlsecVerify(signed, user.publicKey).status).not.toBe(0);
  });

  it.each([
    ['not a PRINCIPAL', '<OBJECT type="Group-Identity"><ID type="Windows">S-1</ID><NAME>a@b</NAME></OBJECT>'],
    ['a DOCTYPE', `<!DOCTYPE PRINCIPAL>${'<PRINCIPAL internal-id="1"/>'}`],
    ['a principal without a key', '<PRINCIPAL internal-id="1"><OBJECT type="Group-Identity"><ID type="Windows">S-1</ID><NAME>a@b</NAME></OBJECT></PRINCIPAL>'],
    ['a server principal', rac.principalXml.replace('type="Group-Identity"', 'type="MS-DRM-Server"')],
    ['string concatenation bait', `${rac.principalXml}</ISSUEDPRINCIPALS><ISSUEDPRINCIPALS>`],
    ['an XML declaration', `<?xml version="1.0"?>${rac.principalXml}`],
  ])('refuses licenseePrincipalXml that is %s', (_label, licenseePrincipalXml) => {
    expect(errorCode(() => buildUseLicense(fields({ licenseePrincipalXml })))).toBe('InvalidInput');
  });

  it('refuses bad rights and exclusions', () => {
    expect(errorCode(() => buildUseLicense(fields({ rights: [] })))).toBe('InvalidInput');
    expect(errorCode(() => buildUseLicense(fields({ rights: [{ right: 'VIEW', enablingBits: Buffer.alloc(0) }] })))).toBe('InvalidInput');
    expect(errorCode(() => buildUseLicense(fields({ rights: [{ right: '<VIEW>', enablingBits: blob(8) }] })))).toBe('InvalidInput');
    expect(errorCode(() => buildUseLicense(fields({ applicationExclusions: [{ name: 'x.exe', min: '', max: '1' }] })))).toBe('InvalidInput');
  });

  it('reader refuses tampered documents', () => {
    const xml = buildUseLicense(fields());
    const read = (x: string) => readUseLicense(parseXrml(x, { allowUnsigned: true }));
    expect(() => read(xml.replace(' purpose="Content-License"', ''))).toThrow(/purpose/);
    expect(() => read(xml.replace('<ACCESS><PRINCIPAL internal-id="1">', '<ACCESS><PRINCIPAL internal-id="2">'))).toThrow(/internal-id/);
    expect(() => read(xml.replace('<POLICYLIST type="exclusion">', '<POLICYLIST type="inclusion">'))).toThrow(/POLICYLIST type/);
    expect(() => read(xml.replace('</WORK>', '</WORK><CONDITIONLIST/>'))).toThrow(/unexpected <CONDITIONLIST>/);
    expect(() => read(xml.replace(/<RIGHTSLIST>.*<\/RIGHTSLIST>/, '<RIGHTSLIST/>'))).toThrow(/no rights/);
    expect(errorCode(() => readUseLicense(parseXrml(xml)))).toBe('InvalidInput');
  });
});
