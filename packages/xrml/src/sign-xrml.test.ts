/**
 * The lean signer against the xml-crypto signer it replaced (xml-crypto-reference.ts): the same
 * input gives the same bytes out, and what it signs verifies with xml-crypto's own verifier, with
 * xmlsec1 and with ours; a changed byte fails all three.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { DOMParser } from '@xmldom/xmldom';
import { ExclusiveCanonicalization, SignedXml } from 'xml-crypto';
import { isRmsError } from '@openrms/domain';
import { buildClc } from './build-clc';
import { buildRac, type RacFields } from './build-rac';
import { buildUseLicense, type UseLicenseFields } from './build-use-license';
import { asCanonicalXrml } from './canonical-input';
import { CanonicalDocument } from './canonical-xml';
import { readRac } from './read-rac';
import { signXrml } from './sign-xrml';
import { blob, errorCode, newKeyPair, signAndVerify, T0, T1, unsignedSlc, verifiedSlc, xmlsecVerify } from './test-fixtures';
import { verifyXrmlSignature } from './verify-xrml-signature';
import { referenceBuildRac, referenceBuildUseLicense, referenceSignXrml } from './xml-crypto-reference';
import { DSIG_NS } from './xrml-constants';

const server = newKeyPair();
const other = newKeyPair();
const user = newKeyPair();
const slc = verifiedSlc(server);

const racFields: RacFields = {
  descriptorGuid: '{c1c1c1c1-2222-4333-8444-555555555555}',
  issuedTime: T0,
  validFrom: T0,
  validUntil: T1,
  issuer: slc.issuer,
  activationUrl: 'https://rms.example.test/_wmcs/certification?a=1&b="2"',
  extranetActivationUrl: 'https://rms.example.com/_wmcs/certification',
  identity: { idType: 'Windows', id: 'S-1-5-21-1-2-3-1104', email: 'alice&co@example.test', aliases: ['a<b>@example.test', 'élodie@exämple.test'] },
  publicKey: user.publicKey,
  credentialType: 'Persistent',
  credentialCreationTime: T0,
  machine: {
    objectXml: '<OBJECT type="Machine"><ID type="MS-GUID">{12121212-1111-4222-8333-444444444444}</ID><NAME>pc &amp; "desk" &gt; 1</NAME></OBJECT>',
    enablingBits: blob(1200, 0x33),
    securityLevels: { platform: 'Win32 & co', manufacturer: 'OpenRMS "lab"', repository: '6.0.6000.16386' },
  },
};
const rac = readRac(signAndVerify(buildRac(racFields), server).doc);

const ulFields: UseLicenseFields = {
  descriptorGuid: '{0e0e0e0e-2222-4333-8444-555555555555}',
  issuedTime: T0,
  validFrom: T0,
  validUntil: T1,
  issuer: slc.issuer,
  licenseePrincipalXml: rac.principalXml,
  contentId: '{dddddddd-1111-4222-8333-444444444444}',
  owner: { idType: 'Windows', email: 'author@example.test' },
  rights: [
    { right: 'VIEW', enablingBits: blob(300, 1), range: { from: T0, until: T1 }, intervalDays: 30 },
    { right: 'DOCEDIT', enablingBits: blob(300, 3) },
  ],
  referral: { name: 'Author <a&b>', address: 'mailto:author@example.test', guid: '{12345678-1111-4222-8333-444444444444}' },
  applicationExclusions: [{ name: 'old<app>.exe', min: '1.0', max: '1.9' }],
};

const clc = buildClc({
  descriptorGuid: '{c2c2c2c2-2222-4333-8444-555555555555}',
  issuedTime: T0,
  issuer: slc.issuer,
  licensingUrl: 'https://rms.example.test/_wmcs/licensing',
  identity: { idType: 'Federation', id: '{77777777-1111-4222-8333-444444444444}', email: 'bob@example.test' },
  publicKey: user.publicKey,
  issueRange: { from: T0, until: T1 },
  enablingBits: blob(1500, 0x22),
});

const BODY = '<BODY type="LICENSE" version="3.0"><ISSUEDTIME>2025-01-01T00:00</ISSUEDTIME>';
/** Inputs the general path handles (not canonical), each as xml-crypto saw it. */
const generalInputs: Record<string, string> = {
  'SLC (xmlbuilder2)': unsignedSlc(server.publicKey, server.publicKey),
  'CLC (xmlbuilder2)': clc,
  'RAC (previous builder)': referenceBuildRac(racFields),
  'UL (previous builder)': referenceBuildUseLicense(ulFields),
  'XML declaration and BOM': `\uFEFF<?xml version="1.0" encoding="utf-8"?>\n<XrML version="1.2">${BODY}</BODY></XrML>`,
  'comments and whitespace around and inside': `<!-- a --><XrML version="1.2">\n  ${BODY}<!-- b --><X a="1"/>\n</BODY>\n</XrML>\n<!-- c -->\n`,
  'attribute escapes': `<XrML version="1.2">${BODY}<X b="&#9;&#10;&#13;" a="x&gt;y&quot;z&amp;&lt;'"/></BODY></XrML>`,
  'single-quoted attribute, text escapes': `<XrML version='1.2'>${BODY}<X>a&gt;b &amp; c &#13; &#x41; d]]&gt;</X></BODY></XrML>`,
  'CDATA': `<XrML version="1.2">${BODY}<X><![CDATA[<&>]]></X></BODY></XrML>`,
  'lifted out of an envelope': `<XrML xmlns="" xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" version="1.2">${BODY}</BODY></XrML>`,
  'namespaced content': `<XrML version="1.2">${BODY}<p:X xmlns:p="urn:x" p:a="1" b="2"><p:Y/><Z xmlns="urn:z"/></p:X></BODY></XrML>`,
  'NEL and LS, which xmldom reads as line ends (canonical otherwise)': `<XrML version="1.2">${BODY}<X n="a\u2028b\u0085c">a\u2028b\u0085c\u2029</X></BODY></XrML>`,
  'empty elements': `<XrML version="1.2">${BODY}<A/><B></B></BODY></XrML>`,
};

