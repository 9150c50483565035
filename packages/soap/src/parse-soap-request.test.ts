import { RmsError } from '@openrms/domain';
import { parseSoapRequest, type SoapHttpInput } from './parse-soap-request';
import { SoapProtocolError } from './soap-protocol-error';
import {
  envelope,
  httpRequest,
  NS_LICENSING,
  NS_SERVER,
  NS_SUBENROLL,
  service,
  versionData,
} from './test-support';

const server = service('server.wsdl');
const license = service('license.wsdl');
const subEnroll = service('sub-enroll.wsdl');
const LIMITS = { maxBytes: 1 << 20 };
const GLC = `${NS_SERVER}/GetLicensorCertificate`;
const GLC_BODY = `<GetLicensorCertificate xmlns="${NS_SERVER}" />`;
const VD10 = versionData(NS_SERVER, '1.0.0.0', '1.0.0.0');

function thrown(fn: () => unknown): RmsError {
  try {
    fn();
  } catch (e) {
    if (e instanceof RmsError) return e;
    throw e;
  }
  throw new Error('expected an RmsError');
}

const parseServer = (input: SoapHttpInput) => parseSoapRequest(input, server, LIMITS);

describe('parseSoapRequest: SOAP 1.1', () => {
  it('dispatches on a quoted SOAPAction and negotiates VersionData', () => {
    const req = parseServer(httpRequest('1.1', envelope('1.1', GLC_BODY, VD10), GLC));
    expect(req.soapVersion).toBe('1.1');
    expect(req.operation.name).toBe('GetLicensorCertificate');
    expect(req.bodyElement.localName).toBe('GetLicensorCertificate');
    expect(req.bodyElement.namespaceURI).toBe(NS_SERVER);
    expect(req.version).toEqual({ clientMin: [1, 0, 0, 0], clientMax: [1, 0, 0, 0], effective: [1, 0, 0, 0], batchingAllowed: false });
    expect(req.document.documentElement?.localName).toBe('Envelope');
  });

  it('accepts an unquoted SOAPAction', () => {
    const req = parseServer(httpRequest('1.1', envelope('1.1', GLC_BODY, VD10), undefined, { soapActionHeader: GLC }));
    expect(req.operation.name).toBe('GetLicensorCertificate');
  });

  it.each([['""'], [''], [undefined]])('falls back to the body element when SOAPAction is %p', (header) => {
    const req = parseServer(httpRequest('1.1', envelope('1.1', GLC_BODY, VD10), undefined, { soapActionHeader: header }));
    expect(req.operation.name).toBe('GetLicensorCertificate');
  });

  it('accepts text/xml without charset, an upper-case charset, a missing content type and a BOM', () => {
    const xml = envelope('1.1', GLC_BODY, VD10);
    for (const contentType of ['text/xml', 'text/xml; charset=UTF-8', 'text/xml;charset="utf-8"', undefined]) {
      const req = parseServer({ body: Buffer.from(xml), contentType, soapActionHeader: GLC });
      expect(req.operation.name).toBe('GetLicensorCertificate');
    }
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(xml)]);
    expect(parseServer({ body: withBom, contentType: 'text/xml', soapActionHeader: GLC }).operation.name).toBe('GetLicensorCertificate');
  });

  it('allows batching when the client asks for 1.1.0.0', () => {
    const xml = envelope('1.1', `<AcquireLicense xmlns="${NS_LICENSING}"><RequestParams/></AcquireLicense>`, versionData(NS_LICENSING, '1.0.0.0', '1.1.0.0'));
    const req = parseSoapRequest(httpRequest('1.1', xml, `${NS_LICENSING}/AcquireLicense`), license, LIMITS);
    expect(req.version?.batchingAllowed).toBe(true);
    expect(req.version?.effective).toEqual([1, 1, 0, 0]);
  });

  it('reads prefixed envelopes as zeep and .NET write them, and tolerates unknown attributes', () => {
    const xml =
      `<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" xmlns:r="${NS_SERVER}">` +
      `<e:Header><r:VersionData extra="x"><r:MinimumVersion>1.0.0.0</r:MinimumVersion><r:MaximumVersion>1.0.0.0</r:MaximumVersion></r:VersionData></e:Header>` +
      `<e:Body><r:GetLicensorCertificate/></e:Body></e:Envelope>`;
    expect(parseServer(httpRequest('1.1', xml, GLC)).operation.name).toBe('GetLicensorCertificate');
  });

  it('does not need VersionData for GetServerInfo', () => {
    const xml = envelope('1.1', `<GetServerInfo xmlns="${NS_SERVER}"><requests/></GetServerInfo>`);
    const req = parseServer(httpRequest('1.1', xml, `${NS_SERVER}/GetServerInfo`));
    expect(req.operation.hasVersionData).toBe(false);
    expect(req.version).toBeUndefined();
  });
});

