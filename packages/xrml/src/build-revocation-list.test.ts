import { buildRevocationList, type RevocationEntry } from './build-revocation-list';
import { parseXrml } from './parse-xrml';
import { readCertificate } from './read-certificate';
import { readRevocationList } from './read-revocation-list';
import { errorCode, newKeyPair, signAndVerify, T0, unsignedSlc, verifiedSlc, xmlsecVerify } from './test-fixtures';
import { childElements, requiredPath } from './xrml-dom';
import { publicKeysEqual } from './xrml-public-key';

const cluster = newKeyPair();
const user = newKeyPair();
const slc = verifiedSlc(cluster);
const NEXT = new Date(T0.getTime() + 7 * 86_400_000);

const entries: RevocationEntry[] = [
  { type: 'license-id', idType: 'MS-GUID', id: '{AAAAAAAA-1111-4222-8333-444444444444}' },
  { type: 'principal-key', publicKey: user.publicKey },
  { type: 'content-id', idType: 'MS-GUID', id: '{bbbbbbbb-1111-4222-8333-444444444444}' },
  { type: 'principal-id', objectType: 'MS-DRM-Server', idType: 'MS-GUID', id: '{cccccccc-1111-4222-8333-444444444444}' },
];

const unsigned = (e: readonly RevocationEntry[] = entries) =>
  buildRevocationList({ descriptorGuid: '{dddddddd-1111-4222-8333-444444444444}', issuedTime: T0, nextUpdate: NEXT, issuer: slc.issuer, entries: e });

describe('buildRevocationList / readRevocationList', () => {
  it('writes ISSUEDTIME, VALIDITYTIME, DESCRIPTOR, ISSUER, REVOCATIONLIST, one REVOKE per entry with its category', () => {
    const doc = parseXrml(unsigned(), { allowUnsigned: true });
    expect(childElements(doc.body).map((e) => e.nodeName)).toEqual(['ISSUEDTIME', 'VALIDITYTIME', 'DESCRIPTOR', 'ISSUER', 'REVOCATIONLIST']);
    expect(doc.body.getAttribute('type')).toBe('LICENSE');
    expect(requiredPath(doc.body, 'DESCRIPTOR/OBJECT').getAttribute('type')).toBe('Revocation-List');
    const revokes = childElements(requiredPath(doc.body, 'REVOCATIONLIST'), 'REVOKE');
    expect(revokes.map((r) => [r.getAttribute('category'), r.getAttribute('type')])).toEqual([
      ['license', 'license-id'],
      ['principal', 'principal-key'],
      ['content', 'content-id'],
      ['principal', 'principal-id'],
    ]);
  });

  it('signs with the cluster key; the reader gets back every entry, the issuer and the times', () => {
    const { doc } = signAndVerify(unsigned(), cluster);
    const info = readRevocationList(doc);
    expect(info.verified).toBe(true);
    expect(info.issuedTime).toEqual(T0);
    expect(info.validity).toEqual({ from: T0, until: NEXT });
    expect(info.issuer.id).toBe(slc.info.principal.id);
    expect(publicKeysEqual(info.issuer.publicKey, cluster.publicKey)).toBe(true);
    expect(info.entries).toHaveLength(4);
    expect(info.entries[0]).toEqual({ type: 'license-id', idType: 'MS-GUID', id: '{aaaaaaaa-1111-4222-8333-444444444444}' });
    const key = info.entries[1]!;
    expect(key.type === 'principal-key' && publicKeysEqual(key.publicKey, user.publicKey)).toBe(true);
    expect(info.entries[3]).toEqual({ type: 'principal-id', objectType: 'MS-DRM-Server', idType: 'MS-GUID', id: '{cccccccc-1111-4222-8333-444444444444}' });
  });

  it('an empty list is a list', () => {
    const { doc } = signAndVerify(unsigned([]), cluster);
    expect(readRevocationList(doc).entries).toEqual([]);
  });

  it('xmlsec1 verifies the signed list with the cluster key, and refuses a tampered copy or another key', () => {
    const { signed } = signAndVerify(unsigned(), cluster);
    expect(xmlsecVerify(signed, cluster.publicKey).status).toBe(0);
    // Taking an entry out (un-revoking someone) breaks the signature.
    const tampered = signed.replace(/<REVOKE category="content"[\s\S]*?<\/REVOKE>/, '');
    expect(tampered).not.toBe(signed);
    expect(xmlsecVerify(tampered, cluster.publicKey).status).not.toBe(0);
    expect(xmlsecVerify(signed, user.publicKey).status).not.toBe(0);
  });

  it('refuses a REVOKE whose category does not fit its type, or a type it does not know', () => {
    const { signed } = signAndVerify(unsigned(), cluster);
    const wrong = signAndVerify(unsigned().replace('category="content"', 'category="license"'), cluster).doc;
    expect(errorCode(() => readRevocationList(wrong))).toBe('InvalidInput');
    const unknown = signAndVerify(unsigned().replace('type="content-id"', 'type="content-hash"'), cluster).doc;
    expect(errorCode(() => readRevocationList(unknown))).toBe('InvalidInput');
    expect(signed).toContain('REVOCATIONLIST');
  });

  it('refuses entries it cannot write', () => {
    expect(errorCode(() => unsigned([{ type: 'license-id', idType: 'MS-GUID', id: 'not-a-guid' }]))).toBe('InvalidInput');
    expect(errorCode(() => unsigned([{ type: 'content-id', idType: 'ascii-tag', id: 'line\nbreak' }]))).toBe('InvalidInput');
  });
});

describe('SLC revocation condition with a list address', () => {
  it('names the list URL in the issuer DISTRIBUTIONPOINT; readCertificate reads it back', () => {
    const xml = unsignedSlc(cluster.publicKey, cluster.publicKey, { revocation: { kind: 'standard', listUrl: 'https://rms.example.test/_wmcs/licensing/revocation/c1.xml' } });
    const info = readCertificate(parseXrml(xml, { allowUnsigned: true }));
    expect(info.revocation?.authorities[0]?.url).toBe('https://rms.example.test/_wmcs/licensing/revocation/c1.xml');
    const dp = requiredPath(parseXrml(xml, { allowUnsigned: true }).body, 'CONDITIONLIST/REFRESH/DISTRIBUTIONPOINT/OBJECT');
    expect(childElements(dp).map((e) => e.nodeName)).toEqual(['ID', 'NAME', 'ADDRESS']);
  });

  it('without one, the DP has no ADDRESS (SLCs issued before lists were published)', () => {
    const info = readCertificate(parseXrml(unsignedSlc(cluster.publicKey, cluster.publicKey, { revocation: { kind: 'standard' } }), { allowUnsigned: true }));
    expect(info.revocation?.authorities[0]?.url).toBeUndefined();
  });
});
