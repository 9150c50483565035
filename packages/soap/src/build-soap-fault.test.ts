import { RMS_ERROR_CODES, RmsError, type RmsErrorCode } from '@openrms/domain';
import { buildSoapFault, faultNameFor, SOAP_FAULT_TABLE } from './build-soap-fault';
import { NS } from './namespaces';
import { SoapProtocolError } from './soap-protocol-error';
import { readFault } from './test-support';

const S11 = NS.soap11Envelope;
const S12 = NS.soap12Envelope;

describe('faultNameFor / SOAP_FAULT_TABLE', () => {
  it.each([
    ['MalformedDataVersion', 'Microsoft.DigitalRightsManagement.Core.MalformedDataVersionException'],
    ['UnsupportedDataVersion', 'Microsoft.DigitalRightsManagement.Core.UnsupportedDataVersionException'],
    ['ArgumentNull', 'System.ArgumentNullException'],
    ['InvalidOperation', 'System.InvalidOperationException'],
    ['UnauthorizedAccess', 'System.UnauthorizedAccessException'],
    ['AccessDenied', 'System.UnauthorizedAccessException'],
    ['ClusterDecommissioned', 'Microsoft.RightsManagementServices.ClusterDecommissionedException'],
    ['ClusterNotDecommissioned', 'Microsoft.DigitalRightsManagement.Utilities.ClusterNotDecommissionedException'],
    ['DrmsArgument', 'Microsoft.DigitalRightsManagement.Core.DRMSArgumentException'],
    ['AdEntrySearchFailed', 'Microsoft.DigitalRightsManagement.Utilities.ADEntrySearchFailedException'],
    ['NoRightsForRequestedPrincipal', 'Microsoft.DigitalRightsManagement.Licensing.NoRightsForRequestedPrincipalException'],
    ['CryptoUnsupportedSymKey', 'Microsoft.DigitalRightsManagement.Cryptography.CryptoUnsupportedSymKeyException'],
    ['EnablingBitsHashDoesNotMatch', 'Microsoft.RightsManagementServices.EnablingBitsHashDoesNotMatchException'],
    ['UnknownOperation', 'System.Web.Services.Protocols.SoapException'],
    ['MalformedRequest', 'System.Xml.XmlException'],
    ['UnspecifiedError', 'Microsoft.DigitalRightsManagement.Utilities.UnspecifiedErrorException'],
    ['NotFound', 'Microsoft.DigitalRightsManagement.Utilities.UnspecifiedErrorException'],
  ] as Array<[RmsErrorCode, string]>)('%s -> %s', (code, name) => {
    expect(faultNameFor(code)).toBe(name);
  });

  it('maps every domain code to a dotted .NET exception name', () => {
    for (const code of RMS_ERROR_CODES) {
      expect(faultNameFor(code)).toMatch(/^([A-Za-z]+\.)+[A-Za-z]+Exception$/);
    }
    expect(Object.keys(SOAP_FAULT_TABLE).sort()).toEqual([...RMS_ERROR_CODES].sort());
  });
});

