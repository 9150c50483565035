import type { KeyObject } from 'node:crypto';
import { newBracedGuid, parseGrantSpec } from '@openrms/domain';
import { addUser } from '@openrms/issuance';
import { ContentKey, RsaKeyPair } from '@openrms/keys';
import { certificateFragment } from '@openrms/soap';
import {
  buildPublishingLicense,
  buildRightsData,
  ERD_AAD,
  issuerFromCertificate,
  parseXrml,
  readCertificate,
  readPublishingLicense,
  readUseLicense,
  verifyXrmlSignature,
} from '@openrms/xrml';
import { FakeClient } from '../packages/issuance/src/testing/fake-client';
import { sqliteDatabase } from './support/databases';
import { startTestRoot, type TestRoot } from './support/root-cluster';
import { certificatesIn, envelope, faultString, postSoap, versionData, type RawResponse } from './support/soap-client';

const EDIT_NS = 'http://microsoft.com/DRM/EditIssuanceLicenseService';
const PUB_NS = 'http://microsoft.com/DRM/PublishingService';
const LIC_NS = 'http://microsoft.com/DRM/LicensingService';
const CERT_NS = 'http://microsoft.com/DRM/CertificationService';
const EDIT_PATH = '/_wmcs/licensing/editissuancelicense.asmx';

type Credentials = { name: string; password: string };
const olive = { name: 'olive', email: 'olive@example.test', password: 'olive-password-1' };
const carol = { name: 'carol', email: 'carol@example.test', password: 'carol-password-1' };
const pat = { name: 'pat', email: 'pat@example.test', password: 'pat-password-1' };
/** Allowed on the endpoint (RMS Service Group), but owns nothing. */
const sam = { name: 'sam', email: 'sam@example.test', password: 'sam-password-1' };

const certs = (name: string, chain: readonly string[]) => `<${name}>${chain.map((c) => `<Certificate>${certificateFragment(c)}</Certificate>`).join('')}</${name}>`;

/**
 * [MS-RMSI] EditIssuanceLicense against a running member, raw XML on the wire: the owner (in RMS
 * Service Group, since the endpoint is restricted by default) re-issues an online PL adding carol,
 * who then gets a UL over license.asmx that opens the original content key.
 */
