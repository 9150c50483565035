import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './databases';

/**
 * xmlsec1 (Debian's) as an independent verifier of our XML-DSig signatures.
 * `--enabled-key-data key-name` stops it from taking a key out of a KeyInfo in the document,
 * which it otherwise prefers over --pubkey-pem.
 */
export function xmlsecVerify(doc: string, pubPem: string): { ok: boolean; output: string } {
  const dir = tempDir('xmlsec');
  writeFileSync(path.join(dir, 'doc.xml'), doc);
  writeFileSync(path.join(dir, 'pub.pem'), pubPem);
  try {
    const out = execFileSync('xmlsec1', ['--verify', '--enabled-key-data', 'key-name', '--pubkey-pem', path.join(dir, 'pub.pem'), path.join(dir, 'doc.xml')], { stdio: 'pipe' });
    return { ok: true, output: out.toString() };
  } catch (e) {
    return { ok: false, output: String((e as { stderr?: Buffer }).stderr) };
  }
}

export const xmlsecVerifies = (doc: string, pubPem: string): boolean => xmlsecVerify(doc, pubPem).ok;