/** Canonical inputs the fast path takes. */
const canonicalInputs: Record<string, string> = {
  'UL (canonical builder)': buildUseLicense(ulFields),
  'RAC (canonical builder)': buildRac(racFields),
  'RAC without machine (canonical builder)': buildRac({ ...racFields, machine: undefined } as RacFields),
  'non-ASCII and astral text': `<XrML version="1.2">${BODY}<X n="é😀">é 😀</X></BODY></XrML>`,
  'hand-written canonical': `<XrML purpose="x" version="1.2">${BODY}<X a="&amp;&lt;&quot;&#x9;&#xA;&#xD;>'"></X><Y>&amp;&lt;&gt;&#xD;\t\n é😀</Y><Z id="1"></Z><AUTHENTICATEDDATA id="1"></AUTHENTICATEDDATA></BODY></XrML>`,
};

function xmlCryptoVerifies(xml: string, key: KeyObject): boolean {
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  const node = doc.getElementsByTagNameNS(DSIG_NS, 'Signature')[0];
  if (!node) return false;
  const sig = new SignedXml({ publicCert: key.export({ type: 'spki', format: 'pem' }) as string, getCertFromKeyInfo: () => null });
  sig.loadSignature(node);
  try {
    return sig.checkSignature(xml);
  } catch {
    return false;
  }
}

function c14n(xml: string): string {
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  return new ExclusiveCanonicalization().process(doc.documentElement, {}).toString();
}

function outcome(fn: () => string): string {
  try {
    return fn();
  } catch (e) {
    return isRmsError(e) ? `RmsError ${e.code}: ${e.message}` : `error: ${String(e)}`;
  }
}