describe('parseSoapRequest: SOAP 1.2', () => {
  const xml = envelope('1.2', GLC_BODY, VD10);

  it('takes the action from the content type', () => {
    const req = parseServer(httpRequest('1.2', xml, GLC));
    expect(req.soapVersion).toBe('1.2');
    expect(req.operation.name).toBe('GetLicensorCertificate');
  });

  it('accepts an unquoted action parameter, parameters in any order, and no action at all', () => {
    for (const contentType of [
      `application/soap+xml;action=${GLC};charset=utf-8`,
      `Application/SOAP+XML; charset=utf-8; action="${GLC}"`,
      'application/soap+xml; charset=utf-8',
      'application/soap+xml',
    ]) {
      expect(parseServer(httpRequest('1.2', xml, undefined, { contentType })).operation.name).toBe('GetLicensorCertificate');
    }
  });

  it('falls back to a SOAPAction header when the content type has no action', () => {
    const req = parseServer(httpRequest('1.2', xml, undefined, { soapActionHeader: `"${GLC}"` }));
    expect(req.operation.name).toBe('GetLicensorCertificate');
  });

  it('refuses SOAP 1.2 on the SOAP 1.1-only SubEnroll service with a VersionMismatch', () => {
    const body = envelope('1.2', `<SubEnroll xmlns="${NS_SUBENROLL}"/>`, versionData(NS_SUBENROLL, '1.0.0.0', '1.0.0.0'));
    const e = thrown(() => parseSoapRequest(httpRequest('1.2', body, `${NS_SUBENROLL}/SubEnroll`), subEnroll, LIMITS));
    expect(e).toBeInstanceOf(SoapProtocolError);
    expect((e as SoapProtocolError).faultCode).toBe('VersionMismatch');
    expect((e as SoapProtocolError).details.supportedEnvelopes).toEqual(['1.1']);
  });

  it('refuses an envelope whose version does not match the content type', () => {
    expect(thrown(() => parseServer(httpRequest('1.1', xml, GLC))).code).toBe('MalformedRequest');
    expect(thrown(() => parseServer(httpRequest('1.2', envelope('1.1', GLC_BODY, VD10), GLC))).code).toBe('MalformedRequest');
  });
});

