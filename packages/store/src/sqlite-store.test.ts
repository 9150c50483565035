import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { knex } from 'knex';
import { beginImmediate } from './immediate-sqlite-client';
import { openStore } from './store';
import { describeStoreContract, expectRmsError } from './testing/describe-store-contract';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'openrms-store-'));
}

// A file in a folder that does not exist yet: openStore must create it.
describeStoreContract('sqlite file', async () => {
  const dir = tempDir();
  return {
    url: `sqlite:${path.join(dir, 'data', 'nested', 'rms.db')}`,
    dispose: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
});

describe('sqlite specifics', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir();
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('the file is in WAL mode after opening', async () => {
    const file = path.join(dir, 'wal', 'rms.db');
    const store = await openStore(`sqlite:${file}`, { migrate: true });
    await store.close();
    // A plain connection that sets no pragmas: WAL is a property of the file once set.
    const raw = knex({ client: 'better-sqlite3', connection: { filename: file }, useNullAsDefault: true });
    try {
      expect(await raw.raw('pragma journal_mode')).toEqual([{ journal_mode: 'wal' }]);
    } finally {
      await raw.destroy();
    }
  });

  test('statements kept prepared keep working when another process changes the schema', async () => {
    const file = path.join(dir, 'statements', 'rms.db');
    const store = await openStore(`sqlite:${file}`, { migrate: true });
    try {
      // The same SQL texts with different bindings, again and again: one prepared statement each.
      for (let i = 0; i < 20; i++) await store.settings.set(`k${i % 3}`, i);
      expect(await store.settings.get('k0')).toBe(18);
      expect(await store.settings.get('k2')).toBe(17);
      const other = knex({ client: 'better-sqlite3', connection: { filename: file }, useNullAsDefault: true });
      try {
        await other.raw('alter table settings add column extra text');
        await other.raw('create table unrelated (id integer primary key)');
      } finally {
        await other.destroy();
      }
      await store.settings.set('k0', 'after');
      expect(await store.settings.get('k0')).toBe('after');
      expect(await store.settings.get('k1')).toBe(19);
      await expect(store.transaction(async (tx) => {
        await tx.settings.set('k1', 'rolled back');
        throw new Error('undo');
      })).rejects.toThrow('undo');
      expect(await store.settings.get('k1')).toBe(19);
    } finally {
      await store.close();
    }
  });

  test('sqlite::memory: works for throw-away stores', async () => {
    const store = await openStore('sqlite::memory:', { migrate: true });
    try {
      await store.settings.set('k', [1]);
      expect(await store.settings.get('k')).toEqual([1]);
    } finally {
      await store.close();
    }
  });

  test('a relative path resolves against the working directory', async () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const store = await openStore('sqlite:./rel/rms.db', { create: true });
      await store.close();
      expect(fs.existsSync(path.join(dir, 'rel', 'rms.db'))).toBe(true);
    } finally {
      process.chdir(cwd);
    }
  });

  test('a transaction or a write waits for another connection\'s write lock without stopping the event loop', async () => {
    const file = path.join(dir, 'lock-wait', 'rms.db');
    const store = await openStore(`sqlite:${file}`, { migrate: true });
    // Another connection (as another server process would) holds the write lock.
    const holder = new Database(file);
    try {
      holder.exec('BEGIN IMMEDIATE');
      let settled = false;
      const waiting = store
        .transaction(async (tx) => {
          await tx.settings.set('after-the-lock', 1);
          await tx.issued.recordMany([]);
        })
        .finally(() => {
          settled = true;
        });
      // Timers keep firing while it waits: SQLite's busy handler would have held this thread
      // (and so the holder, in this test) until the busy timeout, and then failed.
      for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 5));
      expect(settled).toBe(false);
      holder.exec('COMMIT');
      await waiting;
      expect(await store.settings.get('after-the-lock')).toBe(1);

      // A write outside a transaction (one INSERT) waits the same way.
      holder.exec('BEGIN IMMEDIATE');
      let written = false;
      const write = store.requestLog
        .appendMany([{ at: new Date(), operation: 'Certify', endpoint: '/certification', result: 'ok', durationMs: 1, requestId: 'while-locked' }])
        .finally(() => {
          written = true;
        });
      for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 5));
      expect(written).toBe(false);
      holder.exec('COMMIT');
      expect(await write).toBe(1);
      expect(await store.requestLog.existingRequestIds(['while-locked'])).toEqual(new Set(['while-locked']));

      // Straight on a connection: it begins once the lock is free and keeps its busy timeout.
      const waiter = new Database(file);
      try {
        waiter.pragma('busy_timeout = 4321');
        holder.exec('BEGIN IMMEDIATE');
        let begun = false;
        const begin = beginImmediate(waiter).then(() => {
          begun = true;
        });
        for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 5));
        expect(begun).toBe(false);
        holder.exec('ROLLBACK');
        await begin;
        expect(waiter.inTransaction).toBe(true);
        waiter.exec('ROLLBACK');
        expect(waiter.pragma('busy_timeout', { simple: true })).toBe(4321);

        // The lock never comes within the busy timeout: SQLITE_BUSY, as before.
        waiter.pragma('busy_timeout = 30');
        holder.exec('BEGIN IMMEDIATE');
        await expect(beginImmediate(waiter)).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
        expect(waiter.pragma('busy_timeout', { simple: true })).toBe(30);
        holder.exec('ROLLBACK');
      } finally {
        waiter.close();
      }
    } finally {
      holder.close();
      await store.close();
    }
  });

  test('several processes writing one file wait for each other instead of failing', async () => {
    const url = `sqlite:${path.join(dir, 'shared', 'rms.db')}`;
    const setup = await openStore(url, { migrate: true });
    await setup.close();

    const processes = 3;
    const rounds = 25;
    const script = path.join(__dirname, 'testing', 'sqlite-contender.ts');
    const repoRoot = path.resolve(__dirname, '..', '..', '..');
    const runs = Array.from(
      { length: processes },
      () =>
        new Promise<void>((resolve, reject) => {
          const child = spawn(process.execPath, ['--import', 'tsx', script, url, String(rounds)], {
            cwd: repoRoot,
            stdio: ['ignore', 'ignore', 'pipe'],
          });
          let stderr = '';
          child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
          child.on('error', reject);
          child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`contender exited ${code}: ${stderr}`))));
        }),
    );
    await Promise.all(runs);

    const store = await openStore(url);
    try {
      // Each round reads the counter and writes it back + 1 in one transaction; a lost update
      // or a SQLITE_BUSY failure would show here.
      expect(await store.settings.get('contended')).toBe(processes * rounds);
    } finally {
      await store.close();
    }
  }, 120_000);
});

describe('sqlite open failures', () => {
  test('a folder that cannot be created is Unavailable', async () => {
    const dir = tempDir();
    try {
      fs.writeFileSync(path.join(dir, 'file'), '');
      const e = await expectRmsError(openStore(`sqlite:${path.join(dir, 'file', 'rms.db')}`, { create: true }), 'Unavailable');
      expect(e.message).toContain(path.join(dir, 'file'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
