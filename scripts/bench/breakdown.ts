/**
 * What one AcquireLicense and one Certify cost in crypto and XML work (CPU time), measured step by
 * step in this process on the very documents the load used: an estimate of where the server's time goes,
 * to set beside the server CPU per request measured under load. Keys the server holds privately
 * are stood in for by fresh RSA-2048 keys of the same size (the cost does not depend on which key).
 */
import { constants, createPrivateKey, generateKeyPairSync, privateDecrypt, publicEncrypt, sign, type KeyObject } from 'node:crypto';
import path from 'node:path';
import { certificateNodes, childElement, loadService, parseSoapRequest, SERVICE_WSDL_FILES, WSDL_DIR } from '@openrms/soap';
import { signXrml, verifyChain, verifyXrmlSignature, readSpc, parseXrml } from '@openrms/xrml';
import type { BenchRequest } from './requests';

export interface StepCost {
  step: string;
  /** CPU milliseconds of one call. */
  ms: number;
  /** How many times one request does it. */
  times: number;
}

export interface Breakdown {
  acquireLicense: StepCost[];
  certify: StepCost[];
}

/**
 * Runs `fn` for about `ms` of wall time after a short warm-up; the mean CPU milliseconds (user +
 * system of this process) per call. CPU time rather than wall time, so other work on a shared
 * machine lengthens the measurement but not the figure.
 */
function timeIt(fn: () => unknown, ms = 300): number {
  for (let i = 0; i < 5; i++) fn();
  let n = 0;
  const cpu0 = process.cpuUsage();
  const end = process.hrtime.bigint() + BigInt(ms) * 1_000_000n;
  do {
    fn();
    n++;
  } while (process.hrtime.bigint() < end);
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / 1000 / n;
}

/** The document without its enveloped ds:Signature (signXrml appends it as the last child of XrML). */
function unsigned(xml: string): string {
  const out = xml.replace(/<ds:Signature\b[\s\S]*<\/ds:Signature>(?=\s*<\/XrML>\s*$)/, '');
  if (out === xml) throw new Error('no trailing ds:Signature to strip');
  return out;
}

function signerOf(key: KeyObject) {
  return { sign: (data: Buffer) => sign('sha256', data, key) };
}

export interface BreakdownInput {
  rootKey: KeyObject;
  /** bob's RAC chain (RAC, SLC chain). */
  racChain: string[];
  /** PL, CLC, SLC chain. */
  plChain: string[];
  /** A UL the server issued under load-test conditions (for its size and shape). */
  useLicense: string;
  /** bob's SPC (self-signed). */
  spc: string;
  /** A RAC the server issued for the Certify request. */
  certifiedRac: string;
  /** The two requests the load sent. */
  acquireLicenseRequest: BenchRequest;
  certifyRequest: BenchRequest;
  /** How long each step is timed. */
  msPerStep?: number;
}

/** The server's own SOAP front: size check, UTF-8, secure parse, dispatch, VersionData; then the chains out of the body. */
function soapParser(req: BenchRequest, wsdl: keyof typeof SERVICE_WSDL_FILES, path_: string[], arrays: string[]): () => unknown {
  const service = loadService(path.join(WSDL_DIR, SERVICE_WSDL_FILES[wsdl]));
  const input = { body: Buffer.from(req.body, 'utf8'), contentType: req.headers['content-type'], soapActionHeader: req.headers.soapaction };
  return () => {
    const parsed = parseSoapRequest(input, service, { maxBytes: 10 * 1024 * 1024 });
    let el: Element | undefined = parsed.bodyElement;
    for (const name of path_) el = el ? childElement(el, name) : undefined;
    if (!el) throw new Error(`${req.name}: ${path_.join('/')} not found`);
    const chains = arrays.map((a) => certificateNodes(childElement(el!, a)));
    if (chains.some((c) => c.length === 0)) throw new Error(`${req.name}: an empty certificate array`);
    return chains;
  };
}

