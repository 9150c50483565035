import { createHash, createPublicKey } from 'node:crypto';
import { openStore } from '@openrms/store';
import { postgresDatabase, sqliteDatabase, type TestDatabase } from './support/databases';
import { background, rmsctl, TSX_BIN, REPO } from './support/processes';
import path from 'node:path';

const SECRETS = { ADMIN_PW: 'admin-password-1', KEY_PW: 'cluster-key-password-1', BOB_PW: 'bob-password-1' };

function provisionArgs(db: TestDatabase, extra: string[] = []): string[] {
  return [
    'provision', 'root',
    '--database', db.url,
    '--cluster-url', 'https://rms.example.test',
    '--service-account', 'rms-svc',
    '--admin', 'admin',
    '--admin-password-env', 'ADMIN_PW',
    '--key-password-env', 'KEY_PW',
    ...extra,
  ];
}

async function rowCounts(url: string): Promise<Record<string, number>> {
  const store = await openStore(url);
  try {
    const cluster = await store.clusters.find();
    return {
      principals: (await store.principals.list()).length,
      dacl: (await store.dacl.list()).length,
      chains: cluster ? (await store.slcChains.list(cluster.id)).length : 0,
      audit: (await store.audit.list({ limit: 1000 })).length,
    };
  } finally {
    await store.close();
  }
}

