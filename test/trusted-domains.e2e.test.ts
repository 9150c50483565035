import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseProtectedFile, RmsClient, RmsServiceClient, SoapTransport } from '@openrms/client';
import { parseGrantSpec } from '@openrms/domain';
import type { RunningServer } from '@openrms/server';
import { openStore } from '@openrms/store';
import { addPeople, freePort, KEY_PASSWORD, person, provisionRoot, startMember } from './support/clusters';
import { sqliteDatabase, tempDir, type TestDatabase } from './support/databases';
import { rmsctl } from './support/processes';

/*
 * Trusted user domains (PROTOCOL.md §6.1 trustedRacIssuers) between two root clusters: B licenses
 * content to alice, whose RAC root A issued, only while an administrator of B trusts A's SLC key.
 * Then trusted publishing domains: `trust publishing-domain remove` undoes a `key import`.
 */
describe('trusted domains between two root clusters (in-process members, SQLite)', () => {
  const alice = person('alice');
  const bob = person('bob');
  const PW = { KEY_PW: KEY_PASSWORD, EXPORT_PW: 'export-password-12' };
  let dbA: TestDatabase;
  let dbB: TestDatabase;
  let a: RunningServer;
  let b: RunningServer;
  let dir: string;

  beforeAll(async () => {
    dbA = sqliteDatabase();
    dbB = sqliteDatabase();
    dir = tempDir('trusted-domains');
    const [portA, portB] = [await freePort(), await freePort()];
    await provisionRoot(dbA, portA);
    await provisionRoot(dbB, portB);
    await addPeople(dbA, [alice]);
    await addPeople(dbB, [bob]);
    [a, b] = await Promise.all([startMember(dbA, portA, 'a1'), startMember(dbB, portB, 'b1')]);
  }, 120_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    dbA?.dispose();
    dbB?.dispose();
  });

  const client = (server: RunningServer, p: { name: string; password: string }) => new RmsClient({ serverUrl: server.url, user: p.name, password: p.password, stateDir: path.join(dir, p.name) });
  const racOf = (c: RmsClient) => JSON.parse(readFileSync(path.join(c.stateFolder, 'rac-chain.json'), 'utf8')) as string[];
  /** One AcquireLicense to B as bob (B's DACL wants an authenticated caller): 'ok' or the fault's short name. */
  const acquireAtB = async (racChain: string[], plChain: string[]): Promise<string> => {
    const service = new RmsServiceClient(new SoapTransport({ serverUrl: b.url, user: bob.name, password: bob.password }));
    try {
      const [item] = await service.acquireLicense([{ licenseeCerts: racChain, issuanceLicense: plChain }], `${b.url}/_wmcs/licensing/license.asmx`);
      if (item && 'chain' in item) return 'ok';
      return String((item?.error as { shortName?: string })?.shortName ?? item?.error);
    } catch (e) {
      return String((e as { shortName?: string }).shortName ?? (e as Error).message);
    }
  };
  /** B refreshes every 5 s: poll until the answer is `want`, within a deadline. */
  const eventually = async (f: () => Promise<string>, want: string, ms = 20_000): Promise<string> => {
    const until = Date.now() + ms;
    let got = await f();
    while (got !== want && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 500));
      got = await f();
    }
    return got;
  };
  const audit = async (db: TestDatabase, prefix: string) => {
    const store = await openStore(db.url);
    try {
      return (await store.audit.list({ limit: 200 })).filter((e) => e.action.startsWith(prefix));
    } finally {
      await store.close();
    }
  };

  test('B accepts A’s RACs only while A is a trusted user domain', async () => {
    // alice is certified by A; bob publishes on B for alice's address.
    const aliceAtA = client(a, alice);
    await aliceAtA.identity();
    const aliceRac = racOf(aliceAtA);
    const file = await client(b, bob).protect(Buffer.from('for alice of A'), { grants: parseGrantSpec(`${alice.email}:VIEW`) });
    const plChain = parseProtectedFile(file).header.plChain;
    const request = () => acquireAtB(aliceRac, plChain);

    expect(await request()).toBe('UntrustedPersonaCert');

    // What A's administrator hands over: `rmsctl slc show --pem` on A.
    const pem = rmsctl(['slc', 'show', '--database', dbA.url, '--pem']);
    expect(pem.code).toBe(0);
    const pemFile = path.join(dir, 'a-slc.pem');
    writeFileSync(pemFile, pem.stdout);
    const add = rmsctl(['trust', 'user-domain', 'add', '--database', dbB.url, '--slc-file', pemFile, '--name', 'cluster A']);
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    const fingerprint = /sha256:([0-9a-f]{64})/.exec(add.stdout)![1]!;
    const show = rmsctl(['slc', 'show', '--database', dbA.url]);
    expect(show.stdout).toContain(fingerprint);
    // The same key again is refused (exit 3), as is B's own key.
    expect(rmsctl(['trust', 'user-domain', 'add', '--database', dbB.url, '--slc-file', pemFile, '--name', 'again']).code).toBe(3);
    const ownPem = path.join(dir, 'b-slc.pem');
    writeFileSync(ownPem, rmsctl(['slc', 'show', '--database', dbB.url, '--pem']).stdout);
    expect(rmsctl(['trust', 'user-domain', 'add', '--database', dbB.url, '--slc-file', ownPem]).code).toBe(2);

    const listed = JSON.parse(rmsctl(['trust', 'user-domain', 'list', '--database', dbB.url, '--json']).stdout) as { name: string; fingerprint: string; kind: string }[];
    expect(listed).toEqual([expect.objectContaining({ name: 'cluster A', fingerprint, kind: 'imported' })]);
    expect(rmsctl(['trust', 'user-domain', 'list', '--database', dbB.url]).stdout).toContain(fingerprint);

    // Within B's refresh, alice's RAC from A gets her a licence on B (licensed by e-mail).
    expect(await eventually(request, 'ok')).toBe('ok');

    // The overview page shows it, read-only.
    const page = await fetch(`${b.url}/_wmcs/admin/`, { headers: { authorization: `Basic ${Buffer.from('root-admin:root-admin-password').toString('base64')}` } });
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain('Trusted user domains');
    expect(html).toContain(fingerprint);

    // Removed by fingerprint prefix, refused again after the refresh.
    expect(rmsctl(['trust', 'user-domain', 'remove', '--database', dbB.url, 'nobody']).code).toBe(5);
    const rm = rmsctl(['trust', 'user-domain', 'remove', '--database', dbB.url, `sha256:${fingerprint.slice(0, 12)}`]);
    expect(rm.stderr).toBe('');
    expect(rm.stdout).toMatch(/removed trusted user domain cluster A/);
    expect(await eventually(request, 'UntrustedPersonaCert')).toBe('UntrustedPersonaCert');
    expect(JSON.parse(rmsctl(['trust', 'user-domain', 'list', '--database', dbB.url, '--json']).stdout)).toEqual([]);

    const rows = await audit(dbB, 'trust.user-domain.');
    expect(rows.map((r) => [r.action, r.target]).sort()).toEqual([
      ['trust.user-domain.add', 'cluster A'],
      ['trust.user-domain.remove', 'cluster A'],
    ]);
  }, 180_000);

  test('an SLC in XrML is accepted too, named after the SLC', async () => {
    const store = await openStore(dbA.url);
    let chain: string[];
    try {
      chain = (await store.slcChains.getActive((await store.clusters.get()).id)).chain;
    } finally {
      await store.close();
    }
    const xmlFile = path.join(dir, 'a-slc.xml');
    writeFileSync(xmlFile, chain.join('\n'));
    const add = rmsctl(['trust', 'user-domain', 'add', '--database', dbB.url, '--slc-file', xmlFile, '--json']);
    expect(add.stderr).toBe('');
    const d = JSON.parse(add.stdout) as { name: string; serverGuid: string };
    expect(d.serverGuid).toBeTruthy();
    expect(rmsctl(['trust', 'user-domain', 'remove', '--database', dbB.url, d.name]).code).toBe(0);
    // A tampered SLC does not verify.
    const bad = path.join(dir, 'a-slc-bad.xml');
    const tampered = chain[0]!.replace(/<NAME>([^<]*)<\/NAME>/, '<NAME>$1x</NAME>');
    expect(tampered).not.toBe(chain[0]);
    writeFileSync(bad, tampered);
    const refused = rmsctl(['trust', 'user-domain', 'add', '--database', dbB.url, '--slc-file', bad, '--name', 'tampered']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/does not verify/);
  }, 120_000);

  test('trust publishing-domain remove undoes a key import', async () => {
    const exportFile = path.join(dir, 'a-export.pem');
    expect(rmsctl(['key', 'export', '--database', dbA.url, '--key-password-env', 'KEY_PW', '--out', exportFile, '--password-env', 'EXPORT_PW'], PW).code).toBe(0);
    // Published on A for bob's address; bob's RAC from B asks B.
    const file = await client(a, alice).protect(Buffer.from('for bob'), { grants: parseGrantSpec(`${bob.email}:VIEW`) });
    const plChain = parseProtectedFile(file).header.plChain;
    const bobAtB = client(b, bob);
    await bobAtB.identity();
    const request = () => acquireAtB(racOf(bobAtB), plChain);
    expect(await request()).toBe('InvalidRightsLabelSignature');

    const imp = rmsctl(['trust', 'publishing-domain', 'import', '--database', dbB.url, '--key-password-env', 'KEY_PW', '--in', exportFile, '--password-env', 'EXPORT_PW'], PW);
    expect(imp.stderr).toBe('');
    expect(await eventually(request, 'ok')).toBe('ok');
    const [domain] = JSON.parse(rmsctl(['trust', 'publishing-domain', 'list', '--database', dbB.url, '--json']).stdout) as { serverGuid: string; publicKeySha256: string }[];
    expect(domain).toBeDefined();

    const rm = rmsctl(['trust', 'publishing-domain', 'remove', '--database', dbB.url, domain!.serverGuid]);
    expect(rm.stderr).toBe('');
    expect(rm.stdout).toContain(domain!.publicKeySha256);
    expect(JSON.parse(rmsctl(['trust', 'publishing-domain', 'list', '--database', dbB.url, '--json']).stdout)).toEqual([]);
    expect(await eventually(request, 'InvalidRightsLabelSignature')).toBe('InvalidRightsLabelSignature');
    // The sealed key is gone from the store, not only deactivated.
    const store = await openStore(dbB.url);
    try {
      const rows = (await store.keys.list((await store.clusters.get()).id)).filter((k) => k.purpose === 'publishing-domain');
      expect(rows.map((k) => [k.active, JSON.parse(k.wrappedPrivateKey).format])).toEqual([[false, 'removed']]);
    } finally {
      await store.close();
    }
    expect((await audit(dbB, 'trust.publishing-domain.')).map((r) => r.action).sort()).toEqual(['trust.publishing-domain.import', 'trust.publishing-domain.remove']);
    // `key import` still works after a remove.
    expect(rmsctl(['key', 'import', '--database', dbB.url, '--key-password-env', 'KEY_PW', '--in', exportFile, '--password-env', 'EXPORT_PW'], PW).code).toBe(0);
  }, 180_000);
});
