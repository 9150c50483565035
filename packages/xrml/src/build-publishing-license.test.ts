import { issuerFromCertificate } from './build-slc';
import { buildClc } from './build-clc';
import { buildPublishingLicense, type PublishingLicenseFields } from './build-publishing-license';
import { parseXrml } from './parse-xrml';
import { readCertificate } from './read-certificate';
import { readPublishingLicense } from './read-publishing-license';
import { signXrml } from './sign-xrml';
import { blob, childNames, errorCode, newKeyPair, signAndVerify, T0, T1, verifiedSlc, xmlsecVerify } from './test-fixtures';
import { verifyChain } from './verify-chain';
import { withServerSignatureFields } from './with-server-signature-fields';
import { requiredPath } from './xrml-dom';
import { publicKeysEqual } from './xrml-public-key';

const server = newKeyPair();
const clcKey = newKeyPair();
const slc = verifiedSlc(server);
const clcXml = signXrml(
  buildClc({
    descriptorGuid: '{c2c2c2c2-2222-4333-8444-555555555555}',
    issuedTime: T0,
    issuer: slc.issuer,
    licensingUrl: 'https://rms.example.test/_wmcs/licensing',
    identity: { idType: 'Windows', id: 'S-1-5-21-9', email: 'author@example.test' },
    publicKey: clcKey.publicKey,
    issueRange: { from: T0, until: T1 },
    enablingBits: blob(64),
  }),
  server.signer,
);
const clcIssuer = issuerFromCertificate(readCertificate(clcXml));
const now = new Date('2025-06-01T00:00:00Z');

function fields(overrides: Partial<PublishingLicenseFields> = {}): PublishingLicenseFields {
  return {
    issuedTime: new Date('2025-05-01T10:00:00Z'),
    validity: { from: T0, until: T1 },
    descriptorGuid: '{abababab-1111-4222-8333-444444444444}',
    descriptor: { name: 'Quarterly figures', description: 'Internal only', lcid: 1033 },
    issuer: clcIssuer,
    licensingUrl: 'https://rms.example.test/_wmcs/licensing',
    extranetLicensingUrl: 'https://rms.example.com/_wmcs/licensing',
    server: { serverGuid: slc.info.principal.id, publicKey: server.publicKey, version: '6.0.0.0', sku: 'RMS 2.0', name: 'rms01', url: 'https://rms.example.test/_wmcs' },
    enablingBits: blob(300, 0x33),
    referral: { name: 'Ask the author', address: 'mailto:author@example.test' },
    contentId: '{dddddddd-1111-4222-8333-444444444444}',
    owner: { idType: 'Windows', email: 'author@example.test' },
    encryptedRightsData: blob(2000, 0x44),
    ...overrides,
  };
}

function expectMatchesFields(pl: ReturnType<typeof readPublishingLicense>, f: PublishingLicenseFields): void {
  expect(pl).toMatchObject({
    validity: f.validity,
    descriptorGuid: f.descriptorGuid,
    descriptor: f.descriptor,
    licensingUrls: [f.licensingUrl, f.extranetLicensingUrl],
    licensingUrl: f.licensingUrl,
    extranetLicensingUrl: f.extranetLicensingUrl,
    server: { serverGuid: f.server.serverGuid, version: '6.0.0.0', sku: 'RMS 2.0', name: 'rms01', url: 'https://rms.example.test/_wmcs' },
    enablingBits: f.enablingBits,
    referral: { name: f.referral!.name, address: f.referral!.address },
    contentId: f.contentId,
    owner: f.owner,
    encryptedRightsData: f.encryptedRightsData,
  });
  expect(publicKeysEqual(pl.server.publicKey, server.publicKey)).toBe(true);
}

