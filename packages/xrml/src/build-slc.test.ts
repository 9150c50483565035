import { isRmsError } from '@openrms/domain';
import { buildSlc, issuerFromCertificate } from './build-slc';
import { parseXrml } from './parse-xrml';
import { readCertificate } from './read-certificate';
import { signXrml } from './sign-xrml';
import { newKeyPair, slcFields, T0, T1, unsignedSlc } from './test-fixtures';
import { verifyXrmlSignature } from './verify-xrml-signature';
import { childElements, requiredPath } from './xrml-dom';
import { publicKeysEqual } from './xrml-public-key';

const server = newKeyPair();
const issuer = newKeyPair();
const thirdParty = newKeyPair();

function names(el: Element): string[] {
  return childElements(el).map((c) => c.nodeName);
}

describe('buildSlc', () => {
  const doc = parseXrml(unsignedSlc(server.publicKey, issuer.publicKey));

  it('writes XrML 1.2 with one BODY type=LICENSE version=3.0', () => {
    expect(doc.root.getAttribute('version')).toBe('1.2');
    expect(doc.body.getAttribute('type')).toBe('LICENSE');
    expect(doc.body.getAttribute('version')).toBe('3.0');
  });

  it('keeps the element order of PROTOCOL.md §4.6', () => {
    expect(names(doc.body)).toEqual(['ISSUEDTIME', 'VALIDITYTIME', 'DESCRIPTOR', 'ISSUER', 'ISSUEDPRINCIPALS', 'WORK']);
    expect(names(requiredPath(doc.body, 'ISSUER'))).toEqual(['OBJECT', 'PUBLICKEY', 'SECURITYLEVEL']);
    expect(names(requiredPath(doc.body, 'ISSUEDPRINCIPALS/PRINCIPAL'))).toEqual([
      'OBJECT',
      'PUBLICKEY',
      'SECURITYLEVEL',
      'SECURITYLEVEL',
      'SECURITYLEVEL',
    ]);
    expect(names(requiredPath(doc.body, 'ISSUEDPRINCIPALS/PRINCIPAL/OBJECT'))).toEqual(['ID', 'NAME', 'ADDRESS']);
    expect(names(requiredPath(doc.body, 'WORK'))).toEqual(['OBJECT', 'RIGHTSGROUP']);
    const right = requiredPath(doc.body, 'WORK/RIGHTSGROUP/RIGHTSLIST/RIGHT');
    expect(right.getAttribute('name')).toBe('ISSUE');
    expect(names(requiredPath(right, 'CONDITIONLIST'))).toEqual(['TIME', 'ACCESS']);
    expect(requiredPath(right, 'CONDITIONLIST/ACCESS/PRINCIPAL').getAttribute('internal-id')).toBe('1');
    expect(requiredPath(doc.body, 'ISSUEDPRINCIPALS/PRINCIPAL').getAttribute('internal-id')).toBe('1');
  });

  it('reads back through readCertificate', () => {
    const info = readCertificate(doc);
    expect(info.verified).toBe(false);
    expect(info.descriptorType).toBe('Server-Licensor-Certificate');
    expect(info.descriptorGuid).toBe('{11111111-2222-4333-8444-555555555555}');
    expect(info.issuedTime).toEqual(T0);
    expect(info.validFrom).toEqual(T0);
    expect(info.validUntil).toEqual(T1);
    expect(info.issueRange).toEqual({ from: T0, until: T1 });
    expect(info.issuer).toMatchObject({
      objectType: 'MS-DRM-Server',
      idType: 'MS-GUID',
      id: '{aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee}',
      name: 'OpenRMS Server Self Enrollment Service',
    });
    expect(info.issuer.securityLevels['Certificate Practice Statement']).toBe('https://rms.example.test/certification');
    expect(publicKeysEqual(info.issuer.publicKey, issuer.publicKey)).toBe(true);
    expect(info.principal).toMatchObject({ objectType: 'MS-DRM-Server', idType: 'MS-GUID', name: 'rms01', url: 'https://rms.example.test/_wmcs' });
    expect({ ...info.principal.securityLevels }).toEqual({ 'Server-Version': '6.0.0.0', 'Server-SKU': 'RMS 2.0', 'Issue-Scope': 'RAC,CLC,PL,UL,SLC' });
    expect(publicKeysEqual(info.principal.publicKey, server.publicKey)).toBe(true);
    expect(info.issueScope).toEqual(['RAC', 'CLC', 'PL', 'UL', 'SLC']);
    expect(info.revocation).toBeUndefined();
  });

  it('writes a licensing-only scope in canonical order and without duplicates', () => {
    const info = readCertificate(unsignedSlc(server.publicKey, issuer.publicKey, { issueScope: ['UL', 'PL', 'CLC', 'PL'] }));
    expect(info.issueScope).toEqual(['CLC', 'PL', 'UL']);
    const none = readCertificate(unsignedSlc(server.publicKey, issuer.publicKey, { issueScope: undefined }));
    expect(none.issueScope).toBeUndefined();
    expect(() => unsignedSlc(server.publicKey, issuer.publicKey, { issueScope: ['XYZ' as 'PL'] })).toThrow(/issue scope/);
  });

  it('writes a separate ISSUE range when given', () => {
    const from = new Date('2025-02-01T00:00:00Z');
    const until = new Date('2025-12-01T00:00:00Z');
    expect(readCertificate(unsignedSlc(server.publicKey, issuer.publicKey, { issueRange: { from, until } })).issueRange).toEqual({ from, until });
  });

  it('standard revocation names the issuer key', () => {
    const xml = unsignedSlc(server.publicKey, issuer.publicKey, { revocation: { kind: 'standard' } });
    const d = parseXrml(xml);
    expect(names(d.body).at(-1)).toBe('CONDITIONLIST');
    const refresh = requiredPath(d.body, 'CONDITIONLIST/REFRESH');
    expect(names(refresh)).toEqual(['DISTRIBUTIONPOINT', 'INTERVALTIME']);
    const info = readCertificate(d);
    expect(info.revocation?.authorities).toHaveLength(1);
    expect(info.revocation?.authorities[0]).toMatchObject({ objectType: 'Revocation', idType: 'MS-GUID', name: 'OpenRMS Server Self Enrollment Service' });
    expect(publicKeysEqual(info.revocation!.authorities[0]!.publicKey, issuer.publicKey)).toBe(true);
    expect(info.revocation?.intervalSeconds).toBe(30 * 86_400);
  });

  it('custom revocation adds one External revocation authority per key', () => {
    const info = readCertificate(
      unsignedSlc(server.publicKey, issuer.publicKey, {
        revocation: { kind: 'custom', authorityKeys: [thirdParty.publicKey, server.publicKey], intervalDays: 7 },
      }),
    );
    const auth = info.revocation!.authorities;
    expect(auth).toHaveLength(3);
    expect(auth[1]).toMatchObject({ idType: 'ascii-tag', id: 'External revocation authority' });
    expect(publicKeysEqual(auth[1]!.publicKey, thirdParty.publicKey)).toBe(true);
    expect(publicKeysEqual(auth[2]!.publicKey, server.publicKey)).toBe(true);
    expect(info.revocation!.intervalSeconds).toBe(7 * 86_400);
    expect(() => unsignedSlc(server.publicKey, issuer.publicKey, { revocation: { kind: 'custom', authorityKeys: [] } })).toThrow(/authority/);
  });

  it('escapes markup in values, and the escaped values survive signing and verification', () => {
    const name = `a<b>&"c'd]]>`;
    const fields = slcFields(server.publicKey, issuer.publicKey);
    const xml = buildSlc({ ...fields, subject: { ...fields.subject, name }, issuer: { ...fields.issuer, name: '</NAME><NAME>x' } });
    expect(xml).not.toContain('<b>');
    const v = verifyXrmlSignature(signXrml(xml, issuer.signer), issuer.publicKey);
    const info = readCertificate(v);
    expect(info.principal.name).toBe(name);
    expect(info.issuer.name).toBe('</NAME><NAME>x');
  });

  it.each([
    ['a control character in a name', { name: 'a\u0001b' }],
    ['a newline in a name (would not survive attribute/line-end normalisation)', { name: 'a\nb' }],
    ['an empty name', { name: '  ' }],
    ['a non-GUID server id', { serverGuid: 'server-1' }],
    ['a non-http URL', { url: 'javascript:alert(1)' }],
    ['a relative URL', { url: '/x' }],
  ])('refuses %s', (_label, subjectOverride) => {
    const fields = slcFields(server.publicKey, issuer.publicKey);
    let err: unknown;
    try {
      buildSlc({ ...fields, subject: { ...fields.subject, ...subjectOverride } });
    } catch (e) {
      err = e;
    }
    expect(isRmsError(err, 'InvalidInput')).toBe(true);
  });

  it('refuses an empty or inverted validity period (after minute rounding)', () => {
    expect(() => unsignedSlc(server.publicKey, issuer.publicKey, { validFrom: T1, validUntil: T0 })).toThrow(/not before/);
    expect(() =>
      unsignedSlc(server.publicKey, issuer.publicKey, { validFrom: new Date('2025-01-01T00:00:10Z'), validUntil: new Date('2025-01-01T00:00:50Z') }),
    ).toThrow(/not before/);
  });

  it('refuses a private key', () => {
    expect(() => unsignedSlc(server.privateKey, issuer.publicKey)).toThrow(expect.objectContaining({ code: 'InvalidInput' }));
  });

  it('issuerFromCertificate copies a principal, so a sub-SLC names its parent verbatim', () => {
    const parent = readCertificate(unsignedSlc(issuer.publicKey, issuer.publicKey));
    const child = readCertificate(unsignedSlc(server.publicKey, issuer.publicKey, { issuer: issuerFromCertificate(parent) }));
    expect(child.issuer).toMatchObject({ objectType: parent.principal.objectType, id: parent.principal.id, name: 'rms01', url: parent.principal.url });
    expect({ ...child.issuer.securityLevels }).toEqual({ ...parent.principal.securityLevels });
    expect(publicKeysEqual(child.issuer.publicKey, issuer.publicKey)).toBe(true);
  });
});

