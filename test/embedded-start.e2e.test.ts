import { statSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { background, REPO, TSX_BIN } from './support/processes';
import { tempDir } from './support/databases';

/** `pnpm start` runs exactly this entry; RMS_DATA_DIR keeps the test away from the checkout's ./data. */
function start(dataDir: string) {
  return background(TSX_BIN, [path.join(REPO, 'apps/server/src/start-embedded.ts')], {
    env: { RMS_DATA_DIR: dataDir, RMS_LISTEN: '127.0.0.1:0', RMS_LOG_LEVEL: 'warn' },
  });
}

describe('the embedded default (pnpm start)', () => {
  it('provisions a root cluster on first start, keeps its secrets 0600, and reuses it on the next start', async () => {
    const dir = tempDir('embedded');
    const first = start(dir);
    let clusterId: string;
    try {
      await first.waitFor(/Provisioned a root cluster/);
      const [, file] = await first.waitFor(/are in (\S+credentials\.json) \(mode 0600\)/);
      expect(file).toBe(path.join(dir, 'credentials.json'));
      expect(statSync(file!).mode & 0o777).toBe(0o600);
      const creds = JSON.parse(readFileSync(file!, 'utf8')) as { adminName: string; adminPassword: string; keyPassword: string; databaseUrl: string };
      expect(creds.databaseUrl).toBe(`sqlite:${path.join(dir, 'openrms.db')}`);
      expect(creds.keyPassword.length).toBeGreaterThanOrEqual(20);
      const [, url] = await first.waitFor(/listening on (http:\/\/\S+) /);
      const ready = (await (await fetch(`${url}/readyz`)).json()) as { status: string; cluster: { id: string; kind: string } };
      expect(ready.status).toBe('ready');
      expect(ready.cluster.kind).toBe('root');
      clusterId = ready.cluster.id;
      // The generated administrator can call the Server service.
      const auth = `Basic ${Buffer.from(`${creds.adminName}:${creds.adminPassword}`).toString('base64')}`;
      const r = await fetch(`${url}/_wmcs/licensing/server.asmx`, {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'text/xml; charset=utf-8', soapaction: 'http://microsoft.com/DRM/ServerService/GetServerInfo' },
        body: '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetServerInfo xmlns="http://microsoft.com/DRM/ServerService"><requests><ServerInfoRequest><Type>VersionInfo</Type></ServerInfoRequest></requests></GetServerInfo></soap:Body></soap:Envelope>',
      });
      expect(r.status).toBe(200);
      // The password is never printed.
      expect(first.output()).not.toContain(creds.adminPassword);
      expect(first.output()).not.toContain(creds.keyPassword);
    } finally {
      expect(await first.stop()).toBe(0);
    }

    const second = start(dir);
    try {
      await second.waitFor(/Using the root cluster in/);
      const [, url] = await second.waitFor(/listening on (http:\/\/\S+) /);
      const ready = (await (await fetch(`${url}/readyz`)).json()) as { cluster: { id: string } };
      expect(ready.cluster.id).toBe(clusterId!);
      expect(second.output()).not.toMatch(/Provisioned/);
    } finally {
      await second.stop();
    }
  });
});
