import type { RightsPolicy } from '@openrms/domain';
import { buildRightsData, type RightsDataFields } from './build-rights-data';
import { parseXrml } from './parse-xrml';
import { readRightsData } from './read-rights-data';
import { signXrml } from './sign-xrml';
import { childNames, errorCode, newKeyPair, T0, T1, verifiedSlc } from './test-fixtures';
import { requiredPath } from './xrml-dom';

const server = newKeyPair();
const slc = verifiedSlc(server);
const R1 = { from: new Date('2025-02-01T08:30:00Z'), until: new Date('2025-03-01T17:00:00Z') };

const policy: RightsPolicy = {
  contentId: '{dddddddd-1111-4222-8333-444444444444}',
  ownerEmail: 'owner@example.test',
  grants: [
    { right: 'VIEW', grantee: { kind: 'email', email: 'alice@example.test' }, range: R1, intervalDays: 7 },
    { right: 'PRINT', grantee: { kind: 'email', email: 'alice@example.test' } },
    { right: 'OWNER', grantee: { kind: 'owner' } },
    { right: 'VIEW', grantee: { kind: 'anyone' }, intervalDays: 1 },
    { right: 'DOCEDIT', grantee: { kind: 'email', email: 'editors@example.test' }, range: R1 },
    { right: 'EXTRACT', grantee: { kind: 'email', email: 'bob@example.test' } },
  ],
  validity: { from: T0, until: T1 },
  appSpecific: { VIEWER: '1', Allow_Server_Editing: 'True', EMPTY: '' },
};

function fields(overrides: Partial<RightsDataFields> = {}): RightsDataFields {
  return { issuedTime: T0, descriptorGuid: '{e1e1e1e1-2222-4333-8444-555555555555}', policy, ...overrides };
}

