import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fixedClock, isRmsError, newBracedGuid, parseGrantSpec, type RmsErrorCode } from '@openrms/domain';
import { openStore, type Store } from '@openrms/store';
import { buildRac, issuerFromCertificate, parseXrml, readCertificate, readPublishingLicense, readRac, readUseLicense, signXrml, verifyXrmlSignature } from '@openrms/xrml';
import { ClusterRuntime } from './cluster-runtime';
import type { Caller } from './licensing-service';
import { changePolicy } from './policy-admin';
import { addGroup, addUser } from './principal-admin';
import { provisionRootCluster } from './provision-root';
import { addTemplate } from './template-admin';
import { callerNamed, certifiedClient, FakeClient } from './testing/fake-client';

const KEY_PASSWORD = 'cluster-key-password';
let dir: string;
let url: string;
let store: Store;
let rt: ClusterRuntime;
const clock = fixedClock(new Date());

const caller = (name: string): Promise<Caller> => callerNamed(store, name);

async function expectCode(p: Promise<unknown>, code: RmsErrorCode): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isRmsError(e, code)) throw new Error(`expected ${code}, got ${e instanceof Error ? `${(e as { code?: string }).code}: ${e.message}` : String(e)}`);
}

const clients = new Map<string, FakeClient>();
async function certified(name: string): Promise<FakeClient> {
  let c = clients.get(name);
  if (!c) {
    c = await certifiedClient(rt.licensing, await caller(name), clock.now());
    clients.set(name, c);
  }
  return c;
}

async function license(name: string, plChain: string[]) {
  const c = await certified(name);
  const [out] = await rt.licensing.acquireLicense(await caller(name), [{ licenseeCerts: [c.racChain[0]!], issuanceLicense: plChain }]);
  if ('error' in out!) throw out.error;
  return { chain: out!.chain, info: readUseLicense(verifyXrmlSignature(out!.chain[0]!, rt.slc.principal.publicKey)), client: c };
}

async function publishFor(owner: string, grants: string[], opts: { templateGuid?: string } = {}) {
  const c = await certified(owner);
  const [clc] = await rt.licensing.getClientLicensorCert(await caller(owner), [c.racChain]);
  const out = c.publishOffline(clc!.chain, `${owner}@example.test`, grants.flatMap(parseGrantSpec), { now: clock.now(), ...opts });
  return { ...out, plChain: [out.pl, ...clc!.chain], clcChain: clc!.chain };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'openrms-lic-'));
  url = `sqlite:${path.join(dir, 'rms.db')}`;
  await provisionRootCluster({
    databaseUrl: url,
    clusterUrl: 'https://rms.example.test',
    serviceAccount: 'rms-svc',
    admin: { name: 'admin', password: 'admin-password-1' },
    keyPassword: KEY_PASSWORD,
    revocation: { kind: 'standard' },
  });
  await addGroup(url, { name: 'auditors', email: 'auditors@example.test' });
  await addGroup(url, { name: 'superusers', email: 'superusers@example.test' });
  for (const [n, groups] of [['alice', []], ['bob', []], ['carol', ['auditors']], ['dave', ['superusers']], ['erin', []]] as [string, string[]][]) {
    await addUser(url, { name: n, email: `${n}@example.test`, password: `${n}-password-1`, groups });
  }
  store = await openStore(url);
  rt = await ClusterRuntime.open({ store, keyPassword: KEY_PASSWORD, serverName: 'm1', clock, refreshMs: 0 });
});