describe('parseSoapRequest: VersionData', () => {
  const parseWith = (header: string | undefined) => parseServer(httpRequest('1.1', envelope('1.1', GLC_BODY, header), GLC));

  it.each([
    ['a missing header', undefined, 'MalformedDataVersion'],
    ['an empty Header element', '', 'MalformedDataVersion'],
    ['a missing MaximumVersion', versionData(NS_SERVER, '1.0.0.0'), 'MalformedDataVersion'],
    ['a missing MinimumVersion', versionData(NS_SERVER, undefined, '1.0.0.0'), 'MalformedDataVersion'],
    ['a two-part version', versionData(NS_SERVER, '1.0', '1.0'), 'MalformedDataVersion'],
    ['letters', versionData(NS_SERVER, 'a.b.c.d', '1.0.0.0'), 'MalformedDataVersion'],
    ['min above max', versionData(NS_SERVER, '1.1.0.0', '1.0.0.0'), 'MalformedDataVersion'],
    ['a header in another namespace', versionData(NS_LICENSING, '1.0.0.0', '1.0.0.0'), 'MalformedDataVersion'],
    ['unqualified children', `<VersionData xmlns="${NS_SERVER}"><MinimumVersion xmlns="">1.0.0.0</MinimumVersion><MaximumVersion xmlns="">1.0.0.0</MaximumVersion></VersionData>`, 'MalformedDataVersion'],
    ['two headers', VD10 + VD10, 'MalformedDataVersion'],
    ['element content in MinimumVersion', `<VersionData xmlns="${NS_SERVER}"><MinimumVersion><x>1.0.0.0</x></MinimumVersion><MaximumVersion>1.0.0.0</MaximumVersion></VersionData>`, 'MalformedDataVersion'],
    ['element content beside the text of MaximumVersion', `<VersionData xmlns="${NS_SERVER}"><MinimumVersion>1.0.0.0</MinimumVersion><MaximumVersion>1.0.<b/>0.0</MaximumVersion></VersionData>`, 'MalformedDataVersion'],
    ['a maximum above the server', versionData(NS_SERVER, '1.0.0.0', '9.0.0.0'), 'UnsupportedDataVersion'],
    ['a maximum below the server minimum', versionData(NS_SERVER, '0.9.0.0', '0.9.0.0'), 'UnsupportedDataVersion'],
  ])('rejects %s', (_what, header, code) => {
    expect(thrown(() => parseWith(header)).code).toBe(code);
  });

  it('accepts anyAttribute and a mustUnderstand flag on VersionData', () => {
    const header = versionData(NS_SERVER, '1.0.0.0', '1.1.0.0', ' soap:mustUnderstand="1" foo="bar"');
    expect(parseWith(header).version?.clientMax).toEqual([1, 1, 0, 0]);
  });

  it('negotiates against a configured server range', () => {
    const xml = envelope('1.1', GLC_BODY, versionData(NS_SERVER, '1.0.0.0', '1.2.0.0'));
    const versions = { min: [1, 0, 0, 0], max: [1, 2, 0, 0] } as const;
    const req = parseSoapRequest(httpRequest('1.1', xml, GLC), server, { ...LIMITS, versions });
    expect(req.version?.effective).toEqual([1, 2, 0, 0]);
    expect(req.serverVersions).toBe(versions);
  });
});