describe('EditIssuanceLicense against a cluster member', () => {
  let root: TestRoot;
  let base: string;

  const call = (ns: string, path: string, op: string, auth: Credentials, body: string, version: '1.1' | '1.2' = '1.1'): Promise<RawResponse> =>
    postSoap({ url: `${base}${path}`, action: `${ns}/${op}`, version, auth, body: envelope({ version, header: versionData(ns), body }) });

  const editBody = (signed: string, unsigned: string) =>
    `<EditIssuanceLicense xmlns="${EDIT_NS}"><RequestParams><EditIssuanceLicenseParams>` +
    `<SignedIssuanceLicense>${certificateFragment(signed)}</SignedIssuanceLicense>` +
    `<UnsignedIssuanceLicense>${certificateFragment(unsigned)}</UnsignedIssuanceLicense>` +
    `</EditIssuanceLicenseParams></RequestParams></EditIssuanceLicense>`;

  function draft(grants: string[], editable: boolean, contentId = newBracedGuid(), opts: { server?: { serverGuid: string; publicKey: KeyObject }; templateGuid?: string } = {}) {
    const slc = readCertificate(parseXrml(root.server.runtime.getLicensorCertificate()[0]!));
    const contentKey = ContentKey.generate();
    const erd = buildRightsData({
      issuedTime: new Date(),
      descriptorGuid: newBracedGuid(),
      policy: {
        contentId,
        ownerEmail: olive.email,
        grants: grants.flatMap(parseGrantSpec),
        ...(editable ? { appSpecific: { Allow_Server_Editing: 'True' } } : {}),
        ...(opts.templateGuid ? { templateGuid: opts.templateGuid } : {}),
      },
    });
    const server = opts.server ?? { serverGuid: slc.principal.id, publicKey: slc.principal.publicKey };
    const unsigned = buildPublishingLicense({
      issuedTime: new Date(),
      issuer: issuerFromCertificate(slc),
      licensingUrl: `${base}/_wmcs/licensing`,
      server: { ...server, version: '6.1.0.0', sku: 'OpenRMS' },
      enablingBits: contentKey.sealTo(server.publicKey),
      contentId,
      owner: { idType: 'Federation', email: olive.email },
      encryptedRightsData: contentKey.encrypt(Buffer.from(erd), ERD_AAD),
    });
    return { unsigned, contentKey, contentId };
  }

  /** Online publishing over publish.asmx: the signed leaf. */
  async function publish(grants: string[], editable: boolean) {
    const d = draft(grants, editable);
    const r = await call(PUB_NS, '/_wmcs/licensing/publish.asmx', 'AcquireIssuanceLicense', olive,
      `<AcquireIssuanceLicense xmlns="${PUB_NS}"><RequestParams><AcquireIssuanceLicenseParams><UnsignedIssuanceLicense>${certificateFragment(d.unsigned)}</UnsignedIssuanceLicense></AcquireIssuanceLicenseParams></RequestParams></AcquireIssuanceLicense>`);
    expect({ status: r.status, fault: faultString(r.text) }).toEqual({ status: 200, fault: undefined });
    return { ...d, leaf: certificatesIn(r.text)[0]! };
  }

  beforeAll(async () => {
    root = await startTestRoot(sqliteDatabase());
    base = root.server.url;
    await addUser(root.db.url, { ...olive, groups: ['RMS Service Group'] });
    await addUser(root.db.url, { ...carol, groups: [] });
    await addUser(root.db.url, { ...pat, groups: [] });
    await addUser(root.db.url, { ...sam, groups: ['RMS Service Group'] });
  }, 120_000);

  afterAll(async () => {
    await root?.stop();
  });

  it('serves its WSDL', async () => {
    const res = await fetch(`${base}${EDIT_PATH}?wsdl`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('<wsdl:service name="Republish">');
    expect(text).toContain(`soapAction="${EDIT_NS}/EditIssuanceLicense"`);
  });

  it.each(['1.1', '1.2'] as const)('lets the owner add carol (SOAP %s): her UL opens the original content key', async (version) => {
    const { leaf, contentKey, contentId } = await publish([`${pat.email}:VIEW`], true);
    const edit = draft([`${pat.email}:VIEW`, `${carol.email}:VIEW`], true, contentId);
    const r = await call(EDIT_NS, EDIT_PATH, 'EditIssuanceLicense', olive, editBody(leaf, edit.unsigned), version);
    expect({ status: r.status, fault: faultString(r.text) }).toEqual({ status: 200, fault: undefined });
    expect(r.text).toContain(`<EditIssuanceLicenseResponse xmlns="${EDIT_NS}"><EditIssuanceLicenseResult><EditIssuanceLicenseResponse><CertificateChain>`);
    const chain = certificatesIn(r.text);
    expect(chain).toHaveLength(1);
    const slcKey = root.server.runtime.slc.principal.publicKey;
    expect(readPublishingLicense(verifyXrmlSignature(parseXrml(chain[0]!), slcKey)).contentId).toBe(contentId);

    // carol certifies and asks for a licence with the new PL, over the wire.
    const client = new FakeClient(new Date());
    const cert = await call(CERT_NS, '/_wmcs/certification/certification.asmx', 'Certify', carol,
      `<Certify xmlns="${CERT_NS}"><requestParams>${certs('MachineCertificateChain', [client.spc])}<Persistent>true</Persistent></requestParams></Certify>`);
    expect(cert.status).toBe(200);
    client.acceptRac(certificatesIn(cert.text));
    const lic = await call(LIC_NS, '/_wmcs/licensing/license.asmx', 'AcquireLicense', carol,
      `<AcquireLicense xmlns="${LIC_NS}"><RequestParams><AcquireLicenseParams>${certs('LicenseeCerts', client.racChain)}${certs('IssuanceLicense', chain)}</AcquireLicenseParams></RequestParams></AcquireLicense>`);
    expect({ status: lic.status, fault: faultString(lic.text) }).toEqual({ status: 200, fault: undefined });
    const ul = readUseLicense(verifyXrmlSignature(parseXrml(certificatesIn(lic.text)[0]!), slcKey));
    expect(ul.rights.map((x) => x.right)).toEqual(['VIEW']);
    expect(client.racKey!.unsealContentKey(ul.rights[0]!.enablingBits).equals(contentKey)).toBe(true);
  });

  it('answers the protocol faults: no server editing, a tampered signed PL', async () => {
    const locked = await publish([`${pat.email}:VIEW`], false);
    const r1 = await call(EDIT_NS, EDIT_PATH, 'EditIssuanceLicense', olive, editBody(locked.leaf, draft([`${carol.email}:VIEW`], true, locked.contentId).unsigned));
    expect(r1.status).toBe(500);
    expect(faultString(r1.text)).toMatch(/^Microsoft\.DigitalRightsManagement\.ServerRepublishIllegalException\b/);

    const open = await publish([`${pat.email}:VIEW`], true);
    const tampered = open.leaf.replace(/(<AUTHENTICATEDDATA id="Encrypted-Rights-Data">)(.)/, (_m, tag: string, c: string) => `${tag}${c === 'A' ? 'B' : 'A'}`);
    const r2 = await call(EDIT_NS, EDIT_PATH, 'EditIssuanceLicense', olive, editBody(tampered, draft([`${carol.email}:VIEW`], true, open.contentId).unsigned));
    expect(r2.status).toBe(500);
    expect(faultString(r2.text)).toMatch(/^Microsoft\.DigitalRightsManagement\.InvalidSignedIssuanceLicenseException\b/);

    const twice = editBody(open.leaf, open.unsigned).replace(/(<EditIssuanceLicenseParams>[\s\S]*<\/EditIssuanceLicenseParams>)/, '$1$1');
    const r3 = await call(EDIT_NS, EDIT_PATH, 'EditIssuanceLicense', olive, twice);
    expect(r3.status).toBe(500);
    expect(faultString(r3.text)).toMatch(/^System\.ArgumentException\b/);
  });

  it('refuses a caller the endpoint lets in who neither owns the content nor is a super user', async () => {
    const { leaf, contentId } = await publish([`${pat.email}:VIEW`], true);
    const r = await call(EDIT_NS, EDIT_PATH, 'EditIssuanceLicense', sam, editBody(leaf, draft([`${sam.email}:VIEW`], true, contentId).unsigned));
    expect(r.status).toBe(500);
    expect(faultString(r.text)).toMatch(/^System\.UnauthorizedAccessException: only the owner of the content or a super user may edit/);
  });

  it('answers the spec’s other faults, each for its cause ([MS-RMSI] 3.4.4.1, 3.1.4.2)', async () => {
    const { leaf, unsigned, contentId } = await publish([`${pat.email}:VIEW`], true);
    const elsewhere = RsaKeyPair.generate();
    const cases: [string, string, RegExp][] = [
      [
        'an unsigned PL addressed to another server',
        editBody(leaf, draft([`${carol.email}:VIEW`], true, contentId, { server: { serverGuid: newBracedGuid(), publicKey: elsewhere.publicKey } }).unsigned),
        /^Microsoft\.DigitalRightsManagement\.Licensing\.UnsignedIssuanceLicenseNoMatchingIssuedPrincipalException: /,
      ],
      [
        'rights data naming a template that is not an official one here',
        editBody(leaf, draft([`${carol.email}:VIEW`], true, contentId, { templateGuid: newBracedGuid() }).unsigned),
        /^Microsoft\.DigitalRightsManagement\.Licensing\.InvalidOfficialRightsTemplateException: /,
      ],
      ['an unsigned PL where the signed one belongs', editBody(unsigned, unsigned), /^Microsoft\.DigitalRightsManagement\.InvalidSignedIssuanceLicenseException: /],
      ['an unreadable unsigned PL', editBody(leaf, '<XrML version="1.2"><BODY type="LICENSE"/></XrML>'), /^System\.ArgumentException: the unsigned issuance licence is malformed/],
      ['no EditIssuanceLicenseParams', `<EditIssuanceLicense xmlns="${EDIT_NS}"><RequestParams/></EditIssuanceLicense>`, /^System\.ArgumentNullException: /],
      ['no RequestParams', `<EditIssuanceLicense xmlns="${EDIT_NS}"/>`, /^System\.ArgumentNullException: /],
      [
        'no SignedIssuanceLicense',
        `<EditIssuanceLicense xmlns="${EDIT_NS}"><RequestParams><EditIssuanceLicenseParams><UnsignedIssuanceLicense>${certificateFragment(unsigned)}</UnsignedIssuanceLicense></EditIssuanceLicenseParams></RequestParams></EditIssuanceLicense>`,
        /^System\.ArgumentNullException: SignedIssuanceLicense/,
      ],
    ];
    for (const [what, body, fault] of cases) {
      const r = await call(EDIT_NS, EDIT_PATH, 'EditIssuanceLicense', olive, body);
      expect([what, r.status, faultString(r.text)]).toEqual([what, 500, expect.stringMatching(fault)]);
    }
  });

  it('is restricted to RMS Service Group by default: an ordinary user is refused', async () => {
    const { leaf, contentId } = await publish([`${pat.email}:VIEW`], true);
    const r = await call(EDIT_NS, EDIT_PATH, 'EditIssuanceLicense', pat, editBody(leaf, draft([`${pat.email}:VIEW,EDIT`], true, contentId).unsigned));
    expect(r.status).toBe(403);
  });
});
