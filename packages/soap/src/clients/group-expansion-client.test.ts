/**
 * The group expansion client against the real endpoint on a real HTTP server (127.0.0.1), plus
 * python3-zeep as an independent WSDL client of the same endpoint, and a few misbehaving servers.
 */
import { execFile } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { isRmsError, RmsError, SERVICE_PATHS } from '@openrms/domain';
import type { SoapEndpoint } from '../create-soap-endpoint';
import { WSDL_DIR } from '../load-service';
import { NS } from '../namespaces';
import type { CallerContext } from '../services/caller-context';
import { createGroupExpansionEndpoint, GROUP_EXPANSION_LIMITS, GROUP_EXPANSION_NS, type IsPrincipalMemberOfRequest } from '../services/group-expansion-service';
import { GroupExpansionFaultError, groupExpansionUrl, isPrincipalMemberOf } from './group-expansion-client';

const CREDS = { name: 'CONTOSO\\rms-svc', password: 'p@ss:word' };
// Who is in which group, as the responding forest's directory would say.
const MEMBERS: Record<string, string[]> = { 'sales@contoso.com': ['alice@contoso.com'], 'eng@contoso.com': ['bob@contoso.com'] };

let httpServer: http.Server;
let root: string;
let requests = 0;
const seen: Array<[CallerContext, IsPrincipalMemberOfRequest]> = [];
/** Canned raw answers for the misbehaving-server cases, by path. */
const canned: Record<string, (res: http.ServerResponse) => void> = {};

beforeAll(async () => {
  const endpoint: SoapEndpoint<CallerContext> = createGroupExpansionEndpoint<CallerContext>(
    {
      async isPrincipalMemberOf(ctx, req) {
        seen.push([ctx, req]);
        if (req.principalName === 'directory-down@contoso.com') throw new RmsError('AdEntrySearchFailed', 'the directory is unreachable');
        if (req.principalName === 'denied@contoso.com') throw new RmsError('UnauthorizedAccess', 'not for you');
        return req.targetGroups.some((g) => MEMBERS[g.toLowerCase()]?.includes(req.principalName!.toLowerCase()));
      },
    },
    { maxBytes: 256 * 1024 },
  );
  const expected = `Basic ${Buffer.from(`${CREDS.name}:${CREDS.password}`).toString('base64')}`;
  httpServer = http.createServer((req, res) => {
    requests++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const pathname = new URL(req.url ?? '/', 'http://x').pathname;
      const cannedAnswer = canned[pathname];
      if (cannedAnswer) return cannedAnswer(res);
      // IIS paths are case-insensitive.
      if (pathname.toLowerCase() !== `/_wmcs${SERVICE_PATHS.groupExpansion}`.toLowerCase()) return res.writeHead(404).end();
      if (req.headers.authorization !== expected) return res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="rms"' }).end();
      const ctx: CallerContext = { requestId: `r${requests}`, principal: { id: 'p-svc', name: CREDS.name, email: 'rms-svc@contoso.com' } };
      const input = { body: Buffer.concat(chunks), contentType: req.headers['content-type'], soapActionHeader: req.headers.soapaction as string | undefined };
      void endpoint(input, ctx).then((out) => res.writeHead(out.status, { 'Content-Type': out.contentType }).end(out.body));
    });
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  root = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => httpServer.close(() => resolve())));

beforeEach(() => {
  seen.length = 0;
});

const ask = (principalName: string, targetGroups: string[], crossForestCallsSoFar = 0, target = `${root}/_wmcs`) =>
  isPrincipalMemberOf(target, CREDS, { principalName, targetGroups, crossForestCallsSoFar }, { timeoutMs: 10_000 });

