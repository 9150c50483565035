import { execFileSync } from 'node:child_process';
import { request } from 'node:https';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { loadServerConfig } from '@openrms/config';
import { provisionRootCluster } from '@openrms/issuance';
import { startServer } from '@openrms/server';
import { sqliteDatabase, tempDir } from './support/databases';

function get(url: string, ca: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('TLS', () => {
  it('serves HTTPS with the configured certificate and key, and refuses half a configuration', async () => {
    const dir = tempDir('tls');
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'pipe' });
    const db = sqliteDatabase();
    await provisionRootCluster({
      databaseUrl: db.url,
      clusterUrl: 'https://127.0.0.1/_wmcs',
      serviceAccount: 'svc',
      admin: { name: 'alice', password: 'alice-password-1' },
      keyPassword: 'cluster-key-password',
      revocation: { kind: 'standard' },
    });
    const env = { KP: 'cluster-key-password', RMS_LOG_LEVEL: 'silent' };
    expect(() => loadServerConfig({ database: db.url, keyPasswordEnv: 'KP', tlsCert: cert }, env)).toThrow(/both a certificate and a key/);
    const server = await startServer(loadServerConfig({ database: db.url, listen: '127.0.0.1:0', keyPasswordEnv: 'KP', tlsCert: cert, tlsKey: key }, env));
    try {
      expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const ca = readFileSync(cert);
      const ready = await get(`${server.url}/readyz`, ca);
      expect(ready.status).toBe(200);
      const wsdl = await get(`${server.url}/_wmcs/licensing/server.asmx?wsdl`, ca);
      expect(wsdl.body).toContain(`location="${server.url}/_wmcs/licensing/server.asmx"`);
      // Without trusting the certificate the client refuses: it is really TLS.
      await expect(get(`${server.url}/readyz`, Buffer.from(''))).rejects.toThrow();
    } finally {
      await server.close();
      db.dispose();
    }
  });
});