describe('signXrml (lean) against the xml-crypto signer', () => {
  const all = { ...generalInputs, ...canonicalInputs };

  it.each(Object.keys(all))('%s: byte-identical output', (name) => {
    const input = all[name]!;
    expect(signXrml(input, server.signer)).toBe(referenceSignXrml(input, server.signer));
  });

  it.each(Object.keys(all))('%s: verifies with xml-crypto, xmlsec1 and verifyXrmlSignature; not with another key', (name) => {
    const signed = signXrml(all[name]!, server.signer);
    expect(xmlCryptoVerifies(signed, server.publicKey)).toBe(true);
    expect(xmlCryptoVerifies(signed, other.publicKey)).toBe(false);
    expect(xmlsecVerify(signed, server.publicKey)).toMatchObject({ status: 0 });
    expect(xmlsecVerify(signed, other.publicKey).status).not.toBe(0);
    expect(() => verifyXrmlSignature(signed, server.publicKey)).not.toThrow();
  });

  it.each(Object.keys(canonicalInputs))('%s: recognised as canonical, and is its own exc-c14n', (name) => {
    const input = canonicalInputs[name]!;
    expect(asCanonicalXrml(input)).toBeDefined();
    expect(c14n(input)).toBe(input);
  });

  it.each(Object.keys(generalInputs))('%s: not taken for canonical', (name) => {
    expect(asCanonicalXrml(generalInputs[name]!)).toBeUndefined();
  });

  it('a changed byte in a signed use licence fails xml-crypto, xmlsec1 and verifyXrmlSignature', () => {
    const signed = signXrml(canonicalInputs['UL (canonical builder)']!, server.signer);
    for (const [from, to] of [
      ['<NAME>author@example.test</NAME>', '<NAME>mallory@example.test</NAME>'],
      ['<INTERVALTIME days="30"/>', '<INTERVALTIME days="31"/>'],
      ['<VERSIONSPAN max="1.9" min="1.0"/>', '<VERSIONSPAN max="9.9" min="1.0"/>'],
    ] as const) {
      const tampered = signed.replace(from, to);
      expect(tampered).not.toBe(signed);
      expect(xmlCryptoVerifies(tampered, server.publicKey)).toBe(false);
      expect(xmlsecVerify(tampered, server.publicKey).status).not.toBe(0);
      expect(errorCode(() => verifyXrmlSignature(tampered, server.publicKey))).not.toBe('no error');
    }
  });

  it('signs the digest of exactly the canonical text', () => {
    const input = canonicalInputs['UL (canonical builder)']!;
    const digest = createHash('sha256').update(input, 'utf8').digest('base64');
    expect(signXrml(input, server.signer)).toContain(`<ds:DigestValue>${digest}</ds:DigestValue>`);
  });

  it('refuses what the previous signer refused, with the same error codes', () => {
    const signed = signXrml(canonicalInputs['UL (canonical builder)']!, server.signer);
    const nativeSigned = `<XrML version="1.2">${BODY}</BODY><SIGNATURE></SIGNATURE></XrML>`;
    for (const bad of [signed, nativeSigned, '<XrML/>', '<Other/>', 'not xml', `<XrML>${BODY}</BODY><BODY></BODY></XrML>`, `<XrML><!DOCTYPE x>${BODY}</BODY></XrML>`]) {
      expect(outcome(() => signXrml(bad, server.signer))).toBe(outcome(() => referenceSignXrml(bad, server.signer)));
      expect(outcome(() => signXrml(bad, server.signer))).toMatch(/^RmsError /);
    }
  });

  it('reports a signer that fails or returns nothing, and a signature the expected key does not verify', () => {
    const input = canonicalInputs['RAC (canonical builder)']!;
    expect(errorCode(() => signXrml(input, { sign: () => Buffer.alloc(0) }))).toBe('UnspecifiedError');
    expect(
      errorCode(() =>
        signXrml(input, {
          sign: () => {
            throw new Error('token removed');
          },
        }),
      ),
    ).toBe('UnspecifiedError');
    expect(errorCode(() => signXrml(input, server.signer, { verifyWith: other.publicKey }))).toBe('ChainInvalid');
    expect(signXrml(input, server.signer, { verifyWith: server.publicKey })).toBe(signXrml(input, server.signer));
  });
});

