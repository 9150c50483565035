import path from 'node:path';
import { openStore } from '@openrms/store';
import { sqliteDatabase, tempDir } from './support/databases';
import { background, REPO, rmsctl, TSX_BIN } from './support/processes';
import { freePort } from './support/root-cluster';
import { envelope, postSoap, versionData } from './support/soap-client';

/*
 * A member killed with SIGKILL right after answering loses no request-log row: each row is in its
 * spool file before the answer leaves, and the next start writes what the database lacks.
 */
const SECRETS = { KEY_PW: 'cluster-key-password-1', ADMIN_PW: 'admin-password-1' };
const SERVER_NS = 'http://microsoft.com/DRM/ServerService';

describe('request log across a crash of a member', () => {
  it('keeps every row of answered requests, exactly once, when the member is killed and started again', async () => {
    const db = sqliteDatabase();
    const stateDir = tempDir('request-log-state');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const prov = rmsctl(['provision', 'root', '--database', db.url, '--cluster-url', url, '--service-account', 'rms-svc', '--admin', 'admin', '--admin-password-env', 'ADMIN_PW', '--key-password-env', 'KEY_PW', '--server-name', 'm1'], SECRETS);
    expect(prov.stderr).toBe('');
    const serve = () =>
      background(TSX_BIN, [path.join(REPO, 'apps/cli/src/main.ts'), 'serve', '--database', db.url, '--listen', `127.0.0.1:${port}`, '--key-password-env', 'KEY_PW', '--server-name', 'm1', '--state-dir', stateDir], {
        env: { KEY_PW: SECRETS.KEY_PW, RMS_LOG_LEVEL: 'warn' },
      });
    let member = serve();
    try {
      await member.waitFor(/listening on/);
      const body = envelope({ header: versionData(SERVER_NS), body: `<GetLicensorCertificate xmlns="${SERVER_NS}"/>` });
      const ids: string[] = [];
      for (let i = 0; i < 25; i++) {
        const r = await postSoap({ url: `${url}/_wmcs/licensing/server.asmx`, action: `${SERVER_NS}/GetLicensorCertificate`, auth: { name: 'admin', password: SECRETS.ADMIN_PW }, body });
        expect(r.status).toBe(200);
        ids.push(r.headers.get('x-request-id')!);
      }
      // At once, before the background writer's next flush (every second).
      member.killGroup('SIGKILL');
      await member.exited();
      const store = await openStore(db.url);
      try {
        const before = new Set((await store.requestLog.tail(1000)).map((r) => r.requestId));
        const lost = ids.filter((id) => !before.has(id));
        member = serve();
        await member.waitFor(/listening on/);
        const after = (await store.requestLog.tail(1000)).map((r) => r.requestId);
        for (const id of ids) expect(after.filter((x) => x === id)).toHaveLength(1);
        if (lost.length > 0) expect(member.output()).toMatch(/request-log rows of an earlier run/);
        process.stdout.write(`request-log crash test: ${lost.length} of ${ids.length} rows were not yet in the database at the kill, all recovered\n`);
      } finally {
        await store.close();
      }
    } finally {
      await member.stop();
      db.dispose();
    }
  }, 240_000);
});
