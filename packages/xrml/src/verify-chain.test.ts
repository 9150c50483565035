import { isRmsError } from '@openrms/domain';
import { issuerFromCertificate } from './build-slc';
import { readCertificate } from './read-certificate';
import { signXrml } from './sign-xrml';
import { newKeyPair, T0, T1, unsignedSlc, type TestKeyPair } from './test-fixtures';
import type { KeyObject } from 'node:crypto';
import type { CertificateInfo } from './read-certificate';
import { summarizeChain, verifyChain, type ChainMemberCache } from './verify-chain';
import { publicKeysEqual } from './xrml-public-key';

const root = newKeyPair();
const sub = newKeyPair();
const stranger = newKeyPair();
const now = new Date('2025-06-01T00:00:00Z');

const rootSlc = signXrml(unsignedSlc(root.publicKey, root.publicKey), root.signer);
const rootInfo = readCertificate(rootSlc);

function subSlc(opts: { signer?: TestKeyPair; issuerKey?: TestKeyPair; validFrom?: Date; validUntil?: Date } = {}): string {
  const issuer = issuerFromCertificate(rootInfo);
  return signXrml(
    unsignedSlc(sub.publicKey, root.publicKey, {
      descriptorGuid: '{22222222-2222-4333-8444-555555555555}',
      issuer: { ...issuer, publicKey: (opts.issuerKey ?? root).publicKey },
      subject: {
        serverGuid: '{cccccccc-bbbb-4ccc-8ddd-eeeeeeeeeeee}',
        url: 'https://lic.example.test/_wmcs',
        publicKey: sub.publicKey,
        version: '6.0.0.0',
        sku: 'RMS 2.0',
      },
      issueScope: ['CLC', 'PL', 'UL'],
      ...(opts.validFrom ? { validFrom: opts.validFrom } : {}),
      ...(opts.validUntil ? { validUntil: opts.validUntil } : {}),
    }),
    (opts.signer ?? root).signer,
  );
}

function chainError(chain: string[], opts: Partial<Parameters<typeof verifyChain>[1]> = {}): string {
  try {
    verifyChain(chain, { trustedRootKeys: [root.publicKey], now, ...opts });
  } catch (e) {
    if (!isRmsError(e, 'ChainInvalid')) throw e;
    return e.message;
  }
  return 'no error';
}

