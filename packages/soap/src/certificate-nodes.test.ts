import { XMLSerializer } from '@xmldom/xmldom';
import { RmsError } from '@openrms/domain';
import { certificateNodes, childElement, childElements, childText } from './certificate-nodes';
import { parseSoapRequest } from './parse-soap-request';
import { parseXmlSecurely } from './parse-xml-securely';
import { envelope, httpRequest, NS_LICENSING, service, versionData } from './test-support';

const license = service('license.wsdl');
const ACTION = `${NS_LICENSING}/AcquireLicense`;

// Shaped like our signed output: no-namespace XrML with an XML-DSig Signature in its own namespace.
const RAC =
  '<XrML version="1.2" purpose="x">\n  <BODY type="LICENSE" version="3.0">' +
  '<ISSUEDTIME>2024-01-01T00:00</ISSUEDTIME><DESCRIPTOR><OBJECT type="Group-Identity"><ID type="MS-GUID">{1}</ID>' +
  '<NAME>a &amp; b &lt;c&gt; "q"</NAME></OBJECT></DESCRIPTOR></BODY>\n' +
  '  <Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo><Reference URI=""/></SignedInfo>' +
  '<SignatureValue>AAAA</SignatureValue></Signature>\n</XrML>';
const SLC = '<XrML version="1.2"><BODY type="LICENSE" version="3.0"><ISSUER><NAME>server</NAME></ISSUER></BODY></XrML>';

function acquireLicense(params: string): ReturnType<typeof parseSoapRequest> {
  const body = `<AcquireLicense xmlns="${NS_LICENSING}"><RequestParams><AcquireLicenseParams>${params}</AcquireLicenseParams></RequestParams></AcquireLicense>`;
  const xml = envelope('1.1', body, versionData(NS_LICENSING, '1.0.0.0', '1.0.0.0'));
  return parseSoapRequest(httpRequest('1.1', xml, ACTION), license, { maxBytes: 1 << 20 });
}

function paramsOf(req: ReturnType<typeof parseSoapRequest>): Element {
  return childElement(childElement(req.bodyElement, 'RequestParams')!, 'AcquireLicenseParams')!;
}

function roundTrip(xml: string): string {
  return new XMLSerializer().serializeToString(parseXmlSecurely(xml).documentElement!);
}

describe('certificateNodes', () => {
  it('returns each XrML as a standalone no-namespace document, byte-stable through a parse round trip', () => {
    const withNs = RAC.replace('<XrML ', '<XrML xmlns="" ');
    const req = acquireLicense(
      `<LicenseeCerts><Certificate>${withNs}</Certificate></LicenseeCerts>` +
        `<IssuanceLicense>\n  <Certificate>\n    ${SLC.replace('<XrML ', '<XrML xmlns="" ')}\n  </Certificate>\n</IssuanceLicense><ApplicationData/>`,
    );
    const params = paramsOf(req);
    const [rac, ...rest] = certificateNodes(childElement(params, 'LicenseeCerts'));
    expect(rest).toEqual([]);
    expect(rac).toBe(RAC); // exactly what the client signed: the envelope's xmlns="" is gone, nothing else changed
    expect(roundTrip(rac!)).toBe(rac);
    expect(parseXmlSecurely(rac!).documentElement!.namespaceURI || null).toBeNull();
    expect(certificateNodes(childElement(params, 'IssuanceLicense'))).toEqual([SLC]);
  });

  it('reads prefixed arrays (zeep style) where the XrML needs no xmlns=""', () => {
    const body =
      `<ns0:AcquireLicense xmlns:ns0="${NS_LICENSING}"><ns0:RequestParams><ns0:AcquireLicenseParams>` +
      `<ns0:LicenseeCerts><ns0:Certificate>${RAC}</ns0:Certificate><ns0:Certificate>${SLC}</ns0:Certificate></ns0:LicenseeCerts>` +
      '</ns0:AcquireLicenseParams></ns0:RequestParams></ns0:AcquireLicense>';
    const xml = envelope('1.1', body, versionData(NS_LICENSING, '1.0.0.0', '1.0.0.0'));
    const req = parseSoapRequest(httpRequest('1.1', xml, ACTION), license, { maxBytes: 1 << 20 });
    expect(certificateNodes(childElement(paramsOf(req), 'LicenseeCerts'))).toEqual([RAC, SLC]);
  });

  it('declares prefixes the XrML borrowed from the envelope so the standalone document still parses', () => {
    const req = acquireLicense(`<LicenseeCerts xmlns:p="urn:p"><Certificate><XrML xmlns="" p:a="1"><p:X/></XrML></Certificate></LicenseeCerts>`);
    const [doc] = certificateNodes(childElement(paramsOf(req), 'LicenseeCerts'));
    const root = parseXmlSecurely(doc!).documentElement!;
    expect(root.getAttributeNS('urn:p', 'a')).toBe('1');
    expect(roundTrip(doc!)).toBe(doc);
  });

  it('keeps leaf-first order and returns [] for a missing or nil array', () => {
    const req = acquireLicense(
      `<LicenseeCerts xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>` +
        `<IssuanceLicense><Certificate><XrML xmlns="" n="1"/></Certificate><Certificate><XrML xmlns="" n="2"/></Certificate></IssuanceLicense>`,
    );
    const params = paramsOf(req);
    expect(certificateNodes(childElement(params, 'LicenseeCerts'))).toEqual([]);
    expect(certificateNodes(childElement(params, 'ApplicationData'))).toEqual([]);
    expect(certificateNodes(childElement(params, 'IssuanceLicense'))).toEqual(['<XrML n="1"/>', '<XrML n="2"/>']);
  });

  it.each([
    ['an XrML that inherited the service namespace', `<Certificate>${SLC}</Certificate>`, 'MalformedRequest'],
    ['an empty Certificate', '<Certificate>  </Certificate>', 'ArgumentNull'],
    ['a nil Certificate', '<Certificate xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>', 'ArgumentNull'],
    ['two documents in one Certificate', '<Certificate><XrML xmlns=""/><XrML xmlns=""/></Certificate>', 'Argument'],
    ['escaped text instead of XML', '<Certificate>&lt;XrML/&gt;</Certificate>', 'Argument'],
  ])('rejects %s', (_what, cert, code) => {
    const req = acquireLicense(`<LicenseeCerts>${cert}</LicenseeCerts>`);
    try {
      certificateNodes(childElement(paramsOf(req), 'LicenseeCerts'));
      throw new Error('expected a failure');
    } catch (e) {
      expect(e).toBeInstanceOf(RmsError);
      expect((e as RmsError).code).toBe(code);
    }
  });
});

describe('childElements / childText', () => {
  const doc = parseXmlSecurely(
    `<r xmlns="urn:s" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><a>1</a><b xmlns="">x</b><a>2</a>` +
      `<c xsi:nil="true"/><d><![CDATA[<x>]]> &amp; y</d><e/></r>`,
  );
  const root = doc.documentElement!;

  it('reads children in the parent namespace by default', () => {
    expect(childElements(root, 'a').map((e) => e.textContent)).toEqual(['1', '2']);
    expect(childElements(root, 'b')).toEqual([]);
    expect(childElements(root, 'b', null).map((e) => e.textContent)).toEqual(['x']);
  });

  it('returns text, undefined for absent or nil, and "" for empty', () => {
    expect(childText(root, 'a')).toBe('1');
    expect(childText(root, 'missing')).toBeUndefined();
    expect(childText(root, 'c')).toBeUndefined();
    expect(childText(root, 'd')).toBe('<x> & y');
    expect(childText(root, 'e')).toBe('');
  });
});
