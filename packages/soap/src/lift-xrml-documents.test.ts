import { isRmsError } from '@openrms/domain';
import { certificateNodes, childElement } from './certificate-nodes';
import { liftXrmlDocuments } from './lift-xrml-documents';
import { parseSoapRequest } from './parse-soap-request';
import { envelope, httpRequest, NS_LICENSING, service, versionData } from './test-support';

const license = service('license.wsdl');
const ACTION = `${NS_LICENSING}/AcquireLicense`;

function acquireLicense(params: string): string {
  const body = `<AcquireLicense xmlns="${NS_LICENSING}"><RequestParams><AcquireLicenseParams>${params}</AcquireLicenseParams></RequestParams></AcquireLicense>`;
  return envelope('1.1', body, versionData(NS_LICENSING, '1.0.0.0', '1.0.0.0'));
}

function licenseeCerts(xml: string): string[] {
  const req = parseSoapRequest(httpRequest('1.1', xml, ACTION), license, { maxBytes: 1 << 20 });
  const params = childElement(childElement(req.bodyElement, 'RequestParams')!, 'AcquireLicenseParams')!;
  return certificateNodes(childElement(params, 'LicenseeCerts'));
}

// As a client sends it: comments, a CRLF, an entity, a character reference, single quotes, a signature
// with its own namespace declaration, attribute order of its own.
const RAC =
  `<XrML xmlns="" version='1.2' purpose="x">\r\n <!-- kept --><BODY type="LICENSE" version="3.0"><NAME>a &amp; &#x62;</NAME>` +
  `<EMPTY/></BODY><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature></XrML>`;

describe('liftXrmlDocuments', () => {
  it('hands on each certificate exactly as sent, less the root xmlns=""', () => {
    const xml = acquireLicense(`<LicenseeCerts><Certificate>${RAC}</Certificate><Certificate>\n<XrML xmlns="" n="2"/>\n</Certificate></LicenseeCerts>`);
    const lifted = liftXrmlDocuments(xml)!;
    expect(lifted.documents).toEqual([RAC.replace('<XrML xmlns="" ', '<XrML '), '<XrML n="2"/>']);
    expect(lifted.skeleton).not.toContain('BODY');
    expect(licenseeCerts(xml)).toEqual(lifted.documents);
  });

  it('leaves in the DOM what does not stand alone, or is not a certificate', () => {
    // A prefix declared by the envelope: serialised from the DOM, with the declaration it borrowed.
    const borrowed = acquireLicense(`<LicenseeCerts xmlns:p="urn:p"><Certificate><XrML xmlns="" p:a="1"/></Certificate></LicenseeCerts>`);
    expect(liftXrmlDocuments(borrowed)).toBeUndefined();
    expect(licenseeCerts(borrowed)).toEqual(['<XrML xmlns:p="urn:p" p:a="1"/>']);
    // ApplicationData is the client's own XML.
    const appData = acquireLicense(`<LicenseeCerts><Certificate>${RAC}</Certificate></LicenseeCerts><ApplicationData><Certificate>${RAC}</Certificate></ApplicationData>`);
    expect(liftXrmlDocuments(appData)!.documents).toHaveLength(1);
    expect(liftXrmlDocuments(appData)!.skeleton).toContain('<ApplicationData><Certificate><XrML xmlns="" version=');
    // An XrML in the service namespace (no xmlns="") is no document of ours: refused as before.
    const qualified = acquireLicense(`<LicenseeCerts><Certificate><XrML n="1"/></Certificate></LicenseeCerts>`);
    expect(liftXrmlDocuments(qualified)).toBeUndefined();
    expect(() => licenseeCerts(qualified)).toThrow(/empty namespace/);
  });

  it.each([
    ['a DTD', (x: string) => `<!DOCTYPE e>${x}`],
    ['a processing instruction', (x: string) => x.replace('<BODY', '<?pi x?><BODY')],
    ['an undefined entity', (x: string) => x.replace('&amp;', '&lol;')],
    ['a mismatched end tag', (x: string) => x.replace('</BODY>', '</BODX>')],
    ['an unbound prefix', (x: string) => x.replace('<EMPTY/>', '<q:EMPTY/>')],
    ['nesting beyond the limit', (x: string) => x.replace('<EMPTY/>', '<a>'.repeat(300) + '</a>'.repeat(300))],
  ])('lifts nothing from a request with %s: the secure parser answers as before', (_what, spoil) => {
    const xml = spoil(acquireLicense(`<LicenseeCerts><Certificate>${RAC}</Certificate></LicenseeCerts>`));
    expect(liftXrmlDocuments(xml)).toBeUndefined();
    let error: unknown;
    try {
      licenseeCerts(xml);
    } catch (e) {
      error = e;
    }
    expect(isRmsError(error, 'MalformedRequest')).toBe(true);
  });

  it('a placeholder cannot be forged: a look-alike attribute is an ordinary attribute', () => {
    const xml = acquireLicense(`<LicenseeCerts xmlns:p="urn:p"><Certificate><XrML xmlns="" openrms-lifted-0000000000000000="0" p:x="1"/></Certificate></LicenseeCerts>`);
    expect(licenseeCerts(xml)).toEqual(['<XrML openrms-lifted-0000000000000000="0" xmlns:p="urn:p" p:x="1"/>']);
  });
});