describe('verifyChain', () => {
  it('accepts a self-signed root SLC alone', () => {
    const [info] = verifyChain([rootSlc], { trustedRootKeys: [stranger.publicKey, root.publicKey], now });
    expect(info?.verified).toBe(true);
    expect(publicKeysEqual(info!.principal.publicKey, root.publicKey)).toBe(true);
  });

  it('accepts sub-SLC + root SLC with the root key trusted, and returns them leaf first', () => {
    const infos = verifyChain([subSlc(), rootSlc], { trustedRootKeys: [root.publicKey], now });
    expect(infos).toHaveLength(2);
    expect(infos.every((i) => i.verified)).toBe(true);
    expect(publicKeysEqual(infos[0]!.principal.publicKey, sub.publicKey)).toBe(true);
    expect(infos[0]!.issueScope).toEqual(['CLC', 'PL', 'UL']);
    expect(infos[0]!.issuer.name).toBe('rms01');
    expect(publicKeysEqual(infos[1]!.principal.publicKey, root.publicKey)).toBe(true);
  });

  it('accepts a sub-SLC alone when the root key is trusted directly', () => {
    expect(verifyChain([subSlc()], { trustedRootKeys: [root.publicKey], now })).toHaveLength(1);
  });

  it('rejects an untrusted root', () => {
    expect(chainError([subSlc(), rootSlc], { trustedRootKeys: [stranger.publicKey] })).toMatch(/certificate 1 .*not a trusted root/);
    expect(chainError([subSlc(), rootSlc], { trustedRootKeys: [] })).toMatch(/not a trusted root/);
  });

  it('rejects a link whose ISSUER key does not match the next principal', () => {
    expect(chainError([subSlc({ issuerKey: stranger }), rootSlc])).toMatch(/certificate 0 .*ISSUER key does not match/);
  });

  it('rejects a link signed by someone other than the issuer it names', () => {
    expect(chainError([subSlc({ signer: stranger }), rootSlc])).toMatch(/certificate 0 .*bad signature/);
  });

  it('rejects a root signed by a key other than the trusted one it names', () => {
    const fakeRoot = signXrml(unsignedSlc(root.publicKey, root.publicKey), stranger.signer);
    expect(chainError([fakeRoot])).toMatch(/certificate 0 .*bad signature/);
  });

  it('rejects a tampered member and names it', () => {
    const tampered = rootSlc.replace('<NAME>rms01</NAME>', '<NAME>rms02</NAME>');
    expect(chainError([subSlc(), tampered])).toMatch(/certificate 1 .*bad signature/);
  });

  it('rejects a chain in the wrong order', () => {
    expect(chainError([rootSlc, subSlc()])).toMatch(/certificate 0 .*ISSUER key does not match/);
  });

  it('rejects expired and not-yet-valid members (half-open [FROM, UNTIL))', () => {
    const chain = [subSlc(), rootSlc];
    expect(chainError(chain, { now: new Date('2030-01-01T00:00:00Z') })).toMatch(/expired/);
    expect(chainError(chain, { now: new Date('2000-01-01T00:00:00Z') })).toMatch(/not yet valid/);
    expect(chainError(chain, { now: T1 })).toMatch(/expired/);
    expect(chainError(chain, { now: new Date(T1.getTime() - 1) })).toBe('no error');
    expect(chainError(chain, { now: T0 })).toBe('no error');
    expect(chainError(chain, { now: new Date(T0.getTime() - 1) })).toMatch(/not yet valid/);
  });

  it('checks validity per member', () => {
    const shortSub = subSlc({ validUntil: new Date('2025-03-01T00:00:00Z') });
    expect(chainError([shortSub, rootSlc])).toMatch(/certificate 0 .*expired/);
  });

  it('rejects an empty chain and one over maxLength', () => {
    expect(chainError([])).toMatch(/empty/);
    expect(chainError([subSlc(), rootSlc], { maxLength: 1 })).toMatch(/more than 1/);
    expect(chainError(Array.from({ length: 11 }, () => rootSlc))).toMatch(/more than 10/);
  });

  it('with a cache: members verified before are taken from it, still checked for time, and only under a trusted key', () => {
    const entries = new Map<string, { info: CertificateInfo; key: KeyObject }>();
    let lookups = 0;
    const cache: ChainMemberCache = {
      lookup: (xml, keys) => {
        const e = entries.get(xml);
        const hit = e && keys.some((k) => publicKeysEqual(k, e.key)) ? e : undefined;
        if (hit) lookups++;
        return hit;
      },
      remember: (xml, key, info) => void entries.set(xml, { info, key }),
    };
    const chain = [subSlc({ validUntil: new Date('2025-07-01T00:00:00Z') }), rootSlc];
    expect(verifyChain(chain, { trustedRootKeys: [root.publicKey], now, cache })).toHaveLength(2);
    expect(entries.size).toBe(2);
    expect(lookups).toBe(0);
    expect(verifyChain(chain, { trustedRootKeys: [root.publicKey], now, cache })).toHaveLength(2);
    expect(lookups).toBe(2);
    // Expired since it was cached: refused all the same.
    expect(chainError(chain, { now: new Date('2025-08-01T00:00:00Z'), cache })).toMatch(/certificate 0 .*expired/);
    // The root key is no longer trusted: the cached root is not found, and the chain fails.
    expect(chainError(chain, { trustedRootKeys: [stranger.publicKey], cache })).toMatch(/certificate 1 .*not a trusted root/);
  });

  it('rejects unparseable members as ChainInvalid naming the index', () => {
    expect(chainError([subSlc(), '<!DOCTYPE x><XrML/>'])).toMatch(/certificate 1 .*DTD/);
    expect(chainError([subSlc(), rootSlc], { maxBytesPerCert: 1000 })).toMatch(/certificate 0 .*exceeds/);
  });
});

describe('summarizeChain', () => {
  it('describes each member for `rmsctl slc show` without verifying', () => {
    const s = summarizeChain([subSlc(), rootSlc]);
    expect(s.length).toBe(2);
    expect(s.members[0]).toMatchObject({
      index: 0,
      descriptorType: 'Server-Licensor-Certificate',
      subjectName: undefined,
      subjectUrl: 'https://lic.example.test/_wmcs',
      issuerName: 'rms01',
      selfSigned: false,
      validFrom: T0,
      validUntil: T1,
      issueScope: ['CLC', 'PL', 'UL'],
    });
    expect(s.members[1]).toMatchObject({ subjectName: 'rms01', selfSigned: true });
    expect(s.members[0]!.issuerKeyFingerprint).toBe(s.members[1]!.subjectKeyFingerprint);
  });
});
