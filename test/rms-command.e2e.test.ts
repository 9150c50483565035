import { execFile } from 'node:child_process';
import { createHash, createPublicKey } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseProtectedFile } from '@openrms/client';
import { parseXrml, readRac, readUseLicense } from '@openrms/xrml';
import { sqliteDatabase, tempDir, type TestDatabase } from './support/databases';
import { background, REPO, rmsctl, TSX_BIN, type Background } from './support/processes';
import { freePort } from './support/root-cluster';
import { xmlsecVerifies } from './support/xmlsec';

const run = promisify(execFile);

/** `pnpm rms …` as a person runs it (same entry, no shell). */
async function rms(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(TSX_BIN, [path.join(REPO, 'apps/rms/src/main.ts'), ...args], { cwd: REPO, env: { ...process.env, ...env }, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}


const PASSWORDS = { ADMIN_PW: 'admin-password-1', KEY_PW: 'cluster-key-password-1', ALICE_PW: 'alice-password-1', BOB_PW: 'bob-password-1', CAROL_PW: 'carol-password-1', DAVE_PW: 'dave-password-1', ERIN_PW: 'erin-password-1' };

describe('protecting and opening files with the rms command against a cluster member process', () => {
  let db: TestDatabase;
  let server: Background;
  let base: string;
  let dir: string;
  let env: Record<string, string>;
  const conn = (user: string) => ['--server', base, '--user', user, '--password-env', `${user.toUpperCase()}_PW`];

  beforeAll(async () => {
    db = sqliteDatabase();
    dir = tempDir('rms-e2e');
    env = { ...PASSWORDS, RMS_CLIENT_STATE_DIR: path.join(dir, 'state') };
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const prov = rmsctl(['provision', 'root', '--database', db.url, '--cluster-url', base, '--service-account', 'rms-svc', '--admin', 'admin', '--admin-password-env', 'ADMIN_PW', '--key-password-env', 'KEY_PW'], PASSWORDS);
    expect(prov.stderr).toBe('');
    expect(rmsctl(['groups', 'add', 'legal', '--database', db.url, '--email', 'legal@example.test']).code).toBe(0);
    for (const [u, extra] of [['alice', []], ['bob', []], ['carol', []], ['dave', ['--group', 'legal']], ['erin', []]] as [string, string[]][]) {
      const r = rmsctl(['users', 'add', u, '--database', db.url, '--email', `${u}@example.test`, '--password-env', `${u.toUpperCase()}_PW`, ...extra], PASSWORDS);
      expect(r.stderr).toBe('');
    }
    server = background(TSX_BIN, [path.join(REPO, 'apps/cli/src/main.ts'), 'serve', '--database', db.url, '--listen', `127.0.0.1:${port}`, '--key-password-env', 'KEY_PW'], {
      env: { KEY_PW: PASSWORDS.KEY_PW, RMS_LOG_LEVEL: 'warn' },
    });
    await server.waitFor(/listening on http/);
  });

  afterAll(async () => {
    await server?.stop();
    db?.dispose();
  });

  const plain = () => path.join(dir, 'report.txt');
  const protectedFile = () => path.join(dir, 'report.rms');

  it('alice protects a file for bob (VIEW) and erin; bob opens it and gets the same bytes', async () => {
    writeFileSync(plain(), 'The board meets on Thursday.\n');
    const p = await rms(['protect', plain(), '--out', protectedFile(), ...conn('alice'), '--grant', 'bob@example.test:VIEW', '--grant', 'erin@example.test:VIEW'], env);
    expect(p.code).toBe(0);
    expect(p.stderr).toMatch(/^(rms: note: trusting the server key [0-9a-f]{64} of http\S+ from now on \(first use\)\n)?$/);
    const o = await rms(['open', protectedFile(), '--out', path.join(dir, 'bob.txt'), ...conn('bob')], env);
    expect(o.code).toBe(0);
    expect(readFileSync(path.join(dir, 'bob.txt'))).toEqual(readFileSync(plain()));
    const info = await rms(['info', protectedFile()], env);
    expect(info.stdout).toMatch(/alice@example\.test/);
    expect(info.stdout).toContain(`${base}/_wmcs/licensing`);
  });

  it('rms (first use and info), rmsctl slc show and the admin overview print the same server key fingerprint', async () => {
    // A fresh state folder: the client trusts the server key on first use and says so.
    const fresh = { ...env, RMS_CLIENT_STATE_DIR: path.join(dir, 'state-fingerprint') };
    const p = await rms(['protect', plain(), '--out', path.join(dir, 'fp.rms'), ...conn('alice'), '--grant', 'bob@example.test:VIEW'], fresh);
    expect(p.code).toBe(0);
    const trusted = /trusting the server key ([0-9a-f]{64}) of /.exec(p.stderr)?.[1];
    expect(trusted).toBeDefined();
    const info = await rms(['info', path.join(dir, 'fp.rms')], fresh);
    expect(/^server key: +([0-9a-f]{64}) /m.exec(info.stdout)?.[1]).toBe(trusted);
    const slc = rmsctl(['slc', 'show', '--database', db.url]);
    expect(/^fingerprint: +([0-9a-f]{64}) /m.exec(slc.stdout)?.[1]).toBe(trusted);
    const page = await fetch(`${base}/_wmcs/admin/`, { headers: { authorization: `Basic ${Buffer.from(`admin:${PASSWORDS.ADMIN_PW}`).toString('base64')}` } });
    expect(page.status).toBe(200);
    expect(/id="key-fingerprint">([0-9a-f]{64})</.exec(await page.text())?.[1]).toBe(trusted);
    // The one definition: SHA-256 of the SPKI DER of the cluster key.
    const pem = rmsctl(['slc', 'show', '--database', db.url, '--pem']).stdout;
    expect(createHash('sha256').update(createPublicKey(pem).export({ type: 'spki', format: 'der' })).digest('hex')).toBe(trusted);
  });

  it('refuses carol with the no-rights fault and writes nothing', async () => {
    const o = await rms(['open', protectedFile(), '--out', path.join(dir, 'carol.txt'), ...conn('carol')], env);
    expect(o.code).not.toBe(0);
    expect(o.stderr).toMatch(/NoRightsForRequestedPrincipalException/);
    expect(existsSync(path.join(dir, 'carol.txt'))).toBe(false);
  });

  it('lets a super user open it once the policy is enabled (within one refresh)', async () => {
    const before = await rms(['open', protectedFile(), '--out', path.join(dir, 'dave.txt'), ...conn('dave')], env);
    expect(before.stderr).toMatch(/NoRightsForRequestedPrincipalException/);
    expect(rmsctl(['policy', 'super-users', '--database', db.url, '--enable', '--group', 'legal']).code).toBe(0);
    let after = before;
    for (let i = 0; i < 10 && after.code !== 0; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      after = await rms(['open', protectedFile(), '--out', path.join(dir, 'dave.txt'), ...conn('dave')], env);
    }
    expect(after.code).toBe(0);
    expect(readFileSync(path.join(dir, 'dave.txt'))).toEqual(readFileSync(plain()));
  });

  it('refuses an excluded user even though the file grants her VIEW', async () => {
    const ok = await rms(['open', protectedFile(), '--out', path.join(dir, 'erin1.txt'), ...conn('erin')], env);
    expect(ok.code).toBe(0);
    expect(rmsctl(['policy', 'exclude-user', '--database', db.url, '--email', 'erin@example.test']).code).toBe(0);
    let refused = ok;
    let out = '';
    for (let i = 0; i < 10 && refused.code === 0; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      out = path.join(dir, `erin-attempt-${i}.txt`);
      refused = await rms(['open', protectedFile(), '--out', out, ...conn('erin')], env);
    }
    expect(refused.stderr).toMatch(/DrmacIsExcludedException/);
    expect(existsSync(out)).toBe(false);
  });

  it('answers python3-zeep with raw XML arguments with the same documents our client gets, all verifying with xmlsec1', async () => {
    const bobState = path.join(dir, 'state', `bob@127.0.0.1_${new URL(base).port}`);
    const clientRac = (JSON.parse(readFileSync(path.join(bobState, 'rac-chain.json'), 'utf8')) as string[])[0]!;
    const header = parseProtectedFile(readFileSync(protectedFile())).header;
    const files = { spc: path.join(dir, 'spc.xml'), rac: path.join(dir, 'rac.xml'), pl: header.plChain.map((_, i) => path.join(dir, `pl${i}.xml`)) };
    writeFileSync(files.spc, readFileSync(path.join(bobState, 'spc.xml')));
    writeFileSync(files.rac, clientRac);
    header.plChain.forEach((x, i) => writeFileSync(files.pl[i]!, x));
    const { stdout } = await run('/usr/bin/python3', [path.join(__dirname, 'support', 'zeep_licensing.py'), base, 'bob', PASSWORDS.BOB_PW, files.spc, files.rac, ...files.pl], { timeout: 60_000 });
    const got = JSON.parse(stdout) as { certify: string[]; quota: { verified: boolean; current: number; maximum: number }; license: string[][] };

    // Certify: a RAC for the same identity and the same user key as the one our client holds.
    const zeepRac = readRac(parseXrml(got.certify[0]!));
    const ours = readRac(parseXrml(clientRac));
    expect(zeepRac.identity).toEqual(ours.identity);
    expect(zeepRac.publicKey.export({ format: 'pem', type: 'spki' })).toEqual(ours.publicKey.export({ format: 'pem', type: 'spki' }));
    expect(got.quota).toEqual({ verified: true, current: 5, maximum: 10 });

    // AcquireLicense: the same licensee, content and rights as the licence our client receives.
    const ul = readUseLicense(parseXrml(got.license[0]![0]!));
    expect(ul.licensee.identity.email).toBe('bob@example.test');
    expect(ul.rights.map((r) => r.right)).toEqual(['VIEW']);
    expect(ul.contentId).toBe(header.contentId);

    // Every certificate and licence either side got verifies with the key of the cluster (its SLC).
    const slcPem = rmsctl(['slc', 'show', '--database', db.url, '--pem']).stdout;
    const docs = [...got.certify, ...got.license[0]!, clientRac, header.plChain[1]!];
    for (const d of docs) expect(xmlsecVerifies(d, slcPem)).toBe(true);
    // ...and the offline PL with the key its CLC certifies, not with the cluster key.
    expect(xmlsecVerifies(header.plChain[0]!, slcPem)).toBe(false);
  });

  it('records every request, faults included, and rmsctl log tail shows them', async () => {
    let tail = '';
    for (let i = 0; i < 10 && !/DrmacIsExcluded/.test(tail); i++) {
      await new Promise((r) => setTimeout(r, 500));
      tail = rmsctl(['log', 'tail', '--database', db.url, '-n', '200']).stdout;
    }
    expect(tail).toMatch(/AcquireLicense +bob +ok/);
    expect(tail).toMatch(/AcquireLicense +carol +Microsoft\.DigitalRightsManagement\.Licensing\.NoRightsForRequestedPrincipalException/);
    expect(tail).toMatch(/Certify +alice +ok/);
  });
});