export function measureBreakdown(i: BreakdownInput): Breakdown {
  const ms = i.msPerStep ?? 300;
  const now = new Date();
  const slcKey = verifyChain(i.racChain.slice(1), { trustedRootKeys: [i.rootKey], now })[0]!.principal.publicKey;
  const plIssuers = verifyChain(i.plChain.slice(1), { trustedRootKeys: [i.rootKey], now });
  const clcKey = plIssuers[0]!.principal.publicKey;
  const rac = i.racChain[0]!;
  const clc = i.plChain[1]!;
  const pl = i.plChain[0]!;
  const spcKey = readSpc(parseXrml(i.spc)).publicKey;

  const { privateKey: standIn, publicKey: standInPub } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const oaep = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' } as const;
  const sealedKey = publicEncrypt({ key: standInPub, ...oaep }, Buffer.alloc(32, 1));
  const unsignedUl = unsigned(i.useLicense);
  const unsignedRac = unsigned(i.certifiedRac);
  const userKeyDer = standIn.export({ format: 'der', type: 'pkcs8' });

  const parseAcquire = soapParser(i.acquireLicenseRequest, 'license', ['RequestParams', 'AcquireLicenseParams'], ['LicenseeCerts', 'IssuanceLicense']);
  const parseCertify = soapParser(i.certifyRequest, 'certification', ['requestParams'], ['MachineCertificateChain']);

  const acquireLicense: StepCost[] = [
    { step: 'SOAP request: secure parse, dispatch, extract the chains', ms: timeIt(parseAcquire, ms), times: 1 },
    { step: 'parse + verify RAC signature (XML-DSig)', ms: timeIt(() => verifyXrmlSignature(rac, slcKey), ms), times: 1 },
    { step: 'parse + verify CLC signature (XML-DSig)', ms: timeIt(() => verifyXrmlSignature(clc, slcKey), ms), times: 1 },
    { step: 'parse + verify PL signature (XML-DSig)', ms: timeIt(() => verifyXrmlSignature(pl, clcKey), ms), times: 1 },
    { step: 'RSA-OAEP decrypt (unseal the content key)', ms: timeIt(() => privateDecrypt({ key: standIn, ...oaep }, sealedKey), ms), times: 1 },
    { step: 'RSA-OAEP encrypt (seal the content key to the RAC), per right', ms: timeIt(() => publicEncrypt({ key: standInPub, ...oaep }, Buffer.alloc(32, 2)), ms), times: 1 },
    { step: 'sign the UL: c14n + digest + RSA sign (XML-DSig)', ms: timeIt(() => signXrml(unsignedUl, signerOf(standIn)), ms), times: 1 },
  ];
  const certify: StepCost[] = [
    { step: 'SOAP request: secure parse, dispatch, extract the chain', ms: timeIt(parseCertify, ms), times: 1 },
    { step: 'parse + verify SPC signature (XML-DSig)', ms: timeIt(() => verifyXrmlSignature(i.spc, spcKey), ms), times: 1 },
    {
      step: 'unseal the user key (RSA-OAEP decrypt + PKCS#8 parse)',
      ms: timeIt(() => {
        privateDecrypt({ key: standIn, ...oaep }, sealedKey);
        createPrivateKey({ key: userKeyDer, format: 'der', type: 'pkcs8' });
      }, ms),
      times: 1,
    },
    {
      step: 'seal the user key to the SPC (PKCS#8 export + RSA-OAEP encrypt)',
      ms: timeIt(() => {
        standIn.export({ format: 'der', type: 'pkcs8' });
        publicEncrypt({ key: spcKey, ...oaep }, Buffer.alloc(32, 3));
      }, ms),
      times: 1,
    },
    { step: 'sign the RAC: c14n + digest + RSA sign (XML-DSig)', ms: timeIt(() => signXrml(unsignedRac, signerOf(standIn)), ms), times: 1 },
  ];
  return { acquireLicense, certify };
}

export function totalMs(steps: StepCost[]): number {
  return steps.reduce((a, s) => a + s.ms * s.times, 0);
}