async function rejection(p: Promise<unknown>): Promise<RmsError> {
  try {
    await p;
  } catch (e) {
    if (isRmsError(e)) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

describe('isPrincipalMemberOf (client) against GroupExpansion.asmx over HTTP', () => {
  it('answers true and false, sending principalCrossForest = principalName and the count as given', async () => {
    await expect(ask('alice@contoso.com', ['eng@contoso.com', 'sales@contoso.com'], 2)).resolves.toBe(true);
    await expect(ask('alice@contoso.com', ['eng@contoso.com'])).resolves.toBe(false);
    await expect(ask('nobody@contoso.com', [])).resolves.toBe(false);
    expect(seen.map(([ctx, req]) => [ctx.principal.name, req])).toEqual([
      [CREDS.name, { principalName: 'alice@contoso.com', principalCrossForest: 'alice@contoso.com', targetGroups: ['eng@contoso.com', 'sales@contoso.com'], crossForestCallsSoFar: 2 }],
      [CREDS.name, { principalName: 'alice@contoso.com', principalCrossForest: 'alice@contoso.com', targetGroups: ['eng@contoso.com'], crossForestCallsSoFar: 0 }],
      [CREDS.name, { principalName: 'nobody@contoso.com', principalCrossForest: 'nobody@contoso.com', targetGroups: [], crossForestCallsSoFar: 0 }],
    ]);
  });

  it('escapes what it sends', async () => {
    await expect(ask('a&b<c>@contoso.com', ['x&y@contoso.com'])).resolves.toBe(false);
    expect(seen[0]![1]).toMatchObject({ principalName: 'a&b<c>@contoso.com', targetGroups: ['x&y@contoso.com'] });
  });

  it('takes a _wmcs base URL (with or without a slash) or the full endpoint URL that FindServiceLocations returns', async () => {
    await expect(ask('bob@contoso.com', ['eng@contoso.com'], 0, `${root}/_wmcs/`)).resolves.toBe(true);
    await expect(ask('bob@contoso.com', ['eng@contoso.com'], 0, `${root}/_wmcs/groupexpansion/groupexpansion.asmx`)).resolves.toBe(true);
    expect(groupExpansionUrl('https://rms.contoso.com/_wmcs')).toBe('https://rms.contoso.com/_wmcs/groupexpansion/GroupExpansion.asmx');
    expect(groupExpansionUrl('https://rms.contoso.com/_wmcs/GroupExpansion/GroupExpansion.asmx#x')).toBe('https://rms.contoso.com/_wmcs/GroupExpansion/GroupExpansion.asmx');
    for (const bad of ['ftp://rms/_wmcs', 'not a url', 'https://u:p@rms/_wmcs']) {
      expect(() => groupExpansionUrl(bad)).toThrow(RmsError);
    }
  });

  it('surfaces the other side\'s fault as an RmsError carrying the fault name', async () => {
    const e = await rejection(ask('directory-down@contoso.com', ['sales@contoso.com']));
    expect(e).toBeInstanceOf(GroupExpansionFaultError);
    expect(e.code).toBe('Unavailable');
    expect((e as GroupExpansionFaultError).faultName).toBe('Microsoft.DigitalRightsManagement.Utilities.ADEntrySearchFailedException');
    expect(e.message).toContain('ADEntrySearchFailedException: the directory is unreachable');

    const denied = await rejection(ask('denied@contoso.com', ['sales@contoso.com']));
    expect(denied.code).toBe('AccessDenied');
    expect((denied as GroupExpansionFaultError).faultName).toBe('System.UnauthorizedAccessException');
  });

  it('reports refused credentials as AccessDenied', async () => {
    const e = await rejection(isPrincipalMemberOf(`${root}/_wmcs`, { ...CREDS, password: 'wrong' }, { principalName: 'alice@contoso.com', targetGroups: ['sales@contoso.com'], crossForestCallsSoFar: 0 }));
    expect(e.code).toBe('AccessDenied');
    expect(e.message).not.toContain('wrong');
  });

  it('checks its own arguments before sending anything', async () => {
    const before = requests;
    const tooMany = Array.from({ length: GROUP_EXPANSION_LIMITS.maxTargetGroups + 1 }, (_, i) => `g${i}@contoso.com`);
    for (const p of [
      ask('', ['sales@contoso.com']),
      ask('alice@contoso.com', [' ']),
      ask('alice@contoso.com', tooMany),
      ask('alice@contoso.com', ['sales@contoso.com'], GROUP_EXPANSION_LIMITS.maxCrossForestCalls),
      ask('alice@contoso.com', ['sales@contoso.com'], -1),
      ask('alice@contoso.com', ['sales@contoso.com'], 1.5),
      ask('x'.repeat(GROUP_EXPANSION_LIMITS.maxNameLength + 1), ['sales@contoso.com']),
    ]) {
      expect((await rejection(p)).code).toBe('Argument');
    }
    expect(requests).toBe(before);
  });

  describe('a misbehaving server', () => {
    const soap11 = (inner: string) =>
      `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="${NS.soap11Envelope}"><soap:Body>${inner}</soap:Body></soap:Envelope>`;
    const answering = (result: string) => soap11(`<IsPrincipalMemberOfResponse xmlns="${GROUP_EXPANSION_NS}"><IsPrincipalMemberOfResult>${result}</IsPrincipalMemberOfResult></IsPrincipalMemberOfResponse>`);
    // Every row has all four members: jest passes a `done` callback to a test function with more parameters than the row.
    const cases: Array<[string, (res: http.ServerResponse) => void, RegExp, string]> = [
      ['a result that is not xs:boolean', (res) => res.writeHead(200, { 'Content-Type': 'text/xml' }).end(answering('TRUE')), /without a boolean result/, ''],
      ['an empty result', (res) => res.writeHead(200, { 'Content-Type': 'text/xml' }).end(answering('')), /without a boolean result/, ''],
      ['the result in the wrong namespace', (res) => res.writeHead(200, { 'Content-Type': 'text/xml' }).end(soap11('<IsPrincipalMemberOfResponse><IsPrincipalMemberOfResult>true</IsPrincipalMemberOfResult></IsPrincipalMemberOfResponse>')), /without a boolean result/, ''],
      ['an HTML error page', (res) => res.writeHead(502, { 'Content-Type': 'text/html' }).end('<html><body>Bad gateway</body></html>'), /without a SOAP envelope/, ''],
      ['a DTD in the answer', (res) => res.writeHead(200, { 'Content-Type': 'text/xml' }).end(`<!DOCTYPE x [<!ENTITY e "true">]>${answering('&e;')}`), /without a SOAP envelope/, ''],
      ['a huge answer', (res) => res.writeHead(200, { 'Content-Type': 'text/xml' }).end(answering(`true${' '.repeat(200 * 1024)}`)), /bytes/, ''],
      ['a huge chunked answer', (res) => {
        res.writeHead(200, { 'Content-Type': 'text/xml' });
        for (let i = 0; i < 100; i++) res.write(' '.repeat(4096));
        res.end(answering('true'));
      }, /more than/, ''],
      ['a redirect', (res) => res.writeHead(302, { Location: 'http://127.0.0.1:1/elsewhere' }).end(), /cannot reach/, ''],
      [
        'a SOAP 1.2 fault',
        (res) => res.writeHead(500, { 'Content-Type': 'application/soap+xml' }).end(
          `<e:Envelope xmlns:e="${NS.soap12Envelope}"><e:Body><e:Fault><e:Code><e:Value>e:Receiver</e:Value></e:Code><e:Reason><e:Text xml:lang="en">System.ArgumentException: nope</e:Text></e:Reason></e:Fault></e:Body></e:Envelope>`,
        ),
        /refused IsPrincipalMemberOf: System\.ArgumentException: nope/,
        'System.ArgumentException',
      ],
    ];
    it.each(cases)('is not believed when it sends %s', async (_what, answer, message, faultName) => {
      const p = `/bad${Object.keys(canned).length}/_wmcs${SERVICE_PATHS.groupExpansion}`;
      canned[p] = answer;
      const e = await rejection(ask('alice@contoso.com', ['sales@contoso.com'], 0, `${root}${p}`));
      expect(e.code).toBe('Unavailable');
      expect(e.message).toMatch(message);
      if (faultName) expect((e as GroupExpansionFaultError).faultName).toBe(faultName);
    });

    it('and an unreachable one is Unavailable', async () => {
      const e = await rejection(ask('alice@contoso.com', ['sales@contoso.com'], 0, 'http://127.0.0.1:1/_wmcs'));
      expect(e.code).toBe('Unavailable');
    });
  });
});

// An independent WSDL client: zeep builds the requests from group-expansion.wsdl, on both bindings.
const ZEEP_CLIENT = `
import sys, json, zeep, requests
from zeep.transports import Transport
from zeep.helpers import serialize_object
endpoint, wsdl, user, password = sys.argv[1:5]
session = requests.Session()
session.auth = (user, password)
N = '{http://microsoft.com/DRM/GroupExpansionWebService}'
c = zeep.Client(wsdl, transport=Transport(session=session))
VD = c.get_element(N + 'VersionData')
out = {}
for port in ['GroupExpansionWebServiceSoap', 'GroupExpansionWebServiceSoap12']:
    svc = c.create_service(N + port, endpoint)
    for name, principal in [('member', 'alice@contoso.com'), ('not', 'bob@contoso.com')]:
        r = svc.IsPrincipalMemberOf(principalName=principal, principalCrossForest=principal,
                                    targetGroups={'string': ['sales@contoso.com']}, crossForestCallsSoFar=1,
                                    _soapheaders=[VD(MinimumVersion='1.0.0.0', MaximumVersion='1.0.0.0')])
        out[port + ' ' + name] = serialize_object(r)
    try:
        svc.IsPrincipalMemberOf(principalName='alice@contoso.com', targetGroups={'string': ['sales@contoso.com']}, crossForestCallsSoFar=10,
                                _soapheaders=[VD(MinimumVersion='1.0.0.0', MaximumVersion='1.0.0.0')])
    except zeep.exceptions.Fault as f:
        out[port + ' fault'] = f.message
print(json.dumps(out))
`;

describe('interoperability with python3-zeep', () => {
  it('zeep calls IsPrincipalMemberOf on both bindings and reads the boolean, the header and the fault', async () => {
    // Async on purpose: the HTTP server runs on this event loop.
    const { stdout } = await promisify(execFile)(
      '/usr/bin/python3',
      ['-W', 'ignore', '-c', ZEEP_CLIENT, `${root}/_wmcs${SERVICE_PATHS.groupExpansion}`, path.join(WSDL_DIR, 'group-expansion.wsdl'), CREDS.name, CREDS.password],
      { timeout: 60_000 },
    );
    const r = JSON.parse(stdout) as Record<string, any>;
    for (const port of ['GroupExpansionWebServiceSoap', 'GroupExpansionWebServiceSoap12']) {
      expect(r[`${port} member`].body).toEqual({ IsPrincipalMemberOfResult: true });
      expect(r[`${port} member`].header.VersionData).toMatchObject({ MinimumVersion: '1.0.0.0' });
      expect(r[`${port} not`].body).toEqual({ IsPrincipalMemberOfResult: false });
      expect(r[`${port} fault`]).toMatch(/^System\.ArgumentException: crossForestCallsSoFar 10 /);
    }
    expect(seen.map(([, req]) => req.principalName)).toEqual(['alice@contoso.com', 'bob@contoso.com', 'alice@contoso.com', 'bob@contoso.com']);
  });
});
