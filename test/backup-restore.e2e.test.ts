import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { contentAad, parseProtectedFile, RmsClient, RmsServiceClient, SoapTransport } from '@openrms/client';
import { RsaKeyPair } from '@openrms/keys';
import { openStore } from '@openrms/store';
import { parseXrml, readCertificate, readRac, readUseLicense, verifyChain } from '@openrms/xrml';
import { sqliteDatabase, tempDir, type TestDatabase } from './support/databases';
import { background, REPO, rmsctl, TSX_BIN, type Background } from './support/processes';
import { freePort } from './support/root-cluster';

/*
 * Disaster-recovery drills against real member processes and the real client:
 * (a) back up a SQLite cluster while it serves, destroy its database, restore it, and open a file
 *     protected before the loss;
 * (b) export cluster A's key, import it into a new cluster B as a trusted publishing domain, and
 *     have B issue the use licence for a file A's users protected.
 */

const PW = {
  ADMIN_PW: 'admin-password-1',
  KEY_PW: 'cluster-key-password-1',
  KEY_B_PW: 'cluster-b-key-password-1',
  EXPORT_PW: 'export-password-for-a-1',
  WRONG_PW: 'not-the-export-password',
  ALICE_PW: 'alice-password-1',
  BOB_PW: 'bob-password-1',
};

function provision(db: TestDatabase, base: string, keyEnv: string): void {
  const p = rmsctl(['provision', 'root', '--database', db.url, '--cluster-url', base, '--service-account', 'rms-svc', '--admin', 'admin', '--admin-password-env', 'ADMIN_PW', '--key-password-env', keyEnv], PW);
  expect(p.stderr).toBe('');
  for (const u of ['alice', 'bob']) {
    const r = rmsctl(['users', 'add', u, '--database', db.url, '--email', `${u}@example.test`, '--password-env', `${u.toUpperCase()}_PW`], PW);
    expect(r.stderr).toBe('');
  }
}

async function serve(db: TestDatabase, port: number, keyEnv: string): Promise<Background> {
  const server = background(TSX_BIN, [path.join(REPO, 'apps/cli/src/main.ts'), 'serve', '--database', db.url, '--listen', `127.0.0.1:${port}`, '--key-password-env', keyEnv], {
    env: { [keyEnv]: PW[keyEnv as keyof typeof PW], RMS_LOG_LEVEL: 'warn' },
  });
  await server.waitFor(/listening on http/);
  return server;
}