describe('parseSoapRequest: hostile and broken input', () => {
  const raw = (xml: string, contentType = 'text/xml; charset=utf-8') =>
    parseServer({ body: Buffer.from(xml, 'utf8'), contentType, soapActionHeader: GLC });
  const env = (inner: string) => envelope('1.1', inner, VD10);

  it('rejects a body over the limit before looking at it', () => {
    const xml = env(GLC_BODY);
    const e = thrown(() => parseSoapRequest(httpRequest('1.1', xml, GLC), server, { maxBytes: xml.length - 1 }));
    expect(e.code).toBe('RequestTooLarge');
    expect(parseSoapRequest(httpRequest('1.1', xml, GLC), server, { maxBytes: xml.length }).operation.name).toBe('GetLicensorCertificate');
  });

  it.each([
    ['a DOCTYPE', `<!DOCTYPE soap:Envelope>${env(GLC_BODY).replace(/^<\?xml[^>]*>\n/, '')}`],
    ['a lower-case doctype', `<?xml version="1.0"?><!doctype x []>${env(GLC_BODY).replace(/^<\?xml[^>]*>\n/, '')}`],
    [
      'billion laughs',
      `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">` +
        `<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>` +
        env(`<GetLicensorCertificate xmlns="${NS_SERVER}">&lol3;</GetLicensorCertificate>`).replace(/^<\?xml[^>]*>\n/, ''),
    ],
    [
      'an external SYSTEM entity',
      `<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>` +
        env(`<GetLicensorCertificate xmlns="${NS_SERVER}">&xxe;</GetLicensorCertificate>`).replace(/^<\?xml[^>]*>\n/, ''),
    ],
    ['a stray entity declaration', env(GLC_BODY).replace('<soap:Body>', '<soap:Body><!-- <!ENTITY x "y"> -->')],
    ['a processing instruction in the body', env(`<?php echo 1; ?>${GLC_BODY}`)],
    ['a processing instruction before the root', `<?xml-stylesheet href="x"?>${env(GLC_BODY).replace(/^<\?xml[^>]*>\n/, '')}`],
    ['an XML declaration that is not first', ` ${env(GLC_BODY)}`],
    ['an XML declaration naming another encoding', env(GLC_BODY).replace('encoding="utf-8"', 'encoding="ISO-8859-1"')],
    ['an unclosed element', env(GLC_BODY).replace('</soap:Envelope>', '')],
    ['mismatched tags', env(`<GetLicensorCertificate xmlns="${NS_SERVER}"></GetLicensorCertificateX>`)],
    ['an end tag with a longer name', env(`<GetLicensorCertificate xmlns="${NS_SERVER}"><a></ab></GetLicensorCertificate>`)],
    ['an end tag with trailing content', env(`<GetLicensorCertificate xmlns="${NS_SERVER}"><a></a bogus></GetLicensorCertificate>`)],
    ['text after the root', `${env(GLC_BODY)}junk`],
    ['text before the root', `junk${env(GLC_BODY).replace(/^<\?xml[^>]*>\n/, '')}`],
    ['an undeclared prefix', env('<x:GetLicensorCertificate/>')],
    ['a duplicate attribute', env(`<GetLicensorCertificate xmlns="${NS_SERVER}" a="1" a="2"/>`)],
    ['an unknown entity reference', env(`<GetLicensorCertificate xmlns="${NS_SERVER}">&nbsp;</GetLicensorCertificate>`)],
    ['a NUL character reference', env(`<GetLicensorCertificate xmlns="${NS_SERVER}">&#0;</GetLicensorCertificate>`)],
    ['a raw control character', env(`<GetLicensorCertificate xmlns="${NS_SERVER}">\u0001</GetLicensorCertificate>`)],
    ['a lone surrogate character reference', env(`<GetLicensorCertificate xmlns="${NS_SERVER}" a="&#xD800;"/>`)],
    ['an empty body', ''],
    ['a non-XML body', 'hello'],
  ])('rejects %s as MalformedRequest', (_what, xml) => {
    expect(thrown(() => raw(xml)).code).toBe('MalformedRequest');
  });

  it('accepts characters outside the BMP, comments and CDATA', () => {
    const inner = `<GetLicensorCertificate xmlns="${NS_SERVER}"><!-- note --><x>&#x1F600;\u{1F600}<![CDATA[<not markup>]]></x></GetLicensorCertificate>`;
    expect(raw(env(inner)).operation.name).toBe('GetLicensorCertificate');
  });

  it('rejects documents nested deeper than the limit', () => {
    const deep = `${'<a>'.repeat(300)}${'</a>'.repeat(300)}`;
    const e = thrown(() => raw(env(`<GetLicensorCertificate xmlns="${NS_SERVER}">${deep}</GetLicensorCertificate>`)));
    expect(e.code).toBe('MalformedRequest');
    expect(e.message).toMatch(/deeper/);
  });

  it('rejects bytes that are not UTF-8, and a non-UTF-8 charset, clearly', () => {
    const latin1 = Buffer.from(env(`<GetLicensorCertificate xmlns="${NS_SERVER}">\u00e9</GetLicensorCertificate>`), 'latin1');
    expect(thrown(() => parseServer({ body: latin1, contentType: 'text/xml', soapActionHeader: GLC })).message).toMatch(/UTF-8/);
    const utf16 = Buffer.from(`\ufeff${env(GLC_BODY)}`, 'utf16le');
    expect(thrown(() => parseServer({ body: utf16, contentType: 'text/xml', soapActionHeader: GLC })).code).toBe('MalformedRequest');
    const e = thrown(() => raw(env(GLC_BODY), 'text/xml; charset=iso-8859-1'));
    expect(e.code).toBe('MalformedRequest');
    expect(e.message).toBe('Unsupported charset "iso-8859-1" in the Content-Type; requests must be UTF-8.');
  });

  it.each([
    ['two body children', env(GLC_BODY + GLC_BODY), /exactly one element, found 2/],
    ['an empty Body', env(''), /exactly one element, found 0/],
    ['text in the Body', env(`hello${GLC_BODY}`), /contains text/],
    ['no Body', `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>${VD10}</soap:Header></soap:Envelope>`, /no Body/],
    ['a Body in the wrong namespace', `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><Body>${GLC_BODY}</Body></soap:Envelope>`, /no Body/],
    ['content after the Body', env(GLC_BODY).replace('</soap:Envelope>', '<soap:Body/></soap:Envelope>'), /after the Body/],
    ['a root that is not an Envelope', GLC_BODY, /not a SOAP Envelope/],
  ])('rejects %s', (_what, xml, message) => {
    const e = thrown(() => raw(xml));
    expect(e.code).toBe('MalformedRequest');
    expect(e.message).toMatch(message);
  });

  it('answers an unknown envelope namespace with VersionMismatch', () => {
    const e = thrown(() => raw(`<Envelope xmlns="urn:not-soap"><Body>${GLC_BODY}</Body></Envelope>`));
    expect((e as SoapProtocolError).faultCode).toBe('VersionMismatch');
  });
});