/**
 * Generated documents: canonical ones (the fast path) and mutations of them that are almost
 * canonical (each must either be refused by the fast path or be canonical after all). Whatever the
 * path, the output must equal the xml-crypto signer's, error for error.
 */
describe('signXrml on generated documents', () => {
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)]!;
  const NAMES = ['A', 'B', 'ID', 'Id', 'id', 'NAME', 'a-b', 'x.y', '_z', 'VALUE'];
  const CHARS = ['a', 'Z', '0', ' ', '&', '<', '>', '"', "'", '\t', '\n', '\r', 'é', '😀', '\u2029', ']]>'];
  const text = () => Array.from({ length: rnd(6) }, () => pick(CHARS)).join('');

  function canonicalDocument(): string {
    const doc = new CanonicalDocument();
    const body = doc.ele('XrML', { version: '1.2' }).ele('BODY', { type: 'LICENSE' });
    const grow = (el: ReturnType<CanonicalDocument['ele']>, depth: number) => {
      for (let k = rnd(4); k > 0; k--) {
        if (rnd(3) === 0) {
          el.txt(text());
          continue;
        }
        const attrs: Record<string, string> = {};
        for (let a = rnd(3); a > 0; a--) attrs[pick(NAMES)] = text() + String(rnd(1000));
        const child = el.ele(pick(NAMES), attrs);
        if (depth < 4) grow(child, depth + 1);
      }
    };
    grow(body, 0);
    return doc.end();
  }

  const MUTATIONS: ((s: string) => string)[] = [
    (s) => s.replace(/<([A-Za-z_.-]+)( [^>]*)?><\/\1>/, '<$1$2/>'),
    (s) => s.replace(/ ([A-Za-z_.-]+)="([^"]*)" ([A-Za-z_.-]+)="([^"]*)"/, ' $3="$4" $1="$2"'),
    (s) => s.replace('&gt;', '>'),
    (s) => s.replace('&#xD;', '\r'),
    (s) => s.replace('&#xA;', '\n'),
    (s) => s.replace('&amp;', '&#38;'),
    (s) => s.replace('<BODY', '\n<BODY'),
    (s) => s.replace('</BODY>', '</BODY><!-- c -->'),
    (s) => s.replace(/<([A-Za-z_.-]+)>/, '<$1 >'),
    (s) => s.replace(/="/, "='").replace(/"(?=[ >])/, "'"),
    (s) => s.replace('<BODY type="LICENSE">', '<BODY type="LICENSE" id="1"><X id="1"></X>'),
    (s) => s.replace('<XrML', '<?xml version="1.0"?><XrML'),
    (s) => s.replace('</XrML>', '</XrML>\n'),
    (s) => s.replace('</BODY>', '</BODY><SIGNATURE></SIGNATURE>'),
    (s) => s.replace('a', '\u2028'),
    (s) => s.replace('Z', '\u0085'),
    (s) => s.replace('😀', '\uD83D'),
  ];

  it('canonical documents: recognised, their own c14n, same bytes as xml-crypto', () => {
    for (let k = 0; k < 150; k++) {
      const doc = canonicalDocument();
      expect(asCanonicalXrml(doc)).toBeDefined();
      expect(c14n(doc)).toBe(doc);
      expect(outcome(() => signXrml(doc, server.signer))).toBe(outcome(() => referenceSignXrml(doc, server.signer)));
    }
  });

  it('mutated documents: same bytes (or the same error) as xml-crypto, on whichever path', () => {
    let mutated = 0;
    for (let k = 0; k < 300; k++) {
      const doc = canonicalDocument();
      const bad = pick(MUTATIONS)(doc);
      if (bad === doc) continue;
      mutated++;
      if (asCanonicalXrml(bad) !== undefined) expect(c14n(bad)).toBe(bad);
      expect(outcome(() => signXrml(bad, server.signer))).toBe(outcome(() => referenceSignXrml(bad, server.signer)));
    }
    expect(mutated).toBeGreaterThan(100);
  });
});
