import type { ServerInfoRequest, ServiceLocationAnswer } from '@openrms/domain';
import { createSoapEndpoint } from '../create-soap-endpoint';
import { envelope, httpRequest, NS_SERVER, readFault, service, versionData } from '../test-support';
import { SERVER_SERVICE_LIMITS, serverServiceHandlers, type ServerServicePort } from './server-service';

const SLC = '<XrML version="1.2"><BODY type="LICENSE" version="3.0"><NAME>slc</NAME></BODY></XrML>';

/** A port that answers like a cluster would and counts what reached it. */
function port(): ServerServicePort & { seen: ServerInfoRequest[][] } {
  const seen: ServerInfoRequest[][] = [];
  return {
    seen,
    getLicensorCertificate: () => [SLC],
    getServerInfo: (requests) => {
      seen.push(requests);
      return requests.map((r) => ({ type: 'ServerLicensorCertificate' as const, additionalInfo: r.additionalInfo ?? '', chain: [SLC, SLC] }));
    },
    findServiceLocations: (types): ServiceLocationAnswer[] => types.map((t) => ({ type: t, url: 'http://rms/_wmcs/licensing' })),
  };
}

const server = service('server.wsdl');

describe('Server service: request sizes are bounded', () => {
  const p = port();
  const endpoint = createSoapEndpoint<{ user: string }>(server, serverServiceHandlers(p), { maxBytes: 4 << 20 });
  const serverInfo = (n: number) =>
    `<GetServerInfo xmlns="${NS_SERVER}"><requests>${'<ServerInfoRequest><Type>ServerLicensorCertificate</Type></ServerInfoRequest>'.repeat(n)}</requests></GetServerInfo>`;
  const locations = (n: number) =>
    `<FindServiceLocationsForUser xmlns="${NS_SERVER}"><ServiceNames>${'<ServiceLocationRequest><Type>LicensingService</Type></ServiceLocationRequest>'.repeat(n)}</ServiceNames></FindServiceLocationsForUser>`;

  it('answers GetServerInfo up to the cap and refuses more with ArgumentException before asking the cluster', async () => {
    const ok = await endpoint(httpRequest('1.1', envelope('1.1', serverInfo(SERVER_SERVICE_LIMITS.serverInfoRequests)), `${NS_SERVER}/GetServerInfo`), { user: 'u' });
    expect(ok.status).toBe(200);
    const before = p.seen.length;
    const out = await endpoint(httpRequest('1.1', envelope('1.1', serverInfo(13_000)), `${NS_SERVER}/GetServerInfo`), { user: 'u' });
    expect(out.status).toBe(500);
    expect(readFault(out.body).text).toMatch(/^System\.ArgumentException: at most 32 ServerInfoRequest items/);
    expect(p.seen.length).toBe(before);
    // The refusal is small, whatever was asked.
    expect(out.body.length).toBeLessThan(2048);
  });

  it('refuses more ServiceLocationRequest items than the cap', async () => {
    const vd = versionData(NS_SERVER, '1.0.0.0', '1.0.0.0');
    const action = `${NS_SERVER}/FindServiceLocationsForUser`;
    expect((await endpoint(httpRequest('1.1', envelope('1.1', locations(SERVER_SERVICE_LIMITS.serviceLocationRequests), vd), action), { user: 'u' })).status).toBe(200);
    const out = await endpoint(httpRequest('1.1', envelope('1.1', locations(SERVER_SERVICE_LIMITS.serviceLocationRequests + 1), vd), action), { user: 'u' });
    expect(out.status).toBe(500);
    expect(readFault(out.body).text).toMatch(/^System\.ArgumentException: at most 32 ServiceLocationRequest items/);
  });
});
