import path from 'node:path';
import type { RunningServer } from '@openrms/server';
import { ClusterClient } from '@openrms/soap';
import { openStore } from '@openrms/store';
import { addPeople, freePort, KEY_PASSWORD, person, provisionRoot, startMember } from './support/clusters';
import { sqliteDatabase, type TestDatabase } from './support/databases';
import { background, REPO, rmsctl, TSX_BIN } from './support/processes';

const NEW_PASSWORD = 'a-new-cluster-key-password-2';
const ENV = { OLD_KP: KEY_PASSWORD, NEW_KP: NEW_PASSWORD, WEAK_KP: 'short-pw', WRONG_KP: 'not-the-key-password' };

describe('rmsctl key change-password', () => {
  let db: TestDatabase;
  let member: RunningServer;
  let port: number;
  const bob = person('bob');
  const licensorCert = () => new ClusterClient({ baseUrl: `http://127.0.0.1:${port}/_wmcs`, credentials: bob, timeoutMs: 5000 }).getLicensorCertificate();
  const wrappedKey = async () => {
    const s = await openStore(db.url);
    try {
      return (await s.keys.getActive((await s.clusters.get()).id, 'cluster')).wrappedPrivateKey;
    } finally {
      await s.close();
    }
  };
  const serve = (envVar: string) =>
    background(TSX_BIN, [path.join(REPO, 'apps/cli/src/main.ts'), 'serve', '--database', db.url, '--listen', '127.0.0.1:0', '--key-password-env', envVar], { env: { ...ENV, RMS_LOG_LEVEL: 'warn' } });

  beforeAll(async () => {
    db = sqliteDatabase();
    port = await freePort();
    await provisionRoot(db, port);
    await addPeople(db, [bob]);
    member = await startMember(db, port, 'member-1');
  }, 60_000);

  afterAll(async () => {
    await member?.close();
    db?.dispose();
  });

  it('refuses a wrong current password (exit 4) and a weak new one (exit 2), changing nothing', async () => {
    const before = await wrappedKey();
    const wrong = rmsctl(['key', 'change-password', '--database', db.url, '--key-password-env', 'WRONG_KP', '--new-password-env', 'NEW_KP'], ENV);
    expect(wrong.code).toBe(4);
    expect(wrong.stderr).toMatch(/cluster key password is wrong/);
    const weak = rmsctl(['key', 'change-password', '--database', db.url, '--key-password-env', 'OLD_KP', '--new-password-env', 'WEAK_KP'], ENV);
    expect(weak.code).toBe(2);
    expect(weak.stderr).toMatch(/at least 12 characters/);
    expect(await wrappedKey()).toBe(before);
  }, 60_000);

  it('re-wraps the key once: the running member keeps serving, a new one needs the new password, audited without secrets', async () => {
    const chainBefore = await licensorCert();
    const before = await wrappedKey();

    const r = rmsctl(['key', 'change-password', '--database', db.url, '--key-password-env', 'OLD_KP', '--new-password-env', 'NEW_KP'], ENV);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/changed the cluster key password/);
    expect(await wrappedKey()).not.toBe(before);

    // The member holds the unwrapped key: it still answers, also after re-reading the database.
    expect(await licensorCert()).toEqual(chainBefore);
    await member.runtime.refresh();
    expect(await licensorCert()).toEqual(chainBefore);

    // A member started now: the old password is refused before listening, the new one works.
    const old = rmsctl(['serve', '--database', db.url, '--listen', '127.0.0.1:0', '--key-password-env', 'OLD_KP'], ENV);
    expect(old.code).toBe(4);
    expect(old.stderr).toMatch(/cluster key password is wrong/);
    expect(old.stdout).not.toMatch(/listening/);
    const srv = serve('NEW_KP');
    try {
      const [, url] = await srv.waitFor(/listening on (http:\/\/\S+)/);
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      expect(await new ClusterClient({ baseUrl: `${url}/_wmcs`, credentials: bob, timeoutMs: 5000 }).getLicensorCertificate()).toEqual(chainBefore);
    } finally {
      expect(await srv.stop()).toBe(0);
    }

    const s = await openStore(db.url);
    try {
      const entries = (await s.audit.list({ limit: 50 })).filter((a) => a.action === 'key.password.change');
      expect(entries).toHaveLength(1);
      expect(entries[0]!.actor).toBe('rmsctl');
      const text = JSON.stringify(entries[0]);
      for (const secret of [KEY_PASSWORD, NEW_PASSWORD]) expect(text).not.toContain(secret);
      expect(text).not.toContain(before);
    } finally {
      await s.close();
    }
  }, 120_000);
});
