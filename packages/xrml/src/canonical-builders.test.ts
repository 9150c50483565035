/**
 * The use-licence and RAC builders write canonical XML directly (canonical-xml.ts). Against the
 * xmlbuilder2 builders they replaced (xml-crypto-reference.ts): the canonical form of the old
 * output is the new output, character for character, so both sign to the same digest and the same
 * signature value, read back the same, and refuse the same bad input.
 */
import { DOMParser } from '@xmldom/xmldom';
import { ExclusiveCanonicalization } from 'xml-crypto';
import { buildRac, type RacFields } from './build-rac';
import { buildUseLicense, type UseLicenseFields } from './build-use-license';
import { asCanonicalXrml } from './canonical-input';
import { CanonicalDocument } from './canonical-xml';
import { readRac } from './read-rac';
import { readUseLicense } from './read-use-license';
import { signXrml } from './sign-xrml';
import { blob, errorCode, newKeyPair, signAndVerify, T0, T1, verifiedSlc } from './test-fixtures';
import { verifyXrmlSignature } from './verify-xrml-signature';
import { referenceBuildRac, referenceBuildUseLicense, referenceSignXrml } from './xml-crypto-reference';

const server = newKeyPair();
const user = newKeyPair();
const slc = verifiedSlc(server);

function c14n(xml: string): string {
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  return new ExclusiveCanonicalization().process(doc.documentElement, {}).toString();
}

const machine: NonNullable<RacFields['machine']> = {
  objectXml: '<OBJECT type="Machine"><ID type="MS-GUID">{12121212-1111-4222-8333-444444444444}</ID><NAME>pc &amp; "desk" &gt; 1</NAME></OBJECT>',
  enablingBits: blob(1200, 0x33),
  securityLevels: { platform: 'Win32 & co', manufacturer: 'OpenRMS "lab"', repository: '6.0.6000.16386' },
};

function racFields(overrides: Partial<RacFields> = {}): RacFields {
  return {
    descriptorGuid: '{c1c1c1c1-2222-4333-8444-555555555555}',
    issuedTime: T0,
    validFrom: T0,
    validUntil: T1,
    issuer: slc.issuer,
    activationUrl: 'https://rms.example.test/_wmcs/certification?a=1&b=2',
    identity: { idType: 'Windows', id: 'S-1-5-21-1-2-3-1104', email: 'alice&co@example.test', aliases: ['a<b>@example.test', 'élodie@exämple.test'] },
    publicKey: user.publicKey,
    credentialType: 'Persistent',
    ...overrides,
  };
}

/** A RAC principal as a relying party reads it, including a foreign-namespace extension and an xmlns="" left by a SOAP stack. */
const principals: Record<string, string> = {
  'our RAC': readRac(signAndVerify(buildRac(racFields({ machine })), server).doc).principalXml,
  'a RAC with extras': readRac(
    verifyXrmlSignature(
      referenceSignXrml(
        referenceBuildRac(racFields()).replace(
          '<PRINCIPAL internal-id="1">',
          '<PRINCIPAL xmlns="" internal-id="1" z="&quot;&gt;&#9;"><x:EXT xmlns:x="urn:ext" x:a="1"><x:Y/></x:EXT>\n  ',
        ),
        server.signer,
      ),
      server.publicKey,
    ),
  ).principalXml,
};

function ulFields(principalXml: string, overrides: Partial<UseLicenseFields> = {}): UseLicenseFields {
  return {
    descriptorGuid: '{0e0e0e0e-2222-4333-8444-555555555555}',
    issuedTime: T0,
    validFrom: T0,
    validUntil: T1,
    issuer: slc.issuer,
    licenseePrincipalXml: principalXml,
    contentId: '{dddddddd-1111-4222-8333-444444444444}',
    owner: { idType: 'Windows', email: 'author@example.test' },
    rights: [
      { right: 'VIEW', enablingBits: blob(300, 1), range: { from: T0, until: T1 }, intervalDays: 30 },
      { right: 'PRINT', enablingBits: blob(300, 2) },
      { right: 'My-Right', enablingBits: blob(300, 3), intervalDays: 1 },
    ],
    referral: { name: 'Author <a&b> "x"', address: 'mailto:author@example.test', guid: '{12345678-1111-4222-8333-444444444444}' },
    applicationExclusions: [
      { name: 'badviewer.exe', min: '0.0.0.0', max: '2.1.5.2600' },
      { name: 'old<app>&".exe', min: '1.0', max: '1.9' },
    ],
    ...overrides,
  };
}

const cases: Record<string, { build: () => string; reference: () => string; read: (signed: string) => unknown }> = {};
for (const [label, principal] of Object.entries(principals)) {
  for (const [variant, o] of Object.entries({
    full: {},
    minimal: { referral: undefined, applicationExclusions: [], rights: [{ right: 'OWNER', enablingBits: blob(16, 9) }] } as Partial<UseLicenseFields>,
  })) {
    const f = ulFields(principal, o);
    cases[`UL (${variant}) for ${label}`] = {
      build: () => buildUseLicense(f),
      reference: () => referenceBuildUseLicense(f),
      read: (signed) => readUseLicense(verifyXrmlSignature(signed, server.publicKey)),
    };
  }
}
for (const [variant, o] of Object.entries({
  'persistent, with machine': { machine, credentialCreationTime: T0, extranetActivationUrl: 'https://rms.example.com/_wmcs/certification' },
  'temporary, no machine': { credentialType: 'Temporary' },
  'namespaced machine OBJECT': { machine: { ...machine, objectXml: '<OBJECT xmlns:m="urn:m" type="M"><ID type="x">1</ID><m:X m:a="&lt;">t</m:X></OBJECT>' } },
} as Record<string, Partial<RacFields>>)) {
  const f = racFields(o);
  cases[`RAC (${variant})`] = {
    build: () => buildRac(f),
    reference: () => referenceBuildRac(f),
    read: (signed) => readRac(verifyXrmlSignature(signed, server.publicKey)),
  };
}