describe('rmsctl', () => {
  it('prints help for every command and exits 0', () => {
    const top = rmsctl(['--help']);
    expect(top.code).toBe(0);
    const commands = [...top.stdout.matchAll(/^ {2}rmsctl ([a-z ]+?)(?: NAME)?$/gm)].map((m) => m[1]!.split(' '));
    expect(commands.map((c) => c.join(' '))).toEqual(expect.arrayContaining(['provision root', 'serve', 'slc show', 'users add', 'groups add']));
    for (const c of commands) {
      const r = rmsctl([...c, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: rmsctl ${c.join(' ')}`);
    }
  });

  it('fails with one line and a non-zero code on bad usage', () => {
    for (const [args, code, msg] of [
      [['provision', 'root'], 2, /--database is required/],
      [['nope'], 2, /unknown command/],
      [['slc', 'show', '--database', 'sqlite:/tmp/x.db', '--bogus'], 2, /bogus/],
      [['slc', 'show', '--database', 'oracle://x'], 2, /sqlite:|postgres|mssql/],
      [['users', 'add', '--database', 'sqlite:/tmp/x.db', '--email', 'a@b.c', '--password-env', 'X'], 2, /expected NAME/],
    ] as [string[], number, RegExp][]) {
      const r = rmsctl(args);
      expect(r.code).toBe(code);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  describe.each([
    ['SQLite', sqliteDatabase],
    ['PostgreSQL', postgresDatabase],
  ])('on %s', (_label, makeDb) => {
    let db: TestDatabase;
    beforeAll(() => {
      db = makeDb();
    });
    afterAll(() => db.dispose());

    it('refuses to provision without the secrets it names, and writes nothing', async () => {
      const r = rmsctl(provisionArgs(db), { ADMIN_PW: SECRETS.ADMIN_PW });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/KEY_PW .*not set/);
      const weak = rmsctl(provisionArgs(db), { ADMIN_PW: SECRETS.ADMIN_PW, KEY_PW: 'short' });
      expect(weak.code).toBe(2);
      expect(weak.stderr).toMatch(/at least 12/);
      const s = await openStore(db.url, { migrate: true });
      expect(await s.clusters.find()).toBeUndefined();
      await s.close();
    });

    it('provisions once, and a second run refuses and changes nothing', async () => {
      const first = rmsctl(provisionArgs(db), SECRETS);
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      expect(first.stdout).toMatch(/provisioned root cluster .* at https:\/\/rms\.example\.test\/_wmcs/);
      const before = await rowCounts(db.url);
      expect(before.chains).toBe(1);
      const second = rmsctl(provisionArgs(db), SECRETS);
      expect(second.code).toBe(3);
      expect(second.stderr).toMatch(/already holds the root cluster .*nothing was changed/);
      expect(await rowCounts(db.url)).toEqual(before);
    });

    it('shows the SLC summary and the public key', () => {
      const s = rmsctl(['slc', 'show', '--database', db.url]);
      expect(s.code).toBe(0);
      expect(s.stdout).toMatch(/issuer: +OpenRMS Server Self Enrollment Service/);
      expect(s.stdout).toMatch(/chain length: 1/);
      expect(s.stdout).toMatch(/\((36[45]) days left\)/);
      const pem = rmsctl(['slc', 'show', '--database', db.url, '--pem']);
      expect(pem.code).toBe(0);
      expect(createPublicKey(pem.stdout).asymmetricKeyDetails?.modulusLength).toBe(2048);
      // The fingerprint is SHA-256 of the SPKI DER of that key, in plain lowercase hex (as `openssl
      // pkey -pubin -outform DER | sha256sum` prints); a root cluster's chain ends at its own key.
      const spki = createPublicKey(pem.stdout).export({ type: 'spki', format: 'der' });
      expect(s.stdout).toContain(`fingerprint:  ${createHash('sha256').update(spki).digest('hex')} (SHA-256 of the public key)\n`);
      expect(s.stdout).not.toMatch(/root key:/);
    });

    it('adds groups and users', async () => {
      expect(rmsctl(['groups', 'add', 'finance', '--database', db.url, '--email', 'finance@example.test']).code).toBe(0);
      const dup = rmsctl(['groups', 'add', 'FINANCE', '--database', db.url]);
      expect(dup.code).toBe(3);
      const u = rmsctl(['users', 'add', 'bob', '--database', db.url, '--email', 'bob@example.test', '--password-env', 'BOB_PW', '--group', 'finance'], SECRETS);
      expect(u.code).toBe(0);
      expect(u.stdout).toContain('added user bob <bob@example.test> in finance');
      const noGroup = rmsctl(['users', 'add', 'carol', '--database', db.url, '--email', 'carol@example.test', '--password-env', 'BOB_PW', '--group', 'nope'], SECRETS);
      expect(noGroup.code).toBe(5);
      const badMail = rmsctl(['users', 'add', 'dave', '--database', db.url, '--email', 'not-an-address', '--password-env', 'BOB_PW'], SECRETS);
      expect(badMail.code).toBe(2);
      const store = await openStore(db.url);
      try {
        const bob = await store.principals.getByName('bob');
        expect((await store.principals.groupsOf(bob.id)).map((g) => g.name)).toEqual(['finance']);
        expect(await store.principals.findByName('carol')).toBeUndefined();
        expect(bob.passwordHash).toMatch(/^scrypt\$/);
      } finally {
        await store.close();
      }
    });

    it('serve refuses a wrong key password before listening', async () => {
      const r = rmsctl(['serve', '--database', db.url, '--listen', '127.0.0.1:0', '--key-password-env', 'KEY_PW'], { KEY_PW: 'not-the-key-password' });
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/cluster key password is wrong/);
      expect(r.stdout).not.toMatch(/listening/);
    });

    it('serve starts with the right password and answers /readyz', async () => {
      const srv = background(TSX_BIN, [path.join(REPO, 'apps/cli/src/main.ts'), 'serve', '--database', db.url, '--listen', '127.0.0.1:0', '--key-password-env', 'KEY_PW'], {
        env: { KEY_PW: SECRETS.KEY_PW, RMS_LOG_LEVEL: 'warn' },
      });
      try {
        const [, url] = await srv.waitFor(/listening on (http:\/\/\S+)/);
        const ready = await fetch(`${url}/readyz`);
        expect(ready.status).toBe(200);
      } finally {
        expect(await srv.stop()).toBe(0);
      }
    });
  });
});
