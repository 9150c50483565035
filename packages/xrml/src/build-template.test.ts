import { buildRightsData } from './build-rights-data';
import { buildTemplate, type TemplateFields } from './build-template';
import { parseXrml } from './parse-xrml';
import { readTemplate } from './read-template';
import { DSIG_NS } from './xrml-constants';
import { childNames, errorCode, newKeyPair, signAndVerify, T0, T1, verifiedSlc } from './test-fixtures';
import { requiredPath } from './xrml-dom';
import { publicKeysEqual } from './xrml-public-key';

const server = newKeyPair();
const other = newKeyPair();
const slc = verifiedSlc(server);
const GUID = '{f0f0f0f0-1111-4222-8333-444444444444}';

function fields(overrides: Partial<TemplateFields> = {}): TemplateFields {
  return {
    guid: GUID,
    issuedTime: T0,
    issuer: slc.issuer,
    publishingUrl: 'https://rms.example.test/_wmcs/licensing',
    name: 'Confidential',
    description: 'Staff only: view and print',
    lcid: 1033,
    policy: {
      grants: [
        { right: 'OWNER', grantee: { kind: 'owner' } },
        { right: 'VIEW', grantee: { kind: 'email', email: 'staff@example.test' }, intervalDays: 7 },
        { right: 'PRINT', grantee: { kind: 'email', email: 'staff@example.test' }, range: { from: T0, until: T1 } },
        { right: 'EXPORT', grantee: { kind: 'anyone' } },
      ],
      validity: { from: T0, until: T1 },
      appSpecific: { NOLICCACHE: '1' },
    },
    ...overrides,
  };
}

describe('buildTemplate / readTemplate', () => {
  it('round-trips through sign, verify (SLC key) and read', () => {
    const f = fields();
    const { doc } = signAndVerify(buildTemplate(f), server);
    const t = readTemplate(doc);
    expect(t).toMatchObject({
      guid: GUID,
      name: f.name,
      description: f.description,
      lcid: 1033,
      issuedTime: T0,
      publishingUrl: f.publishingUrl,
      grants: f.policy.grants,
      validity: f.policy.validity,
      appSpecific: f.policy.appSpecific,
    });
    expect(publicKeysEqual(t.issuerPublicKey, server.publicKey)).toBe(true);
    expect(t.issuer.objectType).toBe('MS-DRM-Server');
  });

  it('keeps the element order of PROTOCOL.md §4.6 template', () => {
    const doc = parseXrml(buildTemplate(fields({ referral: { name: 'Help desk', address: 'https://help.example.test/' } })));
    expect(doc.bodyType).toBe('Microsoft Official Rights Template');
    expect(childNames(doc.body)).toEqual(['ISSUEDTIME', 'DESCRIPTOR', 'ISSUER', 'DISTRIBUTIONPOINT', 'DISTRIBUTIONPOINT', 'WORK', 'AUTHENTICATEDDATA']);
    const descriptor = requiredPath(doc.body, 'DESCRIPTOR/OBJECT');
    expect(descriptor.hasAttribute('type')).toBe(false);
    expect(requiredPath(descriptor, 'NAME').textContent).toBe('LCID 1033:NAME Confidential:DESCRIPTION Staff only: view and print;');
    const dp = requiredPath(doc.body.getElementsByTagName('DISTRIBUTIONPOINT')[0]!, 'OBJECT');
    expect(dp.getAttribute('type')).toBe('Publishing-URL');
    expect(requiredPath(dp, 'NAME').textContent).toBe('Publishing Point');
    expect(requiredPath(dp, 'ADDRESS').textContent).toBe('https://rms.example.test/_wmcs/licensing');
    const work = requiredPath(doc.body, 'WORK');
    expect(childNames(work)).toEqual(['OBJECT', 'PRECONDITIONLIST', 'RIGHTSGROUP']);
    expect(doc.xml).toContain('<WORK><OBJECT><ID type=""/></OBJECT>');
    expect(childNames(requiredPath(work, 'RIGHTSGROUP/RIGHTSLIST'))).toEqual(['RIGHT', 'VIEW', 'PRINT', 'EXPORT']);
    expect(doc.xml).toContain('<RIGHT name="OWNER"><CONDITIONLIST><ACCESS><PRINCIPAL><OBJECT><ID type="Internal">Owner</ID></OBJECT></PRINCIPAL></ACCESS></CONDITIONLIST></RIGHT>');
    expect(readTemplate(parseXrml(doc.xml, { allowUnsigned: true })).referral).toMatchObject({ name: 'Help desk', address: 'https://help.example.test/' });
  });

  it('adds the OWNER grant when the policy has none', () => {
    const f = fields({ policy: { grants: [{ right: 'VIEW', grantee: { kind: 'anyone' } }] } });
    const t = readTemplate(parseXrml(buildTemplate(f), { allowUnsigned: true }));
    expect(t.grants).toEqual([{ right: 'OWNER', grantee: { kind: 'owner' } }, { right: 'VIEW', grantee: { kind: 'anyone' } }]);
  });

  it('its hash for AcquireTemplateInformation is the signature digest, which changes with the content', () => {
    const digestOf = (xml: string) => parseXrml(xml).dsigSignature!.getElementsByTagNameNS(DSIG_NS, 'DigestValue')[0]!.textContent;
    const a = signAndVerify(buildTemplate(fields()), server).signed;
    const b = signAndVerify(buildTemplate(fields({ name: 'Secret' })), server).signed;
    expect(digestOf(a)).not.toBe(digestOf(b));
  });

  it('does not verify with another key, and is not rights data', () => {
    const { signed } = signAndVerify(buildTemplate(fields()), server);
    expect(errorCode(() => signAndVerify(buildTemplate(fields()), server, other.publicKey))).toBe('ChainInvalid');
    const erd = buildRightsData({
      issuedTime: T0,
      descriptorGuid: GUID,
      name: 'Confidential',
      templateIssuer: slc.issuer,
      publishingUrl: 'https://rms.example.test/_wmcs/licensing',
      policy: { contentId: '{dddddddd-1111-4222-8333-444444444444}', ownerEmail: 'o@x', grants: [], templateGuid: GUID },
    });
    expect(() => readTemplate(parseXrml(erd, { allowUnsigned: true }))).toThrow(/unexpected <METADATA>/);
    expect(signed).toContain('Microsoft Official Rights Template');
  });

  it('refuses bad input', () => {
    expect(errorCode(() => buildTemplate(fields({ guid: 'x' })))).toBe('InvalidInput');
    expect(errorCode(() => buildTemplate(fields({ name: '' })))).toBe('InvalidInput');
    expect(errorCode(() => buildTemplate(fields({ publishingUrl: 'file:///etc' })))).toBe('InvalidInput');
    expect(errorCode(() => buildTemplate(fields({ policy: { grants: [], templateGuid: '{00000000-1111-4222-8333-444444444444}' } })))).toBe('InvalidInput');
    const xml = buildTemplate(fields());
    const read = (x: string) => readTemplate(parseXrml(x, { allowUnsigned: true }));
    expect(() => read(xml.replace('<ID type=""/>', '<ID type="MS-GUID">{dddddddd-1111-4222-8333-444444444444}</ID>'))).toThrow(/WORK OBJECT/);
    expect(() => read(xml.replace(/<DISTRIBUTIONPOINT>.*?<\/DISTRIBUTIONPOINT>/, ''))).toThrow(/Publishing-URL/);
    expect(() => read(xml.replace('Microsoft Official Rights Template', 'Microsoft Rights Template'))).toThrow(/BODY type/);
  });
});