describe('backup, restore and trusted publishing domain drills', () => {
  const dir = tempDir('dr-drill');
  const stateDir = path.join(dir, 'state');
  const plain = Buffer.from('Minutes of the board, 3 March: approved.\n');
  let dbA: TestDatabase;
  let dbB: TestDatabase;
  let portA: number;
  let baseA: string;
  let server: Background | undefined;
  let serverB: Background | undefined;
  let protectedFile: Buffer;
  const client = (base: string, user: 'alice' | 'bob') => new RmsClient({ serverUrl: base, user, password: PW[`${user.toUpperCase()}_PW` as 'ALICE_PW'], stateDir });

  beforeAll(async () => {
    dbA = sqliteDatabase();
    dbB = sqliteDatabase();
    portA = await freePort();
    baseA = `http://127.0.0.1:${portA}`;
    provision(dbA, baseA, 'KEY_PW');
    server = await serve(dbA, portA, 'KEY_PW');
    protectedFile = await client(baseA, 'alice').protect(plain, { grants: [{ right: 'VIEW', grantee: { kind: 'email', email: 'bob@example.test' } }] });
  }, 240_000);

  afterAll(async () => {
    await server?.stop();
    await serverB?.stop();
    dbA?.dispose();
    dbB?.dispose();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('(a) restores a backup taken while the member served; the file protected before the loss still opens', async () => {
    const backup = path.join(dir, 'a.backup');
    const b = rmsctl(['backup', '--database', dbA.url, '--out', backup]);
    expect(b.stderr).toBe('');
    expect(b.code).toBe(0);
    expect(statSync(backup).mode & 0o777).toBe(0o600);
    expect(rmsctl(['backup', '--database', dbA.url, '--out', backup]).code).toBe(3);

    await server!.stop();
    server = undefined;
    const file = dbA.url.slice('sqlite:'.length);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
    expect(existsSync(file)).toBe(false);

    // Not a configuration database: refused before anything is written.
    const junk = path.join(dir, 'junk.db');
    writeFileSync(junk, 'not a database');
    const refused = rmsctl(['restore', '--in', junk, '--database', dbA.url]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/not a usable OpenRMS configuration database/);
    expect(existsSync(file)).toBe(false);

    const r = rmsctl(['restore', '--in', backup, '--database', dbA.url]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/restored root cluster/);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    server = await serve(dbA, portA, 'KEY_PW');
    const opened = await client(baseA, 'bob').open(protectedFile);
    expect(opened.content).toEqual(plain);
    expect(opened.rights).toEqual(['VIEW']);

    const store = await openStore(dbA.url);
    try {
      const actions = (await store.audit.list({ limit: 50 })).map((e) => e.action);
      expect(actions).toEqual(expect.arrayContaining(['database.restore']));
    } finally {
      await store.close();
    }
  }, 240_000);

  it('(b) imports cluster A’s exported key into a new cluster B, which then licenses A’s content', async () => {
    // Export: an encrypted PKCS#8 key openssl reads with the export password only.
    const exportFile = path.join(dir, 'cluster-a.pem');
    const e = rmsctl(['key', 'export', '--database', dbA.url, '--key-password-env', 'KEY_PW', '--out', exportFile, '--password-env', 'EXPORT_PW'], PW);
    expect(e.stderr).toBe('');
    expect(statSync(exportFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(exportFile, 'utf8')).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    const ok = spawnSync('openssl', ['pkey', '-in', exportFile, '-passin', 'env:EXPORT_PW', '-noout'], { env: { ...process.env, ...PW } });
    expect(ok.status).toBe(0);
    const wrong = spawnSync('openssl', ['pkey', '-in', exportFile, '-passin', 'env:WRONG_PW', '-noout'], { env: { ...process.env, ...PW } });
    expect(wrong.status).not.toBe(0);

    // A new root cluster B with its own key; bob has an account there too.
    const portB = await freePort();
    const baseB = `http://127.0.0.1:${portB}`;
    provision(dbB, baseB, 'KEY_B_PW');
    serverB = await serve(dbB, portB, 'KEY_B_PW');
    const bobAtB = client(baseB, 'bob');
    await bobAtB.identity();
    const racChain = JSON.parse(readFileSync(path.join(bobAtB.stateFolder, 'rac-chain.json'), 'utf8')) as string[];
    const rac = readRac(parseXrml(racChain[0]!));
    const machineKey = RsaKeyPair.unwrap(readFileSync(path.join(bobAtB.stateFolder, 'machine-key.json'), 'utf8'), PW.BOB_PW, 'machine key');
    const racKey = machineKey.unsealKeyPair(rac.enablingBits!, 'rac-private-key');

    const parts = parseProtectedFile(protectedFile);
    const service = new RmsServiceClient(new SoapTransport({ serverUrl: baseB, user: 'bob', password: PW.BOB_PW }));
    const acquire = () => service.acquireLicense([{ licenseeCerts: racChain, issuanceLicense: parts.header.plChain }], `${baseB}/_wmcs/licensing/license.asmx`);

    // Before the import, A's PL is not B's business: its CLC chain ends at a key B does not trust.
    await expect(acquire()).rejects.toMatchObject({ shortName: 'InvalidRightsLabelSignature', message: expect.stringMatching(/not issued by this cluster or a trusted publishing domain/) });

    // Import refuses a wrong password, then accepts the right one (while B serves).
    const bad = rmsctl(['key', 'import', '--database', dbB.url, '--key-password-env', 'KEY_B_PW', '--in', exportFile, '--password-env', 'WRONG_PW'], PW);
    expect(bad.code).toBe(4);
    const imp = rmsctl(['key', 'import', '--database', dbB.url, '--key-password-env', 'KEY_B_PW', '--in', exportFile, '--password-env', 'EXPORT_PW'], PW);
    expect(imp.stderr).toBe('');
    expect(imp.stdout).toMatch(/trusted publishing domain/);
    const listed = JSON.parse(rmsctl(['trust', 'publishing-domain', 'list', '--database', dbB.url, '--json']).stdout) as { url: string }[];
    expect(listed.map((d) => d.url)).toEqual([`${baseA}/_wmcs`]);

    // B's members pick the domain up at their next refresh.
    let answer: Awaited<ReturnType<typeof acquire>> | undefined;
    for (let i = 0; i < 15 && !answer; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      answer = await acquire().catch(() => undefined);
    }
    expect(answer).toBeDefined();
    const item = answer![0]!;
    if (!('chain' in item)) throw item.error;

    // Signed by B with B's own chain; for bob; the content key opens with bob's RAC key from B.
    const slcB = (await openStore(dbB.url).then(async (s) => {
      try {
        return (await s.slcChains.getActive((await s.clusters.get()).id)).chain;
      } finally {
        await s.close();
      }
    }));
    expect(item.chain.slice(1)).toEqual(slcB);
    const bKey = readCertificate(parseXrml(slcB[slcB.length - 1]!)).principal.publicKey;
    verifyChain(item.chain, { trustedRootKeys: [bKey], now: new Date() });
    const ul = readUseLicense(parseXrml(item.chain[0]!));
    expect(ul.licensee.identity.email).toBe('bob@example.test');
    expect(ul.rights.map((r) => r.right)).toEqual(['VIEW']);
    const contentKey = racKey.unsealContentKey(ul.rights[0]!.enablingBits);
    expect(contentKey.decrypt(parts.encryptedContent, contentAad(parts.headerBytes))).toEqual(plain);

    // Both sides audited, no secret in either entry.
    for (const [db, action] of [[dbA, 'key.export'], [dbB, 'trust.publishing-domain.import']] as const) {
      const store = await openStore(db.url);
      try {
        const entries = (await store.audit.list({ limit: 50 })).filter((x) => x.action === action);
        expect(entries).toHaveLength(1);
        const text = JSON.stringify(entries);
        for (const secret of Object.values(PW)) expect(text).not.toContain(secret);
        expect(text).not.toMatch(/PRIVATE KEY/);
      } finally {
        await store.close();
      }
    }
  }, 300_000);
});