describe('buildRightsData / readRightsData', () => {
  it('round-trips a policy exactly: grant order, ranges, intervals, APPSPECIFIC', () => {
    const xml = buildRightsData(fields({ name: 'Project: X', description: 'For; the team', lcid: 1031 }));
    expect(readRightsData(xml)).toEqual({ ...policy, name: 'Project: X', description: 'For; the team', lcid: 1031 });
  });

  it('round-trips a minimal policy', () => {
    const minimal: RightsPolicy = { contentId: policy.contentId, ownerEmail: 'o@x', grants: [] };
    expect(readRightsData(buildRightsData(fields({ policy: minimal })))).toEqual(minimal);
  });

  it('writes the ERD shape of PROTOCOL.md §4.6', () => {
    const doc = parseXrml(buildRightsData(fields({ name: 'N' })));
    expect(doc.bodyType).toBe('Microsoft Rights Template');
    expect(doc.dsigSignature).toBeUndefined();
    expect(childNames(doc.body)).toEqual(['ISSUEDTIME', 'DESCRIPTOR', 'WORK', 'AUTHENTICATEDDATA', 'AUTHENTICATEDDATA', 'AUTHENTICATEDDATA']);
    expect(requiredPath(doc.body, 'DESCRIPTOR/OBJECT').hasAttribute('type')).toBe(false);
    expect(requiredPath(doc.body, 'DESCRIPTOR/OBJECT/NAME').textContent).toBe('LCID 1033:NAME N:DESCRIPTION ;');
    const work = requiredPath(doc.body, 'WORK');
    expect(childNames(work)).toEqual(['OBJECT', 'METADATA', 'PRECONDITIONLIST', 'RIGHTSGROUP']);
    expect(childNames(requiredPath(work, 'RIGHTSGROUP/RIGHTSLIST'))).toEqual(['VIEW', 'PRINT', 'RIGHT', 'VIEW', 'RIGHT', 'EXTRACT']);
    const view = requiredPath(work, 'RIGHTSGROUP/RIGHTSLIST').getElementsByTagName('VIEW')[0]!;
    expect(childNames(requiredPath(view, 'CONDITIONLIST'))).toEqual(['ACCESS', 'TIME', 'TIME']);
    const s = doc.xml;
    expect(s).toContain('<ACCESS><PRINCIPAL><OBJECT><ID type="Unspecified"/><NAME>alice@example.test</NAME></OBJECT></PRINCIPAL></ACCESS>');
    expect(s).toContain('<RIGHT name="OWNER"><CONDITIONLIST><ACCESS><PRINCIPAL><OBJECT><ID type="Internal">Owner</ID></OBJECT>');
    expect(s).toContain('<ID type="Internal">Anyone</ID>');
    expect(s).toContain('<TIME><INTERVALTIME days="7"/></TIME>');
    expect(s).toContain('<METADATA><OWNER><OBJECT><ID type="Unspecified"/><NAME>owner@example.test</NAME></OBJECT></OWNER></METADATA>');
    expect(s).toContain('<AUTHENTICATEDDATA id="APPSPECIFIC" name="Allow_Server_Editing">True</AUTHENTICATEDDATA>');
  });

  it('a template-based ERD is Official, carries the template GUID, issuer and publishing point', () => {
    const templated: RightsPolicy = { ...policy, templateGuid: '{f0f0f0f0-1111-4222-8333-444444444444}' };
    const xml = buildRightsData(fields({ policy: templated, templateIssuer: slc.issuer, publishingUrl: 'https://rms.example.test/_wmcs/licensing' }));
    const doc = parseXrml(xml);
    expect(doc.bodyType).toBe('Microsoft Official Rights Template');
    expect(childNames(doc.body).slice(0, 5)).toEqual(['ISSUEDTIME', 'DESCRIPTOR', 'ISSUER', 'DISTRIBUTIONPOINT', 'WORK']);
    expect(requiredPath(doc.body, 'DESCRIPTOR/OBJECT/ID').textContent).toBe(templated.templateGuid);
    expect(readRightsData(xml)).toEqual(templated);
  });

  it('escapes markup in grant e-mails and reads them back unchanged', () => {
    const email = `x<y>&"z'</NAME><NAME>evil@example.test`;
    const p: RightsPolicy = { ...policy, ownerEmail: '<owner>&@x', grants: [{ right: 'VIEW', grantee: { kind: 'email', email } }], appSpecific: { 'a<b': '<&>' } };
    const xml = buildRightsData(fields({ policy: p }));
    expect(xml).not.toContain('<y>');
    expect(xml).toContain('x&lt;y&gt;&amp;"z\'&lt;/NAME&gt;&lt;NAME&gt;evil@example.test');
    expect(readRightsData(xml)).toEqual(p);
  });

  it('normalises right names through the domain rules', () => {
    const p: RightsPolicy = { ...policy, grants: [{ right: 'view', grantee: { kind: 'anyone' } }] };
    expect(readRightsData(buildRightsData(fields({ policy: p }))).grants).toEqual([{ right: 'VIEW', grantee: { kind: 'anyone' } }]);
  });

  it.each([
    ['an empty e-mail', { ...policy, grants: [{ right: 'VIEW', grantee: { kind: 'email' as const, email: '' } }] }],
    ['an e-mail with a control character', { ...policy, grants: [{ right: 'VIEW', grantee: { kind: 'email' as const, email: 'a\u0000@x' } }] }],
    ['an e-mail with edge whitespace', { ...policy, ownerEmail: 'o@x ' }],
    ['a bad right name', { ...policy, grants: [{ right: 'VIEW ALL', grantee: { kind: 'anyone' as const } }] }],
    ['an unknown grantee kind', { ...policy, grants: [{ right: 'VIEW', grantee: { kind: 'group' } as never }] }],
    ['a zero interval', { ...policy, grants: [{ right: 'VIEW', grantee: { kind: 'anyone' as const }, intervalDays: 0 }] }],
    ['a fractional interval', { ...policy, grants: [{ right: 'VIEW', grantee: { kind: 'anyone' as const }, intervalDays: 1.5 }] }],
    ['an inverted range', { ...policy, validity: { from: T1, until: T0 } }],
    ['a non-GUID content id', { ...policy, contentId: 'doc-1' }],
  ])('refuses %s', (_label, p) => {
    expect(errorCode(() => buildRightsData(fields({ policy: p as RightsPolicy })))).toBe('InvalidInput');
  });

  it('refuses a template issuer without a template GUID', () => {
    expect(errorCode(() => buildRightsData(fields({ templateIssuer: slc.issuer })))).toBe('InvalidInput');
  });

  describe('reader', () => {
    const xml = buildRightsData(fields());

    it('refuses a DOCTYPE before parsing', () => {
      expect(errorCode(() => readRightsData(`<!DOCTYPE XrML [<!ENTITY e SYSTEM "file:///etc/passwd">]>${xml}`))).toBe('MalformedRequest');
      expect(errorCode(() => readRightsData(xml.replace('<BODY', '<!DOCTYPE x><BODY')))).toBe('MalformedRequest');
    });

    it.each([
      ['another BODY type', (s: string) => s.replace('type="Microsoft Rights Template"', 'type="LICENSE"'), /BODY type/],
      ['no owner', (s: string) => s.replace(/<METADATA>.*?<\/METADATA>/, ''), /METADATA/],
      ['an unknown right element', (s: string) => s.replace('<PRINT>', '<SCREENSHOT>').replace('</PRINT>', '</SCREENSHOT>'), /unknown right element <SCREENSHOT>/],
      ['an unknown condition', (s: string) => s.replace('<PRINT><CONDITIONLIST>', '<PRINT><CONDITIONLIST><REFRESH/>'), /unexpected <REFRESH>/],
      ['a right without ACCESS', (s: string) => s.replace(/<PRINT><CONDITIONLIST>.*?<\/ACCESS>/, '<PRINT><CONDITIONLIST>'), /exactly one <ACCESS>/],
      ['two principals', (s: string) => s.replace('<ACCESS><PRINCIPAL>', '<ACCESS><PRINCIPAL><OBJECT><ID type="Internal">Anyone</ID></OBJECT></PRINCIPAL><PRINCIPAL>'), /exactly one <PRINCIPAL>/],
      ['an hour interval', (s: string) => s.replace('days="7"', 'days="7" hours="2"'), /hours is not supported/],
      ['a repeated APPSPECIFIC', (s: string) => s.replace('name="EMPTY"', 'name="VIEWER"'), /repeated/],
      ['an unknown Internal principal', (s: string) => s.replace('>Anyone<', '>Everyone<'), /Internal principal/],
      ['a bad time', (s: string) => s.replace('2025-02-01T08:30', '2025-02-30T08:30'), /valid XrML time/],
    ])('refuses %s', (_label, mutate, message) => {
      const bad = mutate(xml);
      expect(bad).not.toBe(xml);
      expect(() => readRightsData(bad)).toThrow(message);
      expect(errorCode(() => readRightsData(bad))).toBe('InvalidInput');
    });

    it('accepts a parsed document and a signed one (it reads, it does not verify)', () => {
      expect(readRightsData(parseXrml(xml)).grants).toEqual(policy.grants);
      expect(readRightsData(signXrml(xml, server.signer)).grants).toEqual(policy.grants);
    });
  });
});