describe('buildPublishingLicense / readPublishingLicense', () => {
  it('offline: built with the CLC principal, signed with the CLC key, read back', () => {
    const f = fields();
    const { signed, doc } = signAndVerify(buildPublishingLicense(f), clcKey);
    const pl = readPublishingLicense(doc);
    expectMatchesFields(pl, f);
    expect(pl.issuedTime).toEqual(f.issuedTime);
    expect(pl.issuer).toMatchObject({ objectType: 'Group-Identity', idType: 'Windows', id: 'S-1-5-21-9', name: 'author@example.test' });
    expect(publicKeysEqual(pl.issuer.publicKey, clcKey.publicKey)).toBe(true);
    expect(pl.signed).toBe(true);
    expect(pl.verified).toBe(true);
    // Offline PL chain: PL, CLC, SLC.
    expect(verifyChain([signed, clcXml, slc.xml], { trustedRootKeys: [server.publicKey], now })).toHaveLength(3);
  });

  it('keeps the element order of PROTOCOL.md §4.6 PL', () => {
    const doc = parseXrml(buildPublishingLicense(fields()));
    expect(doc.bodyType).toBe('Microsoft Rights Label');
    expect(childNames(doc.body)).toEqual([
      'ISSUEDTIME',
      'VALIDITYTIME',
      'DESCRIPTOR',
      'ISSUER',
      'DISTRIBUTIONPOINT',
      'DISTRIBUTIONPOINT',
      'ISSUEDPRINCIPALS',
      'DISTRIBUTIONPOINT',
      'WORK',
      'AUTHENTICATEDDATA',
    ]);
    const dpTypes = Array.from(doc.body.getElementsByTagName('DISTRIBUTIONPOINT')).map((d) => requiredPath(d, 'OBJECT').getAttribute('type'));
    expect(dpTypes).toEqual(['License-Acquisition-URL', 'Extranet-License-Acquisition-URL', 'Referral-Info']);
    const principal = requiredPath(doc.body, 'ISSUEDPRINCIPALS/PRINCIPAL');
    expect(childNames(principal)).toEqual(['OBJECT', 'PUBLICKEY', 'SECURITYLEVEL', 'SECURITYLEVEL', 'ENABLINGBITS']);
    expect(requiredPath(principal, 'OBJECT').getAttribute('type')).toBe('MS-DRM-Server');
    expect(childNames(requiredPath(doc.body, 'WORK'))).toEqual(['OBJECT', 'METADATA']);
    expect(requiredPath(doc.body, 'DESCRIPTOR/OBJECT/NAME').textContent).toBe('LCID 1033:NAME Quarterly figures:DESCRIPTION Internal only;');
    expect(doc.xml).toContain('<METADATA><OWNER><OBJECT><ID type="Windows"/><NAME>author@example.test</NAME></OBJECT></OWNER></METADATA>');
    expect(requiredPath(doc.body, 'AUTHENTICATEDDATA').getAttribute('id')).toBe('Encrypted-Rights-Data');
  });

  it('minimal PL: no validity, descriptor, extranet URL or referral', () => {
    const f = fields({ validity: undefined, descriptorGuid: undefined, descriptor: undefined, extranetLicensingUrl: undefined, referral: undefined });
    const doc = parseXrml(buildPublishingLicense(f), { allowUnsigned: true });
    expect(childNames(doc.body)).toEqual(['ISSUEDTIME', 'DESCRIPTOR', 'ISSUER', 'DISTRIBUTIONPOINT', 'ISSUEDPRINCIPALS', 'WORK', 'AUTHENTICATEDDATA']);
    expect(childNames(requiredPath(doc.body, 'DESCRIPTOR/OBJECT'))).toEqual(['ID']);
    const pl = readPublishingLicense(doc);
    expect(pl.validity).toBeUndefined();
    expect(pl.descriptor).toBeUndefined();
    expect(pl.referral).toBeUndefined();
    expect(pl.licensingUrls).toEqual([f.licensingUrl]);
  });

  it('reads an unsigned PL only when parsed with allowUnsigned, and says it is unsigned', () => {
    const xml = buildPublishingLicense(fields());
    expect(() => readPublishingLicense(parseXrml(xml))).toThrow(/unsigned/);
    const doc = parseXrml(xml, { allowUnsigned: true });
    const pl = readPublishingLicense(doc);
    expect(pl.signed).toBe(false);
    expect(pl.verified).toBe(false);
    expectMatchesFields(pl, fields());
    const signedButUnverified = parseXrml(signXrml(doc.xml, clcKey.signer));
    expect(readPublishingLicense(signedButUnverified)).toMatchObject({ signed: true, verified: false });
  });

  it('online: withServerSignatureFields re-issues the PL for the SLC, which then signs and chains it', () => {
    const clientPl = buildPublishingLicense(fields({ issuer: clcIssuer }));
    const before = readPublishingLicense(parseXrml(clientPl, { allowUnsigned: true }));
    const issuedTime = new Date('2025-05-02T09:15:00Z');
    const rewritten = withServerSignatureFields(clientPl, {
      issuedTime,
      issuer: slc.issuer,
      licensingUrl: 'https://lic.example.test/_wmcs/licensing',
      extranetLicensingUrl: 'https://lic.example.com/_wmcs/licensing',
    });
    const { signed, doc } = signAndVerify(rewritten, server);
    const pl = readPublishingLicense(doc);
    expect(pl.issuedTime).toEqual(issuedTime);
    expect(pl.issuer).toMatchObject({ objectType: 'MS-DRM-Server', id: slc.info.principal.id });
    expect(publicKeysEqual(pl.issuer.publicKey, server.publicKey)).toBe(true);
    expect(pl.licensingUrls).toEqual(['https://lic.example.test/_wmcs/licensing', 'https://lic.example.com/_wmcs/licensing']);
    // Everything the client said about the content is kept; the referral DP keeps its GUID.
    const { issuedTime: _a, issuer: _b, licensingUrls: _c, licensingUrl: _d, extranetLicensingUrl: _e, signed: _f, verified: _g, server: s1, ...rest } = pl;
    const { issuedTime: _h, issuer: _i, licensingUrls: _j, licensingUrl: _k, extranetLicensingUrl: _l, signed: _m, verified: _n, server: s0, ...restBefore } = before;
    expect(rest).toEqual(restBefore);
    expect({ ...s1, publicKey: undefined }).toEqual({ ...s0, publicKey: undefined });
    expect(pl.referral?.guid).toBe(before.referral?.guid);
    // The licensing DPs get fresh GUIDs.
    const guidsOf = (xml: string) =>
      Array.from(parseXrml(xml).body.getElementsByTagName('DISTRIBUTIONPOINT'))
        .filter((d) => requiredPath(d, 'OBJECT').getAttribute('type') !== 'Referral-Info')
        .map((d) => requiredPath(d, 'OBJECT/ID').textContent);
    expect(guidsOf(signed).some((g) => guidsOf(clientPl).includes(g))).toBe(false);
    // Online PL chain: PL + SLC chain.
    expect(verifyChain([signed, slc.xml], { trustedRootKeys: [server.publicKey], now })).toHaveLength(2);
    expect(xmlsecVerify(signed, server.publicKey).status).toBe(0);
    expect(xmlsecVerify(signed, clcKey.publicKey).status).not.toBe(0);
  });

  it('withServerSignatureFields strips an existing signature and can swap the enabling bits', () => {
    const clientSigned = signXrml(buildPublishingLicense(fields()), clcKey.signer);
    const resealed = blob(310, 0x77);
    const rewritten = withServerSignatureFields(clientSigned, { issuedTime: T0, issuer: slc.issuer, licensingUrl: 'https://rms.example.test/l', enablingBits: resealed });
    const doc = parseXrml(rewritten, { allowUnsigned: true });
    expect(doc.dsigSignature).toBeUndefined();
    expect(rewritten).not.toContain('Signature');
    const pl = readPublishingLicense(doc);
    expect(pl.enablingBits).toEqual(resealed);
    expect(pl.extranetLicensingUrl).toBeUndefined();
    expect(readPublishingLicense(signAndVerify(rewritten, server).doc).signed).toBe(true);
  });

  it('withServerSignatureFields refuses what it would otherwise drop', () => {
    const xml = buildPublishingLicense(fields());
    const withPolicy = xml.replace('</BODY>', '<POLICYLIST type="exclusion"><POLICY/></POLICYLIST></BODY>');
    expect(() => withServerSignatureFields(withPolicy, { issuedTime: T0, issuer: slc.issuer, licensingUrl: 'https://x.test/' })).toThrow(/unexpected <POLICYLIST>/);
    const withRevocation = xml.replace('</METADATA>', '</METADATA><CONDITIONLIST/>');
    expect(errorCode(() => withServerSignatureFields(withRevocation, { issuedTime: T0, issuer: slc.issuer, licensingUrl: 'https://x.test/' }))).toBe('InvalidInput');
  });

  describe('hostile input', () => {
    const xml = buildPublishingLicense(fields());

    it('a PL with a DOCTYPE is refused before parsing', () => {
      const evil = `<!DOCTYPE XrML [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${xml.replace('Quarterly figures', '&xxe;')}`;
      expect(errorCode(() => parseXrml(evil))).toBe('MalformedRequest');
      expect(errorCode(() => withServerSignatureFields(evil, { issuedTime: T0, issuer: slc.issuer, licensingUrl: 'https://x.test/' }))).toBe('MalformedRequest');
    });

    it.each([
      ['not base64', 'not*base64!!'],
      ['base64 with junk', 'AAAA AAA='],
      ['empty', ''],
    ])('ENABLINGBITS VALUE %s is InvalidInput', (_label, value) => {
      const bad = xml.replace(/(<ENABLINGBITS type="sealed-key-v2"><VALUE encoding="base64" size="\d+">)[^<]*/, `$1${value}`);
      expect(bad).not.toBe(xml);
      expect(errorCode(() => readPublishingLicense(parseXrml(bad, { allowUnsigned: true })))).toBe('InvalidInput');
    });

    it.each([
      ['a wrong ENABLINGBITS size', (s: string) => s.replace(/size="2400"/, 'size="2408"'), /size/],
      ['a non-server principal', (s: string) => s.replace('<OBJECT type="MS-DRM-Server">', '<OBJECT type="Group-Identity">'), /MS-DRM-Server/],
      ['two principals', (s: string) => s.replace(/(<ISSUEDPRINCIPALS>)(.*?)(<\/ISSUEDPRINCIPALS>)/, '$1$2$2$3'), /exactly one <PRINCIPAL>/],
      ['a bad Encrypted-Rights-Data', (s: string) => s.replace(/(id="Encrypted-Rights-Data">)[^<]*/, '$1@@@@'), /Encrypted-Rights-Data is not valid base64/],
      ['a second AUTHENTICATEDDATA', (s: string) => s.replace('</BODY>', '<AUTHENTICATEDDATA id="APPSPECIFIC" name="x">1</AUTHENTICATEDDATA></BODY>'), /exactly one AUTHENTICATEDDATA/],
      ['two licensing DPs of one type', (s: string) => s.replace('Extranet-License-Acquisition-URL', 'License-Acquisition-URL'), /more than one License-Acquisition-URL/],
      ['an unknown DP', (s: string) => s.replace('Extranet-License-Acquisition-URL', 'Publishing-URL'), /unexpected DISTRIBUTIONPOINT/],
      ['no content id', (s: string) => s.replace(/<WORK><OBJECT>.*?<\/OBJECT>/, '<WORK>'), /lacks required <OBJECT>/],
      ['a bad descriptor name', (s: string) => s.replace('LCID 1033:NAME', 'Quarterly'), /LCID/],
    ])('refuses %s', (_label, mutate, message) => {
      const bad = mutate(xml);
      expect(bad).not.toBe(xml);
      expect(() => readPublishingLicense(parseXrml(bad, { allowUnsigned: true }))).toThrow(message);
    });

    it('builder refuses bad fields', () => {
      expect(errorCode(() => buildPublishingLicense(fields({ referral: { name: 'x', address: 'javascript:alert(1)' } })))).toBe('InvalidInput');
      expect(errorCode(() => buildPublishingLicense(fields({ encryptedRightsData: Buffer.alloc(0) })))).toBe('InvalidInput');
      expect(errorCode(() => buildPublishingLicense(fields({ owner: { idType: 'Windows', email: '' } })))).toBe('InvalidInput');
      expect(errorCode(() => buildPublishingLicense(fields({ descriptor: { name: 'a:DESCRIPTION b' } })))).toBe('InvalidInput');
      expect(errorCode(() => buildPublishingLicense(fields({ server: { ...fields().server, serverGuid: 'srv' } })))).toBe('InvalidInput');
    });
  });
});
