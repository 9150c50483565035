import { fixedClock, isRmsError, parseGrantSpec, type RmsErrorCode } from '@openrms/domain';
import { readRac, readUseLicense, verifyXrmlSignature } from '@openrms/xrml';
import { ClusterRuntime } from './cluster-runtime';
import type { Caller } from './licensing-service';
import { addUser, setUserDisabled } from './principal-admin';
import { callerNamed, certifiedClient, FakeClient } from './testing/fake-client';
import { provisionedSqlite, type ProvisionedSqlite } from './testing/provisioned-sqlite';

const clock = fixedClock(new Date());
let db: ProvisionedSqlite;
let rt: ClusterRuntime;

const caller = (name: string): Promise<Caller> => callerNamed(db.store, name);

const certified = async (name: string): Promise<FakeClient> => certifiedClient(rt.licensing, await caller(name), clock.now());

function errorCode(u: { license: string } | { error: unknown } | undefined): RmsErrorCode | string {
  if (!u || 'license' in u) return 'a licence';
  return isRmsError(u.error) ? u.error.code : String(u.error);
}

/** A PL alice publishes online: only its signed leaf is sent, as [MS-RMSI] says. */
async function publishOnline(grants: string[]) {
  const alice = await certified('alice');
  const [clc] = await rt.licensing.getClientLicensorCert(await caller('alice'), [alice.racChain]);
  const draft = alice.publishOffline(clc!.chain, 'alice@example.test', grants.flatMap(parseGrantSpec), { now: clock.now() });
  const [signed] = await rt.licensing.acquireIssuanceLicense(await caller('alice'), [draft.unsigned]);
  return { leaf: signed!.chain[0]!, contentKey: draft.contentKey };
}

beforeAll(async () => {
  db = await provisionedSqlite('prelicense', clock);
  for (const n of ['alice', 'bob', 'carol', 'dave']) await addUser(db.url, { name: n, email: `${n}@example.test`, password: `${n}-password-1`, groups: [] });
  await setUserDisabled(db.url, 'admin', 'dave', true, clock);
  rt = await ClusterRuntime.open({ store: db.store, keyPassword: db.keyPassword, serverName: 'm1', clock, refreshMs: 0 });
});

afterAll(async () => {
  await rt?.close();
  await db?.dispose();
});

describe('AcquirePreLicense', () => {
  it('licenses bob before he asks, bound to the RAC key his later RACs carry', async () => {
    const { leaf, contentKey } = await publishOnline(['bob@example.test:VIEW']);
    const racsBefore = await db.store.issued.count({ kind: 'RAC' });
    const [out] = await rt.licensing.acquirePreLicense(await caller('alice'), [{ licenseeIdentities: ['Bob@Example.test'], issuanceLicense: [leaf] }]);
    // The RAC-like principal is built in memory only: no RAC is issued or recorded for bob.
    expect(await db.store.issued.count({ kind: 'RAC' })).toBe(racsBefore);
    expect(out!.chain).toEqual(rt.getLicensorCertificate());
    const only = out!.licenses[0]!;
    if (!('license' in only)) throw only.error;
    const ul = readUseLicense(verifyXrmlSignature(only.license, rt.slc.principal.publicKey));
    expect(ul.rights.map((r) => r.right)).toEqual(['VIEW']);
    expect(ul.licensee.identity.email).toBe('bob@example.test');

    // bob certifies only now: his RAC names him as the UL does and its private key opens the UL.
    const bob = await certified('bob');
    const rac = readRac(verifyXrmlSignature(bob.racChain[0]!, rt.slc.principal.publicKey));
    expect(ul.licensee.identity).toEqual(rac.identity);
    expect(bob.racKey!.unsealContentKey(ul.rights[0]!.enablingBits).equals(contentKey)).toBe(true);
  });

  it('answers an unknown or disabled recipient with the invalid-licensee error, in place, while the others get their UL', async () => {
    const { leaf } = await publishOnline(['bob@example.test:VIEW', 'dave@example.test:VIEW']);
    const [out] = await rt.licensing.acquirePreLicense(await caller('alice'), [
      { licenseeIdentities: ['nobody@example.test', 'bob@example.test', 'dave@example.test', ''], issuanceLicense: [leaf] },
    ]);
    expect(out!.licenses.map(errorCode)).toEqual([
      'AcquirePreLicenseInvalidLicensee',
      'a licence',
      'AcquirePreLicenseInvalidLicensee',
      'AcquirePreLicenseInvalidLicensee',
    ]);
  });

  it('gives a recipient without rights NoRightsForRequestedPrincipal, per user', async () => {
    const { leaf } = await publishOnline(['bob@example.test:VIEW']);
    const [out] = await rt.licensing.acquirePreLicense(await caller('alice'), [{ licenseeIdentities: ['carol@example.test', 'bob@example.test'], issuanceLicense: [leaf] }]);
    expect(out!.licenses.map(errorCode)).toEqual(['NoRightsForRequestedPrincipal', 'a licence']);
  });

  it('fails the whole request for an issuance licence it cannot verify (an offline PL leaf without its CLC)', async () => {
    const alice = await certified('alice');
    const [clc] = await rt.licensing.getClientLicensorCert(await caller('alice'), [alice.racChain]);
    const { pl } = alice.publishOffline(clc!.chain, 'alice@example.test', parseGrantSpec('bob@example.test:VIEW'), { now: clock.now() });
    const e = await rt.licensing.acquirePreLicense(await caller('alice'), [{ licenseeIdentities: ['bob@example.test'], issuanceLicense: [pl] }]).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isRmsError(e, 'InvalidRightsLabelSignature')).toBe(true);
  });
});
