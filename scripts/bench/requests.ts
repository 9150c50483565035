/**
 * The two requests the benchmark repeats, built once from what the real client left behind (bob's
 * state folder and the protected file's header), and checked once before any load.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buildRequestEnvelope, CLIENT_SERVICES, parseProtectedFile, parseResponseEnvelope, STATE_FILES, VERSION_1_0 } from '@openrms/client';
import { certificateNodes, childElement, XmlWriter } from '@openrms/soap';
import { readRac, readUseLicense, verifyChain, verifyXrmlSignature, type XrmlDocument } from '@openrms/xrml';

export interface BenchRequest {
  name: 'AcquireLicense' | 'Certify';
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface UserMaterial {
  /** bob's RAC chain as the client stored it (RAC, then the SLC chain). */
  racChain: string[];
  /** bob's self-issued SPC. */
  spc: string;
  /** The server root key the client trusted on first use. */
  rootKey: KeyObject;
}

/** What bob's state folder holds that the requests need. */
export function readUserMaterial(stateFolder: string): UserMaterial {
  const racChain = JSON.parse(readFileSync(path.join(stateFolder, STATE_FILES.racChain), 'utf8')) as string[];
  const spc = readFileSync(path.join(stateFolder, STATE_FILES.spc), 'utf8');
  const trust = JSON.parse(readFileSync(path.join(stateFolder, STATE_FILES.trust), 'utf8')) as { rootKeyPem: string };
  return { racChain, spc, rootKey: createPublicKey(trust.rootKeyPem) };
}

/** The PL chain (PL, CLC, SLC chain) from a protected file's header. */
export function plChainOf(file: Buffer): string[] {
  return parseProtectedFile(file).header.plChain;
}

function headersFor(service: keyof typeof CLIENT_SERVICES, operation: string, user: { name: string; password: string }): Record<string, string> {
  return {
    'content-type': 'text/xml; charset=utf-8',
    soapaction: `"${CLIENT_SERVICES[service].ns}/${operation}"`,
    authorization: `Basic ${Buffer.from(`${user.name}:${user.password}`, 'utf8').toString('base64')}`,
  };
}

/** One AcquireLicense item, VersionData 1.0.0.0: bob's RAC (the leaf only; the server reads only the leaf) and the PL chain. */
export function acquireLicenseRequest(wmcsBase: string, user: { name: string; password: string }, rac: string, plChain: string[]): BenchRequest {
  const svc = CLIENT_SERVICES.license;
  const body = new XmlWriter().element('RequestParams', (r) =>
    r.element('AcquireLicenseParams', (p) => p.certificateArray('LicenseeCerts', [rac]).certificateArray('IssuanceLicense', plChain).empty('ApplicationData')),
  );
  return {
    name: 'AcquireLicense',
    url: `${wmcsBase}${svc.path}`,
    headers: headersFor('license', 'AcquireLicense', user),
    body: buildRequestEnvelope(svc.ns, 'AcquireLicense', body, VERSION_1_0),
  };
}

/** Certify with bob's SPC, Persistent=true: what a client sends to get (or renew) its RAC. */
export function certifyRequest(wmcsBase: string, user: { name: string; password: string }, spc: string): BenchRequest {
  const svc = CLIENT_SERVICES.certification;
  const body = new XmlWriter().element('requestParams', (p) => p.certificateArray('MachineCertificateChain', [spc]).leaf('Persistent', true));
  return {
    name: 'Certify',
    url: `${wmcsBase}${svc.path}`,
    headers: headersFor('certification', 'Certify', user),
    body: buildRequestEnvelope(svc.ns, 'Certify', body, VERSION_1_0),
  };
}

export interface CheckedAnswer {
  status: number;
  responseBytes: number;
  /** The chain returned, leaf first. */
  chain: string[];
  /** The leaf, verified with the key of the certificate after it, which verifies down to the root key. */
  leaf: XrmlDocument;
}

/**
 * Sends the request once with fetch and insists on HTTP 200 and a certificate chain that verifies
 * down to the trusted root key, with the expected kind of leaf for bob: a UL, or a RAC.
 */
export async function checkOnce(req: BenchRequest, rootKey: KeyObject, expectEmail: string): Promise<CheckedAnswer> {
  const res = await fetch(req.url, { method: 'POST', headers: req.headers, body: req.body, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${req.name}: HTTP ${res.status}: ${text.slice(0, 500)}`);
  const svc = req.name === 'AcquireLicense' ? CLIENT_SERVICES.license : CLIENT_SERVICES.certification;
  const op = parseResponseEnvelope(text, { operation: req.name, ns: svc.ns, httpStatus: res.status, url: req.url });
  const result = childElement(op, `${req.name}Result`);
  const holder = req.name === 'AcquireLicense' ? (result ? childElement(result, 'AcquireLicenseResponse') : undefined) : result;
  const chain = certificateNodes(holder ? childElement(holder, 'CertificateChain') : undefined);
  if (chain.length < 2) throw new Error(`${req.name}: the answer holds no certificate chain: ${text.slice(0, 500)}`);
  const now = new Date();
  const issuers = verifyChain(chain.slice(1), { trustedRootKeys: [rootKey], now });
  const leaf = verifyXrmlSignature(chain[0]!, issuers[0]!.principal.publicKey);
  if (req.name === 'AcquireLicense') {
    const ul = readUseLicense(leaf);
    if (!ul.rights.some((r) => r.right === 'VIEW')) throw new Error(`AcquireLicense: the use licence grants ${ul.rights.map((r) => r.right).join(', ')}, not VIEW`);
  } else {
    const rac = readRac(leaf);
    if (rac.identity.email.toLowerCase() !== expectEmail.toLowerCase()) throw new Error(`Certify: the RAC is for ${rac.identity.email}, not ${expectEmail}`);
  }
  return { status: res.status, responseBytes: Buffer.byteLength(text), chain, leaf };
}
