import { isRmsError, type RmsErrorCode } from '@openrms/domain';
import { SignedXml } from 'xml-crypto';
import { parseXrml } from './parse-xrml';
import { readCertificate } from './read-certificate';
import { signXrml } from './sign-xrml';
import { newKeyPair, unsignedSlc, xmlsecVerify } from './test-fixtures';
import { verifyXrmlSignature } from './verify-xrml-signature';
import { ENVELOPED_SIGNATURE, EXC_C14N, RSA_SHA256, SHA256_DIGEST } from './xrml-constants';

const real = newKeyPair();
const attacker = newKeyPair();
const unsigned = unsignedSlc(real.publicKey, real.publicKey);
const signed = signXrml(unsigned, real.signer);

function codeOf(fn: () => unknown): RmsErrorCode | 'no error' | 'not an RmsError' {
  try {
    fn();
    return 'no error';
  } catch (e) {
    return isRmsError(e) ? e.code : 'not an RmsError';
  }
}

/** The ChainInvalid reason, so each test proves which defence fired. */
function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isRmsError(e, 'ChainInvalid')) return e.message;
    throw e;
  }
  return 'no error';
}

function signatureOf(xml: string): string {
  return xml.slice(xml.indexOf('<ds:Signature'), xml.indexOf('</XrML>'));
}

function bodyOf(xml: string): string {
  return xml.slice(xml.indexOf('<BODY'), xml.indexOf('</BODY>') + '</BODY>'.length);
}

/** A signature made with xml-crypto directly, to build documents our signer would never produce. */
function rawSign(
  xml: string,
  privateKey: import('node:crypto').KeyObject,
  opts: { xpath?: string; isEmptyUri?: boolean; signatureAlgorithm?: string; keyInfo?: string; action?: 'append' | 'prepend' } = {},
): string {
  const sig = new SignedXml({
    privateKey,
    signatureAlgorithm: opts.signatureAlgorithm ?? RSA_SHA256,
    canonicalizationAlgorithm: EXC_C14N,
    getKeyInfoContent: () => opts.keyInfo ?? null,
  });
  sig.addReference({
    xpath: opts.xpath ?? '/*',
    transforms: [ENVELOPED_SIGNATURE, EXC_C14N],
    digestAlgorithm: SHA256_DIGEST,
    isEmptyUri: opts.isEmptyUri ?? true,
  });
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: '/*', action: opts.action ?? 'append' } });
  return sig.getSignedXml();
}

describe('signXrml', () => {
  it('appends one ds:Signature as the last child of XrML, with our profile and no KeyInfo', () => {
    const doc = parseXrml(signed);
    expect(doc.dsigSignature).toBeDefined();
    expect(signed.endsWith('</ds:Signature></XrML>')).toBe(true);
    expect(signed).toContain(`<ds:SignatureMethod Algorithm="${RSA_SHA256}"/>`);
    expect(signed).toContain(`<ds:CanonicalizationMethod Algorithm="${EXC_C14N}"/>`);
    expect(signed).toContain('<ds:Reference URI="">');
    expect(signed).toContain(`<ds:DigestMethod Algorithm="${SHA256_DIGEST}"/>`);
    expect(signed).not.toContain('KeyInfo');
    // Signing adds the signature and nothing else.
    expect(signed.replace(signatureOf(signed), '')).toBe(unsigned);
  });

  it('passes the canonical SignedInfo to the signer and never sees a private key', () => {
    const seen: Buffer[] = [];
    signXrml(unsigned, { sign: (data) => (seen.push(data), real.signer.sign(data)) });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.toString('utf8')).toMatch(/^<ds:SignedInfo xmlns:ds="http:\/\/www.w3.org\/2000\/09\/xmldsig#">/);
  });

  it('refuses to sign twice', () => {
    expect(codeOf(() => signXrml(signed, real.signer))).toBe('InvalidInput');
  });

  it('with verifyWith, catches a signer holding the wrong key', () => {
    expect(signXrml(unsigned, real.signer, { verifyWith: real.publicKey })).toBe(signed);
    expect(codeOf(() => signXrml(unsigned, attacker.signer, { verifyWith: real.publicKey }))).toBe('ChainInvalid');
  });

  it('is deterministic (PKCS#1 v1.5)', () => {
    expect(signXrml(unsigned, real.signer)).toBe(signed);
  });
});

