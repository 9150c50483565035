import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { fixedClock, isRmsError, MINUTE_MS, parseGrantSpec, type RmsErrorCode } from '@openrms/domain';
import { ClusterRuntime } from './cluster-runtime';
import type { Caller } from './licensing-service';
import { changePolicyIn } from './policy-admin';
import { addUserIn } from './admin-queries';
import { callerNamed, FakeClient } from './testing/fake-client';
import { provisionedSqlite, type ProvisionedSqlite } from './testing/provisioned-sqlite';
import { VerifiedDocuments } from './verified-documents';

const clock = fixedClock(new Date());
let db: ProvisionedSqlite;
let rt: ClusterRuntime;

async function expectCode(p: Promise<unknown>, code: RmsErrorCode): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isRmsError(e, code)) throw new Error(`expected ${code}, got ${e instanceof Error ? `${(e as { code?: string }).code}: ${e.message}` : String(e)}`);
}

/** A client certified for `name` (persistent or temporary RAC), with a CLC and an offline PL granting it VIEW. */
async function clientWithPl(name: string, persistent = true): Promise<{ caller: Caller; client: FakeClient; plChain: string[] }> {
  const caller = await callerNamed(db.store, name);
  const client = new FakeClient(clock.now());
  client.acceptRac((await rt.licensing.certify(caller, { machineChain: [client.spc], persistent })).chain);
  const [clc] = await rt.licensing.getClientLicensorCert(caller, [client.racChain]);
  const out = client.publishOffline(clc!.chain, `${name}@example.test`, parseGrantSpec(`${name}@example.test:VIEW`), { now: clock.now() });
  return { caller, client, plChain: [out.pl, ...clc!.chain] };
}

async function license(c: { caller: Caller; client: FakeClient; plChain: string[] }, rac = c.client.racChain[0]!, plChain = c.plChain): Promise<string[]> {
  const [out] = await rt.licensing.acquireLicense(c.caller, [{ licenseeCerts: [rac], issuanceLicense: plChain }]);
  if ('error' in out!) throw out.error;
  return out!.chain;
}

/** One letter of the RAC's e-mail address changed: still well-formed, no longer what was signed. */
function tamperedEmail(xml: string, email: string): string {
  const i = xml.indexOf(email);
  if (i < 0) throw new Error('e-mail not found');
  return `${xml.slice(0, i)}X${xml.slice(i + 1)}`;
}

beforeAll(async () => {
  db = await provisionedSqlite('verified-docs', clock);
  for (const n of ['alice', 'bob', 'erin', 'tim']) await addUserIn(db.store, 'test', { name: n, email: `${n}@example.test`, password: `${n}-password-1`, groups: [] }, clock);
  rt = await ClusterRuntime.open({ store: db.store, keyPassword: db.keyPassword, serverName: 'root-1', clock, refreshMs: 0 });
});

afterAll(async () => {
  await rt?.close();
  await db?.dispose();
});

