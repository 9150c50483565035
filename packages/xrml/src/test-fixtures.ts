/** Shared by this package's tests only (not exported from index): real keys, real signatures. */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRmsError } from '@openrms/domain';
import { buildSlc, issuerFromCertificate, type SlcFields, type XrmlIssuerFields } from './build-slc';
import type { XrmlDocument } from './parse-xrml';
import { readCertificate, type CertificateInfo } from './read-certificate';
import { signXrml, type Signer } from './sign-xrml';
import { verifyXrmlSignature } from './verify-xrml-signature';

export interface TestKeyPair {
  publicKey: KeyObject;
  privateKey: KeyObject;
  signer: Signer;
}

export function newKeyPair(bits = 2048): TestKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 65537 });
  return { publicKey, privateKey, signer: { sign: (data) => sign('sha256', data, privateKey) } };
}

export const T0 = new Date('2025-01-01T00:00:00Z');
export const T1 = new Date('2026-01-01T00:00:00Z');

export function slcFields(subject: KeyObject, issuer: KeyObject, overrides: Partial<SlcFields> = {}): SlcFields {
  return {
    descriptorGuid: '{11111111-2222-4333-8444-555555555555}',
    issuedTime: T0,
    validFrom: T0,
    validUntil: T1,
    issuer: {
      id: '{aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee}',
      name: 'OpenRMS Server Self Enrollment Service',
      publicKey: issuer,
      cpsUrl: 'https://rms.example.test/certification',
    },
    subject: {
      serverGuid: '{aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee}',
      name: 'rms01',
      url: 'https://rms.example.test/_wmcs',
      publicKey: subject,
      version: '6.0.0.0',
      sku: 'RMS 2.0',
    },
    issueScope: ['RAC', 'CLC', 'PL', 'UL', 'SLC'],
    ...overrides,
  };
}

export function unsignedSlc(subject: KeyObject, issuer: KeyObject, overrides: Partial<SlcFields> = {}): string {
  return buildSlc(slcFields(subject, issuer, overrides));
}

/**
 * Runs `xmlsec1 --verify --pubkey-pem pub.pem doc.xml` and returns its exit status. By default it
 * adds `--enabled-key-data key-name`: without it xmlsec1 1.2 prefers a KeyValue found in the
 * document's KeyInfo over the --pubkey-pem key, so a forger's self-signed document passes.
 */
export function xmlsecVerify(
  xml: string,
  publicKey: KeyObject,
  opts: { plain?: boolean } = {},
): { status: number; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'xrml-xmlsec-'));
  try {
    const pem = join(dir, 'pub.pem');
    const doc = join(dir, 'doc.xml');
    writeFileSync(pem, publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(doc, xml);
    try {
      const restrict = opts.plain ? [] : ['--enabled-key-data', 'key-name'];
      const out = execFileSync('/usr/bin/xmlsec1', ['--verify', ...restrict, '--pubkey-pem', pem, doc], { stdio: 'pipe' });
      return { status: 0, output: out.toString() };
    } catch (e) {
      const err = e as { status?: number; stderr?: Buffer };
      return { status: err.status ?? -1, output: err.stderr?.toString() ?? '' };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A self-signed SLC for `server`, verified and read: what the issuance layer holds at run time. */
export function verifiedSlc(server: TestKeyPair): { xml: string; info: CertificateInfo; issuer: XrmlIssuerFields } {
  const xml = signXrml(unsignedSlc(server.publicKey, server.publicKey), server.signer);
  const info = readCertificate(verifyXrmlSignature(xml, server.publicKey));
  return { xml, info, issuer: issuerFromCertificate(info) };
}

/** Signs with `signer`, then verifies with `publicKey`, as a relying party would. */
export function signAndVerify(unsigned: string, signer: TestKeyPair, publicKey: KeyObject = signer.publicKey): { signed: string; doc: XrmlDocument } {
  const signed = signXrml(unsigned, signer.signer);
  return { signed, doc: verifyXrmlSignature(signed, publicKey) };
}

/** The local names of an element's element children, in order. */
export function childNames(el: Element): string[] {
  const out: string[] = [];
  for (let n = el.firstChild; n; n = n.nextSibling) if (n.nodeType === 1) out.push((n as Element).nodeName);
  return out;
}

export function blob(bytes: number, fill = 0x5a): Buffer {
  return Buffer.alloc(bytes, fill);
}

/** The RmsError code a call throws, for table-style hostile-input tests. */
export function errorCode(fn: () => unknown): string {
  try {
    fn();
    return 'no error';
  } catch (e) {
    return isRmsError(e) ? e.code : `not an RmsError: ${String(e)}`;
  }
}
