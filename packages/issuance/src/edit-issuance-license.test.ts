import { fixedClock, isRmsError, newBracedGuid, parseGrantSpec, type RmsErrorCode } from '@openrms/domain';
import { ContentKey, RsaKeyPair } from '@openrms/keys';
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
import { ClusterRuntime } from './cluster-runtime';
import type { Caller } from './licensing-service';
import { changePolicy } from './policy-admin';
import { addGroup, addUser } from './principal-admin';
import { callerNamed, certifiedClient, FakeClient } from './testing/fake-client';
import { provisionedSqlite, type ProvisionedSqlite } from './testing/provisioned-sqlite';
import { revokeIn, unrevokeIn } from './revoke';

const clock = fixedClock(new Date());
let db: ProvisionedSqlite;
let rt: ClusterRuntime;

const caller = (name: string): Promise<Caller> => callerNamed(db.store, name);

const certified = async (name: string): Promise<FakeClient> => certifiedClient(rt.licensing, await caller(name), clock.now());

async function codeOf(p: Promise<unknown>): Promise<RmsErrorCode | string> {
  return p.then(
    () => 'success',
    (e: unknown) => (isRmsError(e) ? e.code : String(e)),
  );
}

/** An unsigned PL as a client writes it, addressed to `server` (our SLC unless given), under its own content key. */
function draft(o: { owner: string; grants: string[]; editable: boolean; contentId?: string; server?: { id: string; key: RsaKeyPair['publicKey'] } }) {
  const slc = readCertificate(parseXrml(rt.getLicensorCertificate()[0]!));
  const server = o.server ?? { id: slc.principal.id, key: slc.principal.publicKey };
  const contentKey = ContentKey.generate();
  const contentId = o.contentId ?? newBracedGuid();
  const erd = buildRightsData({
    issuedTime: clock.now(),
    descriptorGuid: newBracedGuid(),
    policy: { contentId, ownerEmail: o.owner, grants: o.grants.flatMap(parseGrantSpec), ...(o.editable ? { appSpecific: { Allow_Server_Editing: 'True' } } : {}) },
  });
  const unsigned = buildPublishingLicense({
    issuedTime: clock.now(),
    issuer: issuerFromCertificate(slc),
    licensingUrl: 'https://root.example.test/_wmcs/licensing',
    server: { serverGuid: server.id, publicKey: server.key, version: '6.1.0.0', sku: 'OpenRMS' },
    enablingBits: contentKey.sealTo(server.key),
    contentId,
    owner: { idType: 'Federation', email: o.owner },
    encryptedRightsData: contentKey.encrypt(Buffer.from(erd), ERD_AAD),
  });
  return { unsigned, contentKey, contentId };
}

/** alice publishes online (the server signs); only the signed leaf travels, as [MS-RMSI] says. */
async function publishOnline(grants: string[], editable = true) {
  const d = draft({ owner: 'alice@example.test', grants, editable });
  const [signed] = await rt.licensing.acquireIssuanceLicense(await caller('alice'), [d.unsigned]);
  return { leaf: signed!.chain[0]!, contentKey: d.contentKey, contentId: d.contentId };
}

async function acquire(who: FakeClient, plChain: string[]) {
  const [r] = await rt.licensing.acquireLicense(await caller('carol'), [{ licenseeCerts: who.racChain, issuanceLicense: plChain }]);
  if (!r || 'error' in r) throw r?.error;
  return readUseLicense(verifyXrmlSignature(r.chain[0]!, rt.slc.principal.publicKey));
}

beforeAll(async () => {
  db = await provisionedSqlite('edit-il', clock);
  await addGroup(db.url, { name: 'Supers', email: 'supers@example.test' });
  for (const n of ['alice', 'bob', 'carol']) await addUser(db.url, { name: n, email: `${n}@example.test`, password: `${n}-password-1`, groups: [] });
  await addUser(db.url, { name: 'sue', email: 'sue@example.test', password: 'sue-password-1', groups: ['Supers'] });
  await changePolicy(db.url, 'admin', { kind: 'super-users', enabled: true, group: 'Supers' }, clock);
  rt = await ClusterRuntime.open({ store: db.store, keyPassword: db.keyPassword, serverName: 'm1', clock, refreshMs: 0 });
});

afterAll(async () => {
  await rt?.close();
  await db?.dispose();
});