describe('parseSoapRequest: operation lookup and SOAP headers', () => {
  const env = (body: string, header = VD10) => envelope('1.1', body, header);

  it('rejects an unknown SOAPAction with the ASMX wording', () => {
    const e = thrown(() => parseServer(httpRequest('1.1', env(GLC_BODY), `${NS_SERVER}/Nope`)));
    expect(e.code).toBe('UnknownOperation');
    expect(e.message).toBe(`Server did not recognize the value of HTTP Header SOAPAction: ${NS_SERVER}/Nope.`);
  });

  it('rejects a SOAPAction that disagrees with the body element', () => {
    const body = `<FindServiceLocations xmlns="${NS_SERVER}"/>`;
    expect(thrown(() => parseServer(httpRequest('1.1', env(body), GLC))).code).toBe('UnknownOperation');
    const wrongNs = `<GetLicensorCertificate xmlns="${NS_LICENSING}"/>`;
    expect(thrown(() => parseServer(httpRequest('1.1', env(wrongNs), GLC))).code).toBe('UnknownOperation');
  });

  it('rejects an unknown body element when the SOAPAction is empty', () => {
    expect(thrown(() => parseServer(httpRequest('1.1', env(`<Nope xmlns="${NS_SERVER}"/>`), ''))).code).toBe('UnknownOperation');
    const unqualified = '<GetLicensorCertificate/>';
    expect(thrown(() => parseServer(httpRequest('1.1', env(unqualified), ''))).code).toBe('UnknownOperation');
  });

  it('matches soapActions exactly, not by prefix or case', () => {
    expect(thrown(() => parseServer(httpRequest('1.1', env(GLC_BODY), GLC.toLowerCase()))).code).toBe('UnknownOperation');
    expect(thrown(() => parseServer(httpRequest('1.1', env(GLC_BODY), `${GLC}/`))).code).toBe('UnknownOperation');
  });

  it('faults on a mustUnderstand header it does not know (SOAP 1.1 and 1.2)', () => {
    const h11 = `${VD10}<t:Tx xmlns:t="urn:tx" soap:mustUnderstand="1"/>`;
    const e = thrown(() => parseServer(httpRequest('1.1', env(GLC_BODY, h11), GLC))) as SoapProtocolError;
    expect(e.faultCode).toBe('MustUnderstand');
    expect(e.details.notUnderstood).toEqual([{ namespace: 'urn:tx', localName: 'Tx' }]);
    const h12 = `${VD10}<t:Tx xmlns:t="urn:tx" soap:mustUnderstand="true"/>`;
    const e12 = thrown(() => parseServer(httpRequest('1.2', envelope('1.2', GLC_BODY, h12), GLC))) as SoapProtocolError;
    expect(e12.faultCode).toBe('MustUnderstand');
  });

  it('ignores optional headers and headers addressed to another actor or role', () => {
    const headers = [
      `${VD10}<t:Tx xmlns:t="urn:tx"/>`,
      `${VD10}<t:Tx xmlns:t="urn:tx" soap:mustUnderstand="0"/>`,
      `${VD10}<t:Tx xmlns:t="urn:tx" soap:mustUnderstand="1" soap:actor="urn:someone-else"/>`,
    ];
    for (const h of headers) expect(parseServer(httpRequest('1.1', env(GLC_BODY, h), GLC)).operation.name).toBe('GetLicensorCertificate');
    const h12 = `${VD10}<t:Tx xmlns:t="urn:tx" soap:mustUnderstand="true" soap:role="http://www.w3.org/2003/05/soap-envelope/role/none"/>`;
    expect(parseServer(httpRequest('1.2', envelope('1.2', GLC_BODY, h12), GLC)).operation.name).toBe('GetLicensorCertificate');
  });

  it('checks mustUnderstand before VersionData, as the SOAP processing model requires', () => {
    const h = `<t:Tx xmlns:t="urn:tx" soap:mustUnderstand="1"/>`;
    expect((thrown(() => parseServer(httpRequest('1.1', env(GLC_BODY, h), GLC))) as SoapProtocolError).faultCode).toBe('MustUnderstand');
  });
});