afterAll(async () => {
  await rt?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('Certify', () => {
  it('issues a RAC for the caller, sealed to the machine, with the same user key every time', async () => {
    const c = await certified('alice');
    const rac = readRac(verifyXrmlSignature(c.racChain[0]!, rt.slc.principal.publicKey));
    expect(rac.identity.email).toBe('alice@example.test');
    expect(rac.credentialType).toBe('Persistent');
    expect(c.racChain.slice(1)).toEqual(rt.getLicensorCertificate());
    expect(c.racKey!.publicKeyPem).toBe(rac.publicKey.export({ format: 'pem', type: 'spki' }).toString());
    const years = (rac.validUntil.getTime() - clock.now().getTime()) / (365.25 * 86_400_000);
    expect(years).toBeGreaterThan(6.9);
    // A second machine gets a RAC with the same user key.
    const other = new FakeClient(clock.now());
    const { chain } = await rt.licensing.certify(await caller('alice'), { machineChain: [other.spc], persistent: false });
    other.acceptRac(chain);
    expect(other.racKey!.publicKeyPem).toBe(c.racKey!.publicKeyPem);
    expect(readRac(parseXrml(chain[0]!)).credentialType).toBe('Temporary');
  });

  it('precertifies another user: a RAC with the same key, without the machine part; name and id must agree', async () => {
    const bob = await certified('bob');
    const { certificate } = await rt.licensing.precertify(await caller('alice'), { userName: 'BOB@example.test' });
    const pre = readRac(verifyXrmlSignature(certificate, rt.slc.principal.publicKey));
    const real = readRac(parseXrml(bob.racChain[0]!));
    expect(pre.identity).toEqual(real.identity);
    expect(pre.enablingBits).toBeUndefined();
    expect(pre.publicKey.export({ format: 'pem', type: 'spki' })).toEqual(real.publicKey.export({ format: 'pem', type: 'spki' }));
    const carolId = (await store.principals.getByName('carol')).id;
    await expectCode(rt.licensing.precertify(await caller('alice'), { userName: 'bob@example.test', id: carolId }), 'UnauthorizedAccess');
    await expectCode(rt.licensing.precertify(await caller('alice'), { userName: 'nobody@example.test' }), 'AdEntrySearchFailed');
  });

  it('refuses a lone machine certificate outside its own validity, however well signed', async () => {
    const c = new FakeClient(clock.now());
    const withValidity = (from: string, until: string) => {
      const unsigned = parseXrml(c.spc).xml.replace(/<ds:Signature[\s\S]*<\/ds:Signature>|<Signature[\s\S]*<\/Signature>/, '');
      const dated = unsigned.replace('</ISSUEDTIME>', `</ISSUEDTIME><VALIDITYTIME><FROM>${from}</FROM><UNTIL>${until}</UNTIL></VALIDITYTIME>`);
      return signXrml(dated, c.machineKey);
    };
    for (const [from, until] of [['2001-01-01T00:00', '2002-01-01T00:00'], ['9990-01-01T00:00', '9999-01-01T00:00']] as const) {
      await expectCode(rt.licensing.certify(await caller('bob'), { machineChain: [withValidity(from, until)], persistent: true }), 'VerifyMachineCertificateChainFailed');
    }
    // The same certificate with a validity that covers now is accepted.
    const ok = withValidity('2000-01-01T00:00', '9000-01-01T00:00');
    expect((await rt.licensing.certify(await caller('bob'), { machineChain: [ok], persistent: true })).chain.length).toBeGreaterThanOrEqual(2);
  });

  it('refuses a machine certificate that does not verify, and a lockbox below the minimum', async () => {
    const c = new FakeClient(clock.now());
    await expectCode(rt.licensing.certify(await caller('bob'), { machineChain: [c.spc.replace('OpenRMS tests', 'OpenRMS fakes')], persistent: true }), 'VerifyMachineCertificateChainFailed');
    await changePolicy(url, 'test', { kind: 'lockbox', minVersion: '2.0.0.0' });
    await rt.refresh();
    await expectCode(rt.licensing.certify(await caller('bob'), { machineChain: [c.spc], persistent: true }), 'BlackBoxIsInvalid');
    await changePolicy(url, 'test', { kind: 'lockbox', minVersion: null });
    await rt.refresh();
  });
});

describe('AcquireLicense', () => {
  let published: Awaited<ReturnType<typeof publishFor>>;
  beforeAll(async () => {
    published = await publishFor('alice', ['bob@example.test:VIEW', 'auditors@example.test:EDIT,PRINT']);
  });

  it('gives bob VIEW with the content key sealed to his RAC key', async () => {
    const { info, client, chain } = await license('bob', published.plChain);
    expect(info.rights.map((r) => r.right)).toEqual(['VIEW']);
    expect(client.racKey!.unsealContentKey(info.rights[0]!.enablingBits).equals(published.contentKey)).toBe(true);
    expect(info.licensee.identity.email).toBe('bob@example.test');
    expect(info.contentId).toBe(published.contentId);
    expect(chain.slice(1)).toEqual(rt.getLicensorCertificate());
  });

  it('gives the owner OWNER only, and group members their group rights', async () => {
    expect((await license('alice', published.plChain)).info.rights.map((r) => r.right)).toEqual(['OWNER']);
    expect((await license('carol', published.plChain)).info.rights.map((r) => r.right)).toEqual(['EDIT', 'PRINT']);
  });

  it('refuses a user without rights, then grants super users OWNER once the policy is on', async () => {
    await expectCode(license('dave', published.plChain), 'NoRightsForRequestedPrincipal');
    await changePolicy(url, 'test', { kind: 'super-users', enabled: true, group: 'superusers' });
    await rt.refresh();
    expect((await license('dave', published.plChain)).info.rights.map((r) => r.right)).toEqual(['OWNER']);
    await changePolicy(url, 'test', { kind: 'super-users', enabled: false });
    await rt.refresh();
    await expectCode(license('dave', published.plChain), 'NoRightsForRequestedPrincipal');
  });

  it('refuses an excluded user by e-mail', async () => {
    const p = await publishFor('alice', ['erin@example.test:VIEW']);
    expect((await license('erin', p.plChain)).info.rights).toHaveLength(1);
    await changePolicy(url, 'test', { kind: 'exclude-user', email: 'erin@example.test' });
    await rt.refresh();
    await expectCode(license('erin', p.plChain), 'DrmacIsExcluded');
    await changePolicy(url, 'test', { kind: 'include-user', email: 'erin@example.test' });
    await rt.refresh();
  });

  it('refuses a tampered PL, a PL whose CLC is swapped, and a PL addressed to another cluster', async () => {
    const bob = await certified('bob');
    const acquire = (pl: string[]) =>
      rt.licensing.acquireLicense({ requestId: 'x', principal: { id: 'x', name: 'bob', email: 'bob@example.test' } }, [{ licenseeCerts: [bob.racChain[0]!], issuanceLicense: pl }]).then((o) => {
        if ('error' in o[0]!) throw o[0].error;
      });
    // One changed character inside the signed BODY (the owner's address).
    const tampered = published.pl.replace('<NAME>alice@example.test</NAME>', '<NAME>alicf@example.test</NAME>');
    expect(tampered).not.toBe(published.pl);
    await expectCode(acquire([tampered, ...published.clcChain]), 'InvalidRightsLabelSignature');
    // Signature wrapping: a second BODY next to the signed one.
    const wrapped = published.pl.replace('<BODY ', '<BODY type="Microsoft Rights Label" version="3.0"><ISSUEDTIME>2020-01-01T00:00</ISSUEDTIME></BODY><BODY ');
    await expectCode(acquire([wrapped, ...published.clcChain]), 'InvalidRightsLabelSignature');
    const otherClc = (await publishFor('carol', ['bob@example.test:VIEW'])).clcChain;
    await expectCode(acquire([published.pl, ...otherClc]), 'InvalidRightsLabelSignature');
    await expectCode(acquire([published.pl]), 'InvalidRightsLabelSignature');

    // Addressed to another cluster: a valid CLC-signed PL whose ISSUEDPRINCIPALS names a foreign SLC.
    const foreign = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const foreignSlc = signXrml(
      (await import('@openrms/xrml')).buildSlc({
        descriptorGuid: newBracedGuid(),
        issuedTime: clock.now(),
        validFrom: clock.now(),
        validUntil: new Date(clock.now().getTime() + 86_400_000),
        issuer: { id: '{00000000-0000-4000-8000-0000000000ff}', name: 'Elsewhere', publicKey: foreign.publicKey },
        subject: { serverGuid: '{00000000-0000-4000-8000-0000000000ff}', url: 'https://elsewhere.example.test/_wmcs', publicKey: foreign.publicKey, version: '6.1.0.0', sku: 'OpenRMS' },
      }),
      { sign: (d: Buffer) => sign('sha256', d, foreign.privateKey) },
    );
    const alice = await certified('alice');
    const [clc] = await rt.licensing.getClientLicensorCert(await caller('alice'), [alice.racChain]);
    const elsewhere = alice.publishOffline(clc!.chain, 'alice@example.test', parseGrantSpec('bob@example.test:VIEW'), { now: clock.now(), serverSlc: foreignSlc });
    await expectCode(acquire([elsewhere.pl, ...clc!.chain]), 'RightsLabelNoMatchingIssuedPrincipal');
  });

  it('refuses a RAC signed by a key this cluster does not trust, and a RAC with a changed byte', async () => {
    const forger = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const bob = await certified('bob');
    const real = readRac(parseXrml(bob.racChain[0]!));
    const forged = signXrml(
      buildRac({
        descriptorGuid: newBracedGuid(),
        issuedTime: clock.now(),
        validFrom: clock.now(),
        validUntil: new Date(clock.now().getTime() + 86_400_000),
        issuer: { ...issuerFromCertificate(readCertificate(parseXrml(rt.getLicensorCertificate()[0]!))), publicKey: forger.publicKey },
        activationUrl: 'https://rms.example.test/_wmcs/certification',
        identity: { idType: 'Federation', id: real.identity.id, email: 'bob@example.test' },
        publicKey: real.publicKey,
        credentialType: 'Persistent',
      }),
      { sign: (d: Buffer) => sign('sha256', d, forger.privateKey) },
    );
    const one = (rac: string) =>
      rt.licensing.acquireLicense({ requestId: 'x', principal: { id: 'x', name: 'bob', email: 'bob@example.test' } }, [{ licenseeCerts: [rac], issuanceLicense: published.plChain }]).then((o) => {
        if ('error' in o[0]!) throw o[0].error;
      });
    await expectCode(one(forged), 'UntrustedPersonaCert');
    await expectCode(one(bob.racChain[0]!.replace('bob@example.test', 'carol@example.test')), 'InvalidPersonaCertSignature');
  });

  it('licenses items of a batch independently', async () => {
    const bob = await certified('bob');
    const dave = await certified('dave');
    const out = await rt.licensing.acquireLicense(await caller('bob'), [
      { licenseeCerts: [bob.racChain[0]!], issuanceLicense: published.plChain },
      { licenseeCerts: [dave.racChain[0]!], issuanceLicense: published.plChain },
    ]);
    expect('chain' in out[0]!).toBe(true);
    expect(isRmsError((out[1] as { error: unknown }).error, 'NoRightsForRequestedPrincipal')).toBe(true);
  });

  it('refuses an expired RAC', async () => {
    const bob = await certified('bob');
    const saved = clock.now();
    clock.advance(8 * 366 * 86_400_000);
    try {
      const [o] = await rt.licensing.acquireLicense(await caller('bob'), [{ licenseeCerts: [bob.racChain[0]!], issuanceLicense: published.plChain }]);
      expect(isRmsError((o as { error: unknown }).error, 'InvalidPersonaCertTime')).toBe(true);
    } finally {
      clock.set(saved);
    }
  });
});

describe('online publishing and templates', () => {
  it('signs an unsigned PL with the SLC, and only for the publisher as owner', async () => {
    const draft = await publishFor('alice', ['bob@example.test:VIEW']);
    const [signed] = await rt.licensing.acquireIssuanceLicense(await caller('alice'), [draft.unsigned]);
    const pl = readPublishingLicense(verifyXrmlSignature(signed!.chain[0]!, rt.slc.principal.publicKey));
    expect(pl.issuer.id).toBe(rt.slc.principal.id);
    expect((await license('bob', signed!.chain)).info.rights.map((r) => r.right)).toEqual(['VIEW']);
    await expectCode(rt.licensing.acquireIssuanceLicense(await caller('bob'), [draft.unsigned]), 'Argument');
  });

  it('distributes templates and licenses template content by the server copy of the template', async () => {
    const t = await addTemplate(url, KEY_PASSWORD, { name: 'Auditors only', description: 'EDIT for auditors', grants: parseGrantSpec('auditors@example.test:VIEW') });
    const info = await rt.licensing.templateInformation(await caller('alice'));
    expect(info.templates).toEqual([{ guid: t.id, hash: t.hash }]);
    const [got, missing] = await rt.licensing.templates(await caller('alice'), [t.id, '{00000000-0000-4000-8000-000000000000}']);
    expect(got!.template).toBe(t.xml);
    expect(missing!.template).toBeNull();
    // The PL's own rights data claims bob may VIEW; the template (auditors only) decides.
    const p = await publishFor('alice', ['bob@example.test:VIEW'], { templateGuid: t.id });
    await expectCode(license('bob', p.plChain), 'NoRightsForRequestedPrincipal');
    expect((await license('carol', p.plChain)).info.rights.map((r) => r.right)).toEqual(['VIEW']);
  });
});