describe('EditIssuanceLicense', () => {
  it('lets the owner add carol: her licence opens the old content key', async () => {
    const { leaf, contentKey, contentId } = await publishOnline(['bob@example.test:VIEW']);
    const carol = await certified('carol');
    await expect(acquire(carol, [leaf])).rejects.toMatchObject({ code: 'NoRightsForRequestedPrincipal' });

    const edit = draft({ owner: 'alice@example.test', grants: ['bob@example.test:VIEW', 'carol@example.test:VIEW,PRINT'], editable: true, contentId });
    const plsBefore = await db.store.issued.count({ kind: 'PL' });
    const { chain } = await rt.licensing.editIssuanceLicense(await caller('alice'), { signedChain: [leaf], unsignedLicense: edit.unsigned });
    expect(chain).toHaveLength(1);
    expect(await db.store.issued.count({ kind: 'PL' })).toBe(plsBefore + 1);
    const pl = readPublishingLicense(verifyXrmlSignature(chain[0]!, rt.slc.principal.publicKey));
    expect(pl.contentId).toBe(contentId);

    const ul = await acquire(carol, chain);
    expect(ul.rights.map((r) => r.right).sort()).toEqual(['PRINT', 'VIEW']);
    const opened = carol.racKey!.unsealContentKey(ul.rights[0]!.enablingBits);
    expect(opened.equals(contentKey)).toBe(true);
    expect(opened.equals(edit.contentKey)).toBe(false);
  });

  it('refuses a caller who is not the owner, and lets a super user edit', async () => {
    const { leaf, contentId } = await publishOnline(['bob@example.test:VIEW']);
    const edit = draft({ owner: 'alice@example.test', grants: ['bob@example.test:VIEW,EDIT'], editable: true, contentId });
    expect(await codeOf(rt.licensing.editIssuanceLicense(await caller('bob'), { signedChain: [leaf], unsignedLicense: edit.unsigned }))).toBe('UnauthorizedAccess');
    expect(await codeOf(rt.licensing.editIssuanceLicense(await caller('sue'), { signedChain: [leaf], unsignedLicense: edit.unsigned }))).toBe('success');
  });

  it('refuses to edit content an administrator revoked, and edits it again once lifted', async () => {
    const { leaf, contentId } = await publishOnline(['bob@example.test:VIEW']);
    const edit = draft({ owner: 'alice@example.test', grants: ['carol@example.test:VIEW'], editable: true, contentId });
    const r = await revokeIn(db.store, 'admin', { target: { kind: 'PL', contentId } }, clock);
    await rt.refresh();
    expect(await codeOf(rt.licensing.editIssuanceLicense(await caller('alice'), { signedChain: [leaf], unsignedLicense: edit.unsigned }))).toBe('InvalidSignedIssuanceLicense');
    await unrevokeIn(db.store, 'admin', r.id, clock);
    await rt.refresh();
    expect(await codeOf(rt.licensing.editIssuanceLicense(await caller('alice'), { signedChain: [leaf], unsignedLicense: edit.unsigned }))).toBe('success');
  });

  it('refuses online publishing and editing with OnlinePublishingDisabled while the policy turns it off', async () => {
    const { leaf, contentId } = await publishOnline(['bob@example.test:VIEW']);
    const edit = draft({ owner: 'alice@example.test', grants: ['carol@example.test:VIEW'], editable: true, contentId });
    await changePolicy(db.url, 'admin', { kind: 'online-publishing', enabled: false }, clock);
    await rt.refresh();
    try {
      expect(await codeOf(rt.licensing.editIssuanceLicense(await caller('alice'), { signedChain: [leaf], unsignedLicense: edit.unsigned }))).toBe('OnlinePublishingDisabled');
      const fresh = draft({ owner: 'alice@example.test', grants: ['bob@example.test:VIEW'], editable: true });
      expect(await codeOf(rt.licensing.acquireIssuanceLicense(await caller('alice'), [fresh.unsigned]))).toBe('OnlinePublishingDisabled');
    } finally {
      await changePolicy(db.url, 'admin', { kind: 'online-publishing', enabled: true }, clock);
      await rt.refresh();
    }
    expect(await codeOf(rt.licensing.editIssuanceLicense(await caller('alice'), { signedChain: [leaf], unsignedLicense: edit.unsigned }))).toBe('success');
  });

  it('refuses a PL whose rights data does not allow server editing', async () => {
    const { leaf, contentId } = await publishOnline(['bob@example.test:VIEW'], false);
    const edit = draft({ owner: 'alice@example.test', grants: ['carol@example.test:VIEW'], editable: true, contentId });
    expect(await codeOf(rt.licensing.editIssuanceLicense(await caller('alice'), { signedChain: [leaf], unsignedLicense: edit.unsigned }))).toBe('ServerRepublishIllegal');
  });

  it('refuses a tampered signed PL, and an offline PL leaf without its CLC', async () => {
    const { leaf, contentId } = await publishOnline(['bob@example.test:VIEW']);
    const edit = draft({ owner: 'alice@example.test', grants: ['carol@example.test:VIEW'], editable: true, contentId });
    const tampered = leaf.replace(/(<AUTHENTICATEDDATA id="Encrypted-Rights-Data">)(.)/, (_m, open: string, c: string) => `${open}${c === 'A' ? 'B' : 'A'}`);
    expect(tampered).not.toBe(leaf);
    const code = (signedChain: string[]) => codeOf(rt.licensing.editIssuanceLicense({ requestId: 'r' } as Caller, { signedChain, unsignedLicense: edit.unsigned }));
    expect(await code([tampered])).toBe('InvalidSignedIssuanceLicense');

    const alice = await certified('alice');
    const [clc] = await rt.licensing.getClientLicensorCert(await caller('alice'), [alice.racChain]);
    const offline = alice.publishOffline(clc!.chain, 'alice@example.test', parseGrantSpec('bob@example.test:VIEW'), { now: clock.now() });
    expect(await code([offline.pl])).toBe('InvalidSignedIssuanceLicense');
    // With its CLC it verifies; this one was not published as editable.
    expect(await code([offline.pl, clc!.chain[0]!])).toBe('ServerRepublishIllegal');
  });

  it('refuses an unsigned PL addressed to another server, and one for other content', async () => {
    const { leaf, contentId } = await publishOnline(['bob@example.test:VIEW']);
    const other = RsaKeyPair.generate();
    const foreign = draft({ owner: 'alice@example.test', grants: ['carol@example.test:VIEW'], editable: true, contentId, server: { id: newBracedGuid(), key: other.publicKey } });
    const alice = await caller('alice');
    expect(await codeOf(rt.licensing.editIssuanceLicense(alice, { signedChain: [leaf], unsignedLicense: foreign.unsigned }))).toBe('UnsignedIssuanceLicenseNoMatchingIssuedPrincipal');
    const elsewhere = draft({ owner: 'alice@example.test', grants: ['carol@example.test:VIEW'], editable: true });
    expect(await codeOf(rt.licensing.editIssuanceLicense(alice, { signedChain: [leaf], unsignedLicense: elsewhere.unsigned }))).toBe('Argument');
  });
});