describe('canonical use-licence and RAC builders against the xmlbuilder2 ones', () => {
  it.each(Object.keys(cases))('%s: the new output is the canonical form of the old one', (name) => {
    const c = cases[name]!;
    const built = c.build();
    expect(c14n(built)).toBe(built);
    expect(c14n(c.reference())).toBe(built);
    // The signer's fast path takes it, unless a copied element brought namespaces (general path).
    expect(asCanonicalXrml(built) !== undefined).toBe(!built.includes('xmlns'));
  });

  it.each(Object.keys(cases))('%s: signs to the same digest and signature value, and reads back the same', (name) => {
    const c = cases[name]!;
    const now = signXrml(c.build(), server.signer);
    const before = referenceSignXrml(c.reference(), server.signer);
    const sig = (s: string) => s.slice(s.indexOf('<ds:Signature'));
    expect(sig(now)).toBe(sig(before));
    expect(c14n(now)).toBe(c14n(before));
    expect(c.read(now)).toEqual(c.read(before));
  });

  it('refuses the same bad input with the same error codes', () => {
    const p = principals['our RAC']!;
    const badUl: Partial<UseLicenseFields>[] = [
      { licenseePrincipalXml: '<PRINCIPAL><OBJECT type="Other"><ID type="x">1</ID></OBJECT></PRINCIPAL>' },
      { licenseePrincipalXml: p.replace('<PUBLICKEY>', '<PUBLICKEY><X/>').replace('<ALGORITHM>RSA', '<ALGORITHM>DSA') },
      { licenseePrincipalXml: `<!-- c -->${p}` },
      { licenseePrincipalXml: '<PRINCIPAL xmlns="urn:x"/>' },
      { rights: [] },
      { rights: [{ right: '<VIEW>', enablingBits: blob(8) }] },
      { rights: [{ right: 'VIEW', enablingBits: Buffer.alloc(0) }] },
      { applicationExclusions: [{ name: 'x\u0001.exe', min: '1', max: '2' }] },
      { owner: { idType: 'Windows', email: ' a@b' } },
      { descriptorGuid: 'nope' },
    ];
    for (const o of badUl) {
      const f = ulFields(p, o);
      expect(errorCode(() => buildUseLicense(f))).toBe(errorCode(() => referenceBuildUseLicense(f)));
      expect(errorCode(() => buildUseLicense(f))).toBe('InvalidInput');
    }
    const badRac: Partial<RacFields>[] = [
      { machine: { ...machine, objectXml: '<OBJECT type="M"><NAME>x</NAME></OBJECT>' } },
      { machine: { ...machine, objectXml: '<OBJECT type="M" Id="a"><ID type="x" Id="a">1</ID></OBJECT>' } },
      { machine: { ...machine, securityLevels: { ...machine.securityLevels, platform: '' } } },
      { credentialType: 'Forever' as 'Persistent' },
      { identity: { idType: 'Windows', id: 'x', email: 'e@x\u0000' } },
    ];
    for (const o of badRac) {
      const f = racFields(o);
      expect(errorCode(() => buildRac(f))).toBe(errorCode(() => referenceBuildRac(f)));
      expect(errorCode(() => buildRac(f))).toBe('InvalidInput');
    }
  });
});

describe('CanonicalDocument', () => {
  it('sorts attributes, writes end tags and escapes as exclusive c14n does', () => {
    const doc = new CanonicalDocument();
    const root = doc.ele('XrML', { version: '1.2', b: 'x', a: '&<>"\'\t\n\r' });
    root.ele('EMPTY');
    root.ele('T').txt('&<>"\'\t\n\r é😀');
    expect(doc.end()).toBe('<XrML a="&amp;&lt;>&quot;\'&#x9;&#xA;&#xD;" b="x" version="1.2"><EMPTY></EMPTY><T>&amp;&lt;&gt;"\'\t\n&#xD; é😀</T></XrML>');
    expect(c14n(doc.end())).toBe(doc.end());
  });

  it('refuses names with prefixes or markup, namespace declarations and characters XML cannot carry', () => {
    const doc = new CanonicalDocument();
    const root = doc.ele('XrML');
    expect(errorCode(() => root.ele('a:b'))).toBe('InvalidInput');
    expect(errorCode(() => root.ele('a b'))).toBe('InvalidInput');
    expect(errorCode(() => root.ele('X', { xmlns: 'urn:x' }))).toBe('InvalidInput');
    expect(errorCode(() => root.ele('X', { 'xmlns:p': 'urn:x' }))).toBe('InvalidInput');
    expect(errorCode(() => root.txt('\u0000'))).toBe('InvalidInput');
    expect(errorCode(() => root.ele('X', { a: '\uFFFE' }))).toBe('InvalidInput');
    expect(errorCode(() => root.txt('\uD800'))).toBe('InvalidInput');
    expect(errorCode(() => doc.ele('Second'))).toBe('InvalidInput');
  });
});