describe('the verified-document cache in the licence path', () => {
  it('a repeated AcquireLicense finds the RAC, the CLC and the PL in the cache', async () => {
    const alice = await clientWithPl('alice');
    await license(alice);
    const before = rt.verifiedDocuments.stats();
    await license(alice);
    const after = rt.verifiedDocuments.stats();
    expect(after.hits - before.hits).toBe(3);
    expect(after.misses).toBe(before.misses);
    expect(after.entries).toBeGreaterThanOrEqual(3);
  });

  it('refuses a cached RAC whose user was excluded after it was cached (DrmacIsExcluded), and serves it again once included', async () => {
    const erin = await clientWithPl('erin');
    await license(erin);
    await changePolicyIn(db.store, 'test', { kind: 'exclude-user', email: 'erin@example.test' }, clock);
    await rt.refresh();
    const before = rt.verifiedDocuments.stats();
    await expectCode(license(erin), 'DrmacIsExcluded');
    // The refusal came from the cached signature result: nothing was verified again.
    expect(rt.verifiedDocuments.stats().hits).toBeGreaterThan(before.hits);
    expect(rt.verifiedDocuments.stats().misses).toBe(before.misses);
    await changePolicyIn(db.store, 'test', { kind: 'include-user', email: 'erin@example.test' }, clock);
    await rt.refresh();
    await license(erin);
  });

  it('refuses a cached RAC once it has expired, and before it is valid', async () => {
    const start = clock.now();
    const tim = await clientWithPl('tim', false); // a temporary RAC: valid for minutes
    await license(tim);
    try {
      clock.advance(60 * MINUTE_MS);
      const before = rt.verifiedDocuments.stats();
      await expectCode(license(tim), 'InvalidPersonaCertTime');
      await expectCode(rt.licensing.getClientLicensorCert(tim.caller, [tim.client.racChain]), 'InvalidPersonaCertTime');
      expect(rt.verifiedDocuments.stats().hits).toBeGreaterThan(before.hits);
      clock.set(new Date(start.getTime() - 60 * MINUTE_MS));
      await expectCode(license(tim), 'InvalidPersonaCertTime');
    } finally {
      clock.set(start);
    }
    await license(tim);
  });

  it('a one-byte tampered copy of a cached RAC misses the cache and fails verification', async () => {
    const bob = await clientWithPl('bob');
    await license(bob);
    const tampered = tamperedEmail(bob.client.racChain[0]!, 'bob@example.test');
    const before = rt.verifiedDocuments.stats();
    await expectCode(rt.licensing.getClientLicensorCert(bob.caller, [[tampered, ...bob.client.racChain.slice(1)]]), 'InvalidPersonaCertSignature');
    await expectCode(license(bob, tampered), 'InvalidPersonaCertSignature');
    const after = rt.verifiedDocuments.stats();
    expect(after.hits).toBe(before.hits);
    // Two lookups that found nothing (and remembered nothing): counted as misses.
    expect(after.misses).toBe(before.misses + 2);
    expect(after.entries).toBe(before.entries);
    // The genuine copy is still served from the cache.
    await license(bob);
    expect(rt.verifiedDocuments.stats().hits).toBeGreaterThan(after.hits);
  });

  it('a one-byte tampered copy of a cached PL misses the cache and fails verification', async () => {
    const alice = await clientWithPl('alice');
    await license(alice);
    const pl = alice.plChain[0]!;
    const i = pl.indexOf('alice@example.test');
    const tampered = `${pl.slice(0, i)}X${pl.slice(i + 1)}`;
    await expectCode(license(alice, undefined, [tampered, ...alice.plChain.slice(1)]), 'InvalidRightsLabelSignature');
  });

  it('a repeated Certify finds the machine certificate in the cache', async () => {
    const caller = await callerNamed(db.store, 'alice');
    const client = new FakeClient(clock.now());
    await rt.licensing.certify(caller, { machineChain: [client.spc], persistent: true });
    const before = rt.verifiedDocuments.stats();
    await rt.licensing.certify(caller, { machineChain: [client.spc], persistent: true });
    expect(rt.verifiedDocuments.stats().hits).toBe(before.hits + 1);
    expect(rt.verifiedDocuments.stats().misses).toBe(before.misses);
  });
});

describe('VerifiedDocuments', () => {
  const k1 = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
  const k2 = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;

  it('finds an entry only under the key that verified it and the kind it was read as', () => {
    const c = new VerifiedDocuments();
    c.remember('RAC', '<XrML/>', k1, 'rac');
    expect(c.lookup('RAC', '<XrML/>', [k2])).toBeUndefined();
    expect(c.lookup('CLC', '<XrML/>', [k1])).toBeUndefined();
    expect(c.lookup('RAC', '<XrML/> ', [k1])).toBeUndefined();
    // The same key material in another KeyObject is the same key.
    const copy = createPublicKey(k1.export({ format: 'pem', type: 'spki' }));
    expect(c.lookup('RAC', '<XrML/>', [k2, copy])).toEqual({ value: 'rac', key: k1 });
    expect(c.lookup('RAC', '<XrML/>', ['self'])).toBeUndefined();
    expect(c.stats()).toEqual({ entries: 1, maxEntries: 10_000, hits: 1, misses: 1 });
  });

  it('is bounded (least recently used out) and can be turned off', () => {
    const c = new VerifiedDocuments({ maxEntries: 2 });
    c.remember('PL', 'a', k1, 1);
    c.remember('PL', 'b', k1, 2);
    expect(c.lookup('PL', 'a', [k1])?.value).toBe(1);
    c.remember('PL', 'c', k1, 3);
    expect(c.lookup('PL', 'b', [k1])).toBeUndefined();
    expect(c.lookup('PL', 'a', [k1])?.value).toBe(1);
    expect(c.stats().entries).toBe(2);
    const off = new VerifiedDocuments({ maxEntries: 0 });
    off.remember('PL', 'a', k1, 1);
    expect(off.lookup('PL', 'a', [k1])).toBeUndefined();
    expect(off.stats().entries).toBe(0);
  });
});