describe('readCertificate', () => {
  const xml = unsignedSlc(server.publicKey, issuer.publicKey);

  it.each([
    ['ISSUEDTIME', (s: string) => s.replace(/<ISSUEDTIME>[^<]*<\/ISSUEDTIME>/, '')],
    ['ISSUER', (s: string) => s.replace(/<ISSUER>.*<\/ISSUER>/, '')],
    ['DESCRIPTOR', (s: string) => s.replace(/<DESCRIPTOR>.*?<\/DESCRIPTOR>/, '')],
    ['principal PUBLICKEY', (s: string) => s.replace(/(<PRINCIPAL internal-id="1">.*?)<PUBLICKEY>.*?<\/PUBLICKEY>/, '$1')],
    ['a bad time', (s: string) => s.replace('<ISSUEDTIME>2025-01-01T00:00', '<ISSUEDTIME>soon')],
    ['two PRINCIPALs', (s: string) => s.replace(/(<ISSUEDPRINCIPALS>)(.*?)(<\/ISSUEDPRINCIPALS>)/, '$1$2$2$3')],
    ['a repeated SECURITYLEVEL', (s: string) => s.replace('<SECURITYLEVEL name="Server-SKU"', '<SECURITYLEVEL name="Issue-Scope" value="SLC"/><SECURITYLEVEL name="Server-SKU"')],
  ])('throws InvalidInput without %s', (_label, mutate) => {
    const bad = mutate(xml);
    expect(bad).not.toBe(xml);
    let err: unknown;
    try {
      readCertificate(bad);
    } catch (e) {
      err = e;
    }
    expect(isRmsError(err, 'InvalidInput')).toBe(true);
  });

  it('keeps untrusted SECURITYLEVEL names off the prototype', () => {
    const info = readCertificate(xml.replace('<SECURITYLEVEL name="Server-SKU"', '<SECURITYLEVEL name="__proto__" value="x"/><SECURITYLEVEL name="Server-SKU"'));
    expect(info.principal.securityLevels['__proto__']).toBe('x');
    expect(Object.getPrototypeOf(info.principal.securityLevels)).toBeNull();
  });
});
