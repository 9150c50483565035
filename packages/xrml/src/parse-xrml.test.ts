import { isRmsError, type RmsErrorCode } from '@openrms/domain';
import { parseXrml } from './parse-xrml';
import { newKeyPair, unsignedSlc } from './test-fixtures';
import { signXrml } from './sign-xrml';

const k = newKeyPair();
const unsigned = unsignedSlc(k.publicKey, k.publicKey);
const signed = signXrml(unsigned, k.signer);

function codeOf(fn: () => unknown): RmsErrorCode | 'no error' | 'not an RmsError' {
  try {
    fn();
    return 'no error';
  } catch (e) {
    return isRmsError(e) ? e.code : 'not an RmsError';
  }
}

const MINI = '<XrML version="1.2"><BODY type="LICENSE" version="3.0"><ISSUEDTIME>2025-01-01T00:00</ISSUEDTIME></BODY></XrML>';

describe('parseXrml', () => {
  it('parses our own documents, signed or not', () => {
    const u = parseXrml(unsigned);
    expect(u.root.localName).toBe('XrML');
    expect(u.body.localName).toBe('BODY');
    expect(u.bodyType).toBe('LICENSE');
    expect(u.dsigSignature).toBeUndefined();
    expect(u.verified).toBe(false);
    expect(parseXrml(signed).dsigSignature?.localName).toBe('Signature');
  });

  it('accepts an XML declaration, a BOM, comments and whitespace outside the root', () => {
    expect(parseXrml(`\uFEFF<?xml version="1.0" encoding="utf-8"?>\n<!-- hi -->\n${MINI}\n`).body.localName).toBe('BODY');
  });

  describe('rejects DTDs and entities before any expansion', () => {
    it('a plain DOCTYPE', () => {
      expect(codeOf(() => parseXrml(`<!DOCTYPE XrML>${MINI}`))).toBe('MalformedRequest');
      expect(codeOf(() => parseXrml(`<!doctype XrML>${MINI}`))).toBe('MalformedRequest');
    });

    it('internal entity expansion ("billion laughs")', () => {
      const lol =
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' +
        Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`).join('') +
        ']><XrML version="1.2"><BODY>&lol9;</BODY></XrML>';
      const started = Date.now();
      expect(codeOf(() => parseXrml(lol))).toBe('MalformedRequest');
      // Refused before any expansion (expanding it would take minutes and gigabytes).
      expect(Date.now() - started).toBeLessThan(15_000);
    });

    it('an external entity (file:///etc/passwd)', () => {
      const xxe = '<?xml version="1.0"?><!DOCTYPE XrML [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><XrML version="1.2"><BODY><NAME>&xxe;</NAME></BODY></XrML>';
      let message = '';
      try {
        parseXrml(xxe);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(/DTD/);
      expect(message).not.toMatch(/root:/);
    });

    it('a bare ENTITY or other declaration', () => {
      expect(codeOf(() => parseXrml(`<XrML><!ENTITY x "y"><BODY/></XrML>`))).toBe('MalformedRequest');
      expect(codeOf(() => parseXrml(`<XrML><!ELEMENT BODY ANY><BODY/></XrML>`))).toBe('MalformedRequest');
    });

    it('an undeclared entity reference', () => {
      expect(codeOf(() => parseXrml('<XrML version="1.2"><BODY>&nbsp;</BODY></XrML>'))).toBe('MalformedRequest');
    });
  });

  it('rejects processing instructions other than the XML declaration', () => {
    expect(codeOf(() => parseXrml(`<?xml-stylesheet href="x"?>${MINI}`))).toBe('MalformedRequest');
    expect(codeOf(() => parseXrml(MINI.replace('<BODY', '<?evil x?><BODY')))).toBe('MalformedRequest');
    expect(codeOf(() => parseXrml(`<!-- c --><?xml version="1.0"?>${MINI}`))).toBe('MalformedRequest');
  });

  it('rejects documents over maxBytes (default 1 MiB)', () => {
    expect(codeOf(() => parseXrml(signed, { maxBytes: 1000 }))).toBe('RequestTooLarge');
    const big = MINI.replace('</BODY>', `<NAME>${'x'.repeat(1024 * 1024)}</NAME></BODY>`);
    expect(codeOf(() => parseXrml(big))).toBe('RequestTooLarge');
    // multi-byte characters count as bytes, not UTF-16 units
    const wide = MINI.replace('</BODY>', `<NAME>${'é'.repeat(600)}</NAME></BODY>`);
    expect(codeOf(() => parseXrml(wide, { maxBytes: 1000 }))).toBe('RequestTooLarge');
  });

  it('rejects deep nesting', () => {
    const deep = `<XrML><BODY>${'<A>'.repeat(100)}${'</A>'.repeat(100)}</BODY></XrML>`;
    expect(codeOf(() => parseXrml(deep))).toBe('MalformedRequest');
  });

  it('rejects a root other than XrML in no namespace', () => {
    expect(codeOf(() => parseXrml('<Foo><BODY/></Foo>'))).toBe('MalformedRequest');
    expect(codeOf(() => parseXrml('<XrML xmlns="urn:x"><BODY/></XrML>'))).toBe('MalformedRequest');
    expect(codeOf(() => parseXrml('<x:XrML xmlns:x="urn:x"><BODY/></x:XrML>'))).toBe('MalformedRequest');
  });

  it('rejects missing, duplicate or foreign children of XrML', () => {
    expect(codeOf(() => parseXrml('<XrML version="1.2"/>'))).toBe('MalformedRequest');
    expect(codeOf(() => parseXrml('<XrML><BODY/><BODY/></XrML>'))).toBe('MalformedRequest');
    expect(codeOf(() => parseXrml('<XrML><BODY/><Wrapper/></XrML>'))).toBe('MalformedRequest');
    expect(codeOf(() => parseXrml('<XrML>text<BODY/></XrML>'))).toBe('MalformedRequest');
  });

  it('rejects more than one ds:Signature, and one anywhere but under XrML', () => {
    const sig = signed.slice(signed.indexOf('<ds:Signature'), signed.indexOf('</XrML>'));
    expect(codeOf(() => parseXrml(signed.replace('</XrML>', `${sig}</XrML>`)))).toBe('MalformedRequest');
    const nested = unsigned.replace('</BODY>', `${sig}</BODY>`);
    expect(codeOf(() => parseXrml(nested))).toBe('MalformedRequest');
  });

  it('rejects duplicate ID values anywhere', () => {
    expect(codeOf(() => parseXrml('<XrML><BODY Id="a"><X ID="a"/></BODY></XrML>'))).toBe('MalformedRequest');
    expect(codeOf(() => parseXrml('<XrML><BODY id="a"><X id="a"/></BODY></XrML>'))).toBe('MalformedRequest');
    expect(codeOf(() => parseXrml('<XrML><BODY Id="a"><X Id="b"/></BODY></XrML>'))).toBe('no error');
  });

  it("exempts XrML's AUTHENTICATEDDATA category ids (an ERD repeats id=\"APPSPECIFIC\")", () => {
    const erd =
      '<XrML><BODY><AUTHENTICATEDDATA name="VIEWER" id="APPSPECIFIC">1</AUTHENTICATEDDATA>' +
      '<AUTHENTICATEDDATA name="NOLICCACHE" id="APPSPECIFIC">1</AUTHENTICATEDDATA></BODY></XrML>';
    expect(codeOf(() => parseXrml(erd))).toBe('no error');
  });

  it('treats xmldom warnings and errors as fatal', () => {
    expect(codeOf(() => parseXrml('<XrML><BODY></XrML>'))).toBe('MalformedRequest');
    expect(codeOf(() => parseXrml('<XrML><BODY a=b/></XrML>'))).toBe('MalformedRequest');
    expect(codeOf(() => parseXrml('<XrML><BODY a="1" a="2"/></XrML>'))).toBe('MalformedRequest');
    expect(codeOf(() => parseXrml(''))).toBe('MalformedRequest');
    expect(codeOf(() => parseXrml('not xml'))).toBe('MalformedRequest');
  });

  it('rejects what lenient xmldom would otherwise accept', () => {
    expect(codeOf(() => parseXrml(`${MINI}trailing`))).toBe('MalformedRequest');
    expect(codeOf(() => parseXrml(`${MINI}<XrML/>`))).toBe('MalformedRequest');
    expect(codeOf(() => parseXrml('<XrML><BODY><q:X/></BODY></XrML>'))).toBe('MalformedRequest');
    expect(codeOf(() => parseXrml('<XrML><BODY q:a="1"/></XrML>'))).toBe('MalformedRequest');
    expect(codeOf(() => parseXrml('<XrML><BODY>&#1;</BODY></XrML>'))).toBe('MalformedRequest');
    expect(codeOf(() => parseXrml('<XrML><BODY a="&#0;"/></XrML>'))).toBe('MalformedRequest');
    expect(codeOf(() => parseXrml('<XrML><BODY>\u0001</BODY></XrML>'))).toBe('MalformedRequest');
  });
});