describe('verifyXrmlSignature', () => {
  it('accepts our signature with the right key and returns the signed content', () => {
    const v = verifyXrmlSignature(signed, real.publicKey);
    expect(v.verified).toBe(true);
    expect(v.xml).toBe(signed);
    expect(v.dsigSignature).toBeUndefined();
    expect(readCertificate(v).principal.name).toBe('rms01');
    // a parsed document works too, and so does re-verifying a verified one
    const parsed = parseXrml(signed);
    expect(verifyXrmlSignature(parsed, real.publicKey).verified).toBe(true);
    // verification leaves the caller's DOM as it found it
    expect(parsed.document.toString()).toBe(signed);
    expect(verifyXrmlSignature(parsed, real.publicKey).verified).toBe(true);
    expect(verifyXrmlSignature(v, real.publicKey).verified).toBe(true);
  });

  it('xmlsec1 verifies our signature with the right key', () => {
    expect(xmlsecVerify(signed, real.publicKey, { plain: true })).toMatchObject({ status: 0 });
    expect(xmlsecVerify(signed, real.publicKey)).toMatchObject({ status: 0 });
  });

  it('rejects the wrong key, in our code and in xmlsec1', () => {
    expect(codeOf(() => verifyXrmlSignature(signed, attacker.publicKey))).toBe('ChainInvalid');
    expect(xmlsecVerify(signed, attacker.publicKey).status).not.toBe(0);
    expect(xmlsecVerify(signed, attacker.publicKey, { plain: true }).status).not.toBe(0);
  });

  it('rejects an unsigned document and a non-key', () => {
    expect(codeOf(() => verifyXrmlSignature(unsigned, real.publicKey))).toBe('ChainInvalid');
    expect(codeOf(() => verifyXrmlSignature(signed, real.privateKey))).toBe('InvalidInput');
  });

  describe('tampering', () => {
    it('one changed character in BODY text fails (ours and xmlsec1)', () => {
      const t = signed.replace('<NAME>rms01</NAME>', '<NAME>rms02</NAME>');
      expect(t).not.toBe(signed);
      expect(reasonOf(() => verifyXrmlSignature(t, real.publicKey))).toMatch(/does not match its digest/);
      expect(xmlsecVerify(t, real.publicKey).status).not.toBe(0);
    });

    it('a changed attribute fails', () => {
      const t = signed.replace('value="RAC,CLC,PL,UL,SLC"', 'value="RAC,CLC,PL,UL,SLC "');
      expect(codeOf(() => verifyXrmlSignature(t, real.publicKey))).toBe('ChainInvalid');
    });

    it('whitespace added between signed elements fails (it is signed content)', () => {
      const t = signed.replace('<ISSUEDTIME>', '\n<ISSUEDTIME>');
      expect(codeOf(() => verifyXrmlSignature(t, real.publicKey))).toBe('ChainInvalid');
    });

    it('a changed SignatureValue or DigestValue fails', () => {
      const sv = signed.replace(/<ds:SignatureValue>(.)/, (_m, c: string) => `<ds:SignatureValue>${c === 'A' ? 'B' : 'A'}`);
      expect(codeOf(() => verifyXrmlSignature(sv, real.publicKey))).toBe('ChainInvalid');
      const dv = signed.replace(/<ds:DigestValue>(.)/, (_m, c: string) => `<ds:DigestValue>${c === 'A' ? 'B' : 'A'}`);
      expect(codeOf(() => verifyXrmlSignature(dv, real.publicKey))).toBe('ChainInvalid');
    });

    it('a KeyInfo carrying the attacker key, re-signed by the attacker, fails with the real key', () => {
      const jwk = attacker.publicKey.export({ format: 'jwk' });
      const keyValue =
        `<ds:KeyValue><ds:RSAKeyValue><ds:Modulus>${Buffer.from(jwk.n!, 'base64url').toString('base64')}</ds:Modulus>` +
        `<ds:Exponent>AQAB</ds:Exponent></ds:RSAKeyValue></ds:KeyValue>`;
      const forged = rawSign(unsigned.replace('<NAME>rms01</NAME>', '<NAME>evil</NAME>'), attacker.privateKey, { keyInfo: keyValue });
      expect(forged).toContain('<ds:KeyInfo>');
      expect(reasonOf(() => verifyXrmlSignature(forged, real.publicKey))).toMatch(/does not verify with the issuer key/);
      expect(xmlsecVerify(forged, real.publicKey).status).not.toBe(0);
      // Hazard for operators, recorded in the README: plain `xmlsec1 --verify --pubkey-pem` takes
      // the document's KeyValue over the key it was given and accepts the forgery.
      expect(xmlsecVerify(forged, real.publicKey, { plain: true }).status).toBe(0);
      // KeyInfo is tolerated, just never trusted: with the key the chain names, it verifies.
      expect(readCertificate(verifyXrmlSignature(forged, attacker.publicKey)).principal.name).toBe('evil');
    });

    it('a KeyInfo added to a genuine signature changes nothing (it is not signed, not read)', () => {
      const withKeyInfo = signed.replace('</ds:SignatureValue>', '</ds:SignatureValue><ds:KeyInfo><ds:KeyName>x</ds:KeyName></ds:KeyInfo>');
      expect(verifyXrmlSignature(withKeyInfo, real.publicKey).verified).toBe(true);
      expect(codeOf(() => verifyXrmlSignature(withKeyInfo, attacker.publicKey))).toBe('ChainInvalid');
    });
  });

  describe('signature wrapping', () => {
    const forgedBody = bodyOf(signed).replace('<NAME>rms01</NAME>', '<NAME>evil</NAME>');
    const sig = signatureOf(signed);

    it('original BODY moved into the Signature (ds:Object), forged BODY in its place', () => {
      const t = `<XrML version="1.2">${forgedBody}${sig.replace('</ds:Signature>', `<ds:Object>${bodyOf(signed)}</ds:Object></ds:Signature>`)}</XrML>`;
      expect(reasonOf(() => verifyXrmlSignature(t, real.publicKey))).toMatch(/unexpected elements in Signature/);
    });

    it('original signed document wrapped in another element beside a forged BODY', () => {
      const t = `<XrML version="1.2">${forgedBody}<Wrapper>${signed}</Wrapper></XrML>`;
      expect(codeOf(() => verifyXrmlSignature(t, real.publicKey))).toBe('MalformedRequest');
    });

    it('forged XrML root around the signed one', () => {
      const t = `<XrML version="1.2">${forgedBody}${sig}<XrML>${bodyOf(signed)}</XrML></XrML>`;
      expect(codeOf(() => verifyXrmlSignature(t, real.publicKey))).toBe('MalformedRequest');
    });

    it('duplicate BODY', () => {
      const t = signed.replace('</BODY>', `</BODY>${forgedBody}`);
      expect(codeOf(() => verifyXrmlSignature(t, real.publicKey))).toBe('MalformedRequest');
      const t2 = signed.replace('<BODY', `${forgedBody}<BODY`);
      expect(codeOf(() => verifyXrmlSignature(t2, real.publicKey))).toBe('MalformedRequest');
    });

    it('a second Signature', () => {
      const other = signatureOf(signXrml(unsignedSlc(attacker.publicKey, attacker.publicKey), attacker.signer));
      expect(codeOf(() => verifyXrmlSignature(signed.replace('</XrML>', `${other}</XrML>`), real.publicKey))).toBe('MalformedRequest');
      expect(codeOf(() => verifyXrmlSignature(signed.replace('</XrML>', `${sig}</XrML>`), real.publicKey))).toBe('MalformedRequest');
    });

    it('a Reference URI pointing at an Id, even when genuinely signed by the real key', () => {
      const withId = unsigned.replace('<BODY ', '<BODY Id="body" ');
      const t = rawSign(withId, real.privateKey, { xpath: "//*[local-name(.)='BODY']", isEmptyUri: false });
      expect(t).toContain('URI="#body"');
      expect(reasonOf(() => verifyXrmlSignature(t, real.publicKey))).toMatch(/URI=""/);
    });

    it('defence in depth: a body-only signature relabelled URI="" still fails the whole-document check', () => {
      // Sign only BODY (by Id), then relabel the Reference as URI="" so the profile check passes:
      // the digest no longer matches the whole document, so xml-crypto itself refuses it.
      const withId = unsigned.replace('<BODY ', '<BODY Id="body" ');
      const t = rawSign(withId, real.privateKey, { xpath: "//*[local-name(.)='BODY']", isEmptyUri: false }).replace('URI="#body"', 'URI=""');
      expect(reasonOf(() => verifyXrmlSignature(t, real.publicKey))).toMatch(/does not match its digest|does not verify/);
    });

    it('a genuine signature that is not the last child of XrML', () => {
      const t = rawSign(unsigned, real.privateKey, { action: 'prepend' });
      expect(t.indexOf('<ds:Signature')).toBeLessThan(t.indexOf('<BODY'));
      expect(reasonOf(() => verifyXrmlSignature(t, real.publicKey))).toMatch(/not the last child/);
    });

    it('a genuine signature with another algorithm (rsa-sha1)', () => {
      const t = rawSign(unsigned, real.privateKey, { signatureAlgorithm: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1' });
      expect(reasonOf(() => verifyXrmlSignature(t, real.publicKey))).toMatch(/SignatureMethod must be/);
    });

    it('an extra Transform or Reference', () => {
      const extraTransform = signed.replace(
        '</ds:Transforms>',
        '<ds:Transform Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/></ds:Transforms>',
      );
      expect(reasonOf(() => verifyXrmlSignature(extraTransform, real.publicKey))).toMatch(/exactly two transforms/);
      const ref = signed.slice(signed.indexOf('<ds:Reference'), signed.indexOf('</ds:Reference>') + '</ds:Reference>'.length);
      const extraRef = signed.replace('</ds:SignedInfo>', `${ref}</ds:SignedInfo>`);
      expect(reasonOf(() => verifyXrmlSignature(extraRef, real.publicKey))).toMatch(/exactly one Reference/);
    });
  });

  describe('DTDs and size', () => {
    it('a DOCTYPE or entity prepended to a genuine document is rejected before verification', () => {
      expect(codeOf(() => verifyXrmlSignature(`<!DOCTYPE XrML>${signed}`, real.publicKey))).toBe('MalformedRequest');
      const xxe = `<!DOCTYPE XrML [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${signed.replace('rms01', '&xxe;')}`;
      expect(codeOf(() => verifyXrmlSignature(xxe, real.publicKey))).toBe('MalformedRequest');
    });

    it('an oversized document is rejected', () => {
      expect(codeOf(() => verifyXrmlSignature(signed, real.publicKey, { maxBytes: 2048 }))).toBe('RequestTooLarge');
      const padded = signed.replace('</XrML>', `<!--${'x'.repeat(1024 * 1024)}--></XrML>`);
      expect(codeOf(() => verifyXrmlSignature(padded, real.publicKey))).toBe('RequestTooLarge');
    });
  });

  describe('comments (exclusive c14n without comments: comments are not signed)', () => {
    it('a comment added inside BODY keeps the signature valid, in ours and in xmlsec1', () => {
      const t = signed.replace('<NAME>rms01</NAME>', '<NAME>rms<!-- anything -->01</NAME>');
      expect(verifyXrmlSignature(t, real.publicKey).verified).toBe(true);
      expect(xmlsecVerify(t, real.publicKey).status).toBe(0);
    });

    it('comments never reach what callers read from the verified document', () => {
      const t = signed.replace('<NAME>rms01</NAME>', '<NAME>rms01<!--evil--></NAME>');
      const v = verifyXrmlSignature(t, real.publicKey);
      expect(v.document.toString()).not.toContain('evil');
      expect(readCertificate(v).principal.name).toBe('rms01');
    });

    it('text hidden in a comment does not pass for signed text', () => {
      const t = signed.replace('<NAME>rms01</NAME>', '<NAME><!--rms01-->evil</NAME>');
      expect(codeOf(() => verifyXrmlSignature(t, real.publicKey))).toBe('ChainInvalid');
    });
  });
});

describe('documents lifted out of a SOAP envelope by another stack', () => {
  it('verify and read with an explicit xmlns="" and unused namespace declarations on the root', () => {
    const server = newKeyPair();
    const signed = signXrml(unsignedSlc(server.publicKey, server.publicKey), server.signer);
    // What lxml/zeep write when serialising the element they found inside <Certificate>.
    const lifted = signed.replace(
      '<XrML version="1.2">',
      '<XrML xmlns="" xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="1.2">',
    );
    expect(lifted).not.toBe(signed);
    const doc = verifyXrmlSignature(parseXrml(lifted), server.publicKey);
    expect(readCertificate(doc).principal.name).toBe('rms01');
    expect(xmlsecVerify(lifted, server.publicKey).status).toBe(0);
    // A real namespace on the root is still refused.
    expect(() => parseXrml(signed.replace('<XrML version="1.2">', '<XrML xmlns="urn:other" version="1.2">'))).toThrow(/no namespace/);
  });
});