describe('buildSoapFault', () => {
  it('writes a SOAP 1.1 Server fault with the exception name first and an empty detail', () => {
    const f = buildSoapFault('1.1', new RmsError('NoRightsForRequestedPrincipal', 'user has no rights'), {});
    expect(f.status).toBe(500);
    expect(f.contentType).toBe('text/xml; charset=utf-8');
    const parsed = readFault(f.body);
    expect(parsed).toEqual({
      version: '1.1',
      code: `{${S11}}Server`,
      text: 'Microsoft.DigitalRightsManagement.Licensing.NoRightsForRequestedPrincipalException: user has no rights',
      headerChildren: [],
      hasDetail: true,
    });
    expect(f.body).not.toContain('VersionData');
    expect(f.faultName).toBe('Microsoft.DigitalRightsManagement.Licensing.NoRightsForRequestedPrincipalException');
  });

  it('writes a SOAP 1.2 Receiver fault with Code/Value, Reason/Text xml:lang="en" and no Detail', () => {
    const f = buildSoapFault('1.2', new RmsError('MalformedDataVersion', 'bad'), {});
    expect(f.contentType).toBe('application/soap+xml; charset=utf-8');
    expect(readFault(f.body)).toEqual({
      version: '1.2',
      code: `{${S12}}Receiver`,
      text: 'Microsoft.DigitalRightsManagement.Core.MalformedDataVersionException: bad',
      headerChildren: [],
      hasDetail: false,
    });
  });

  it('uses Client / Sender for errors of the sender', () => {
    for (const code of ['MalformedRequest', 'UnknownOperation', 'RequestTooLarge'] as const) {
      expect(readFault(buildSoapFault('1.1', new RmsError(code, 'x')).body).code).toBe(`{${S11}}Client`);
      expect(readFault(buildSoapFault('1.2', new RmsError(code, 'x')).body).code).toBe(`{${S12}}Sender`);
    }
  });

  it('never leaks the message or stack of an unexpected error, only the correlation id', () => {
    const err = new Error('SELECT * FROM secrets failed at /srv/openrms/db.ts:12');
    const f = buildSoapFault('1.1', err, { correlationId: 'req-123' });
    const parsed = readFault(f.body);
    expect(parsed.text).toBe('Microsoft.DigitalRightsManagement.Utilities.UnspecifiedErrorException: Correlation id req-123');
    expect(parsed.code).toBe(`{${S11}}Server`);
    expect(f.body).not.toContain('secrets');
    expect(f.body).not.toContain('db.ts');
    expect(f.withheld).toBe(true);
    expect(f.correlationId).toBe('req-123');
  });

  it('withholds the message of UnspecifiedError and of operational codes too', () => {
    for (const code of ['UnspecifiedError', 'NotFound', 'ChainInvalid', 'Unavailable'] as const) {
      const f = buildSoapFault('1.2', new RmsError(code, 'internal detail'), { correlationId: 'c1' });
      expect(readFault(f.body).text).toBe('Microsoft.DigitalRightsManagement.Utilities.UnspecifiedErrorException: Correlation id c1');
    }
    for (const thrown of ['a string', undefined, null, 42, { message: 'obj' }]) {
      expect(readFault(buildSoapFault('1.1', thrown, { correlationId: 'c2' }).body).text).toMatch(/UnspecifiedErrorException: Correlation id c2$/);
    }
  });

  it('generates a correlation id when none (or an unsafe one) is given', () => {
    const a = buildSoapFault('1.1', new Error('x'));
    expect(a.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(readFault(a.body).text).toContain(a.correlationId);
    const b = buildSoapFault('1.1', new Error('x'), { correlationId: '<script>' });
    expect(b.correlationId).not.toContain('<');
  });

  it('escapes client-influenced text', () => {
    const f = buildSoapFault('1.1', new RmsError('UnknownOperation', 'Server did not recognize the value of HTTP Header SOAPAction: <x>&"\u0000.'));
    expect(readFault(f.body).text).toBe('System.Web.Services.Protocols.SoapException: Server did not recognize the value of HTTP Header SOAPAction: <x>&"\uFFFD.');
  });

  it('writes MustUnderstand faults, naming the blocks in SOAP 1.2', () => {
    const err = new SoapProtocolError('MustUnderstand', 'System.Web.Services.Protocols.SoapHeaderException', 'SOAP header {urn:tx}Tx was not understood.', {
      notUnderstood: [{ namespace: 'urn:tx', localName: 'Tx' }],
    });
    const f11 = readFault(buildSoapFault('1.1', err).body);
    expect(f11.code).toBe(`{${S11}}MustUnderstand`);
    expect(f11.text).toBe('System.Web.Services.Protocols.SoapHeaderException: SOAP header {urn:tx}Tx was not understood.');
    const f12 = buildSoapFault('1.2', err);
    expect(readFault(f12.body)).toMatchObject({ code: `{${S12}}MustUnderstand`, headerChildren: [`{${S12}}NotUnderstood`] });
    expect(f12.body).toContain('<soap:NotUnderstood qname="q:Tx" xmlns:q="urn:tx" />');
  });

  it('writes VersionMismatch faults with an Upgrade header listing the envelopes we accept', () => {
    const err = new SoapProtocolError('VersionMismatch', 'System.Web.Services.Protocols.SoapException', 'no 1.2 here', { supportedEnvelopes: ['1.1'] });
    const f = buildSoapFault('1.1', err);
    expect(readFault(f.body)).toMatchObject({ code: `{${S11}}VersionMismatch`, headerChildren: [`{${S12}}Upgrade`] });
    expect(f.body).toContain(`<upg:SupportedEnvelope qname="e:Envelope" xmlns:e="${S11}" />`);
  });
});
