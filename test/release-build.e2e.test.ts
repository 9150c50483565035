import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { tempDir } from './support/databases';
import { background, type Background, REPO } from './support/processes';
import { ensureBuilt, groupMembers, startedRequest, refusesConnections } from './support/member-processes';

/**
 * The release: the bundles `pnpm build` writes to apps/<app>/dist, run with plain `node` (no tsx),
 * as production runs them (docs/adr/0006-typescript-runs-from-source.md).
 */
const SERVER = path.join(REPO, 'apps/server/dist/main.js');
const RMSCTL = path.join(REPO, 'apps/cli/dist/main.js');
const BUILT = [SERVER, path.join(REPO, 'apps/server/dist/start-embedded.js'), RMSCTL, path.join(REPO, 'apps/rms/dist/main.js'), path.join(REPO, 'apps/worker/dist/main.js')];
const SECRETS = { ADMIN_PW: 'release-admin-password-1', KEY_PW: 'release-key-password-1' };
const ADMIN = { name: 'admin', password: SECRETS.ADMIN_PW };

/** Builds when a bundle is missing or older than a source it is made of (`scripts/dev.sh test` builds first). */
function ensureReleaseBuilt(): void {
  ensureBuilt(BUILT, [path.join(REPO, 'scripts/build-app.ts')]);
}

function node(file: string, args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [file, ...args], { cwd: REPO, encoding: 'utf8', timeout: 120_000, env: { ...process.env, RMS_LOG_LEVEL: 'warn', ...env } });
}


const GET_SERVER_INFO =
  '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>' +
  '<GetServerInfo xmlns="http://microsoft.com/DRM/ServerService"><requests><ServerInfoRequest><Type>VersionInfo</Type></ServerInfoRequest></requests>' +
  '</GetServerInfo></soap:Body></soap:Envelope>';
const SERVER_INFO_PATH = '/_wmcs/licensing/server.asmx';

function basic(): string {
  return `Basic ${Buffer.from(`${ADMIN.name}:${ADMIN.password}`).toString('base64')}`;
}

async function getServerInfo(base: string): Promise<{ status: number; text: string }> {
  const r = await fetch(`${base}${SERVER_INFO_PATH}`, {
    method: 'POST',
    headers: { authorization: basic(), 'content-type': 'text/xml; charset=utf-8', soapaction: '"http://microsoft.com/DRM/ServerService/GetServerInfo"' },
    body: GET_SERVER_INFO,
  });
  return { status: r.status, text: await r.text() };
}

/** A GetServerInfo the server has provably started on (member-processes' startedRequest). */
function startedServerInfo(port: number) {
  return startedRequest(port, {
    path: SERVER_INFO_PATH,
    headers: [`Authorization: ${basic()}`, 'Content-Type: text/xml; charset=utf-8', 'SOAPAction: "http://microsoft.com/DRM/ServerService/GetServerInfo"', 'Connection: keep-alive'],
    body: GET_SERVER_INFO,
  });
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the release build (plain node, no tsx)', () => {
  let dir: string;
  let database: string;

  beforeAll(() => {
    ensureReleaseBuilt();
    dir = tempDir('release');
    database = `sqlite:${path.join(dir, 'rms.db')}`;
    // The CLI bundle provisions the cluster the server bundle then serves.
    const r = node(RMSCTL, ['provision', 'root', '--database', database, '--cluster-url', 'http://127.0.0.1:1', '--service-account', 'rms-svc',
      '--admin', ADMIN.name, '--admin-password-env', 'ADMIN_PW', '--key-password-env', 'KEY_PW'], SECRETS);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 300_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('built files are executables with a shebang, and rmsctl --help exits 0', () => {
    for (const f of BUILT) {
      expect(readFileSync(f, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
      expect(statSync(f).mode & 0o111).not.toBe(0);
    }
    const help = node(RMSCTL, ['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/rmsctl provision root/);
    expect(node(path.join(REPO, 'apps/rms/dist/main.js'), ['--help']).status).toBe(0);
  });

  it('serves /healthz and SOAP, then drains the requests in flight on SIGTERM and exits 0 within 10 s', async () => {
    const server: Background = background(process.execPath, [SERVER, '--database', database, '--listen', '127.0.0.1:0', '--key-password-env', 'KEY_PW'], {
      env: { ...SECRETS, RMS_LOG_LEVEL: 'info' },
    });
    const pgid = server.child.pid!;
    try {
      const [, base] = await server.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      const port = Number(new URL(base!).port);
      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(200);
      const info = await getServerInfo(base!);
      expect(info.status).toBe(200);
      expect(info.text).toMatch(/GetServerInfoResponse/);
      // The WSDLs load from the repository's wsdl/ folder when bundled too.
      expect(await (await fetch(`${base}${SERVER_INFO_PATH}?wsdl`)).text()).toMatch(/wsdl:definitions/);

      // In flight when the signal comes (the server has parsed each one's headers): requests whose
      // bodies come only after the signal, and requests it is working on.
      const late = await Promise.all([1, 2, 3, 4].map(() => startedServerInfo(port)));
      const busy = await Promise.all(Array.from({ length: 8 }, () => startedServerInfo(port)));
      for (const r of busy) r.send();
      const signalled = Date.now();
      server.child.kill('SIGTERM');
      await server.waitFor(/shutting down/);
      // No new connections once draining.
      expect(await refusesConnections(port)).toBe(true);
      await delay(300);
      for (const r of late) r.send();
      // Every one is answered, then its connection closed by the server (keep-alive or not).
      const settled = await Promise.allSettled([...late, ...busy].map((r) => r.answer));
      const statuses = settled.map((r) => (r.status === 'fulfilled' ? r.value.split('\r\n')[0] : String(r.reason)));
      expect(statuses).toEqual(settled.map(() => 'HTTP/1.1 200 OK'));
      for (const r of settled) expect(r.status === 'fulfilled' && r.value).toMatch(/GetServerInfoResponse/);
      // 0 means it closed by itself: past SHUTDOWN_LIMIT_MS (10 s, its own clock) it exits 1. The
      // wall-clock bound here only rules out a hang on a loaded machine.
      const code = await server.exited();
      expect(code).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(30_000);
      expect(server.output()).toMatch(/"msg":"stopped"/);
      expect(groupMembers(pgid)).toEqual([]);
    } finally {
      await server.stop();
    }
  }, 300_000);

  it('rmsctl serve runs the built server, forwards SIGTERM to it and leaves nothing behind', async () => {
    const serve = background(process.execPath, [RMSCTL, 'serve', '--database', database, '--listen', '127.0.0.1:0', '--key-password-env', 'KEY_PW'], {
      env: { ...SECRETS, RMS_LOG_LEVEL: 'warn' },
    });
    const pgid = serve.child.pid!;
    try {
      const [, base] = await serve.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      const port = Number(new URL(base!).port);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const members = groupMembers(pgid);
      // rmsctl and its server child, and with more than one core (--workers' default) the serving
      // processes of that child, one per core: all plain node on the built files.
      const cores = availableParallelism();
      expect(members).toHaveLength(cores > 1 ? 2 + cores : 2);
      for (const pid of members) {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        expect(argv.join(' ')).not.toMatch(/tsx/);
        expect(argv.some((a) => a.endsWith(path.join('dist', 'main.js')))).toBe(true);
      }
      // Only rmsctl is signalled, as a service manager that knows one pid would.
      serve.child.kill('SIGTERM');
      expect(await serve.exited()).toBe(0);
      expect(groupMembers(pgid)).toEqual([]);
      expect(await refusesConnections(port)).toBe(true);
    } finally {
      await serve.stop();
    }
  }, 300_000);

  it('a fatal start-up error exits non-zero, and rmsctl serve passes the code on', () => {
    const direct = node(SERVER, ['--database', database, '--listen', '127.0.0.1:0', '--key-password-env', 'KEY_PW'], { ...SECRETS, KEY_PW: 'not-the-key-password' });
    expect(direct.status).toBe(4);
    expect(direct.stderr).toMatch(/openrms server:/);
    const viaCli = node(RMSCTL, ['serve', '--database', database, '--listen', '127.0.0.1:0', '--key-password-env', 'KEY_PW'], { ...SECRETS, KEY_PW: 'not-the-key-password' });
    expect(viaCli.status).toBe(4);
    const missing = node(SERVER, ['--database', `sqlite:${path.join(dir, 'nothing-here.db')}`, '--listen', '127.0.0.1:0', '--key-password-env', 'KEY_PW'], SECRETS);
    expect(missing.status).not.toBe(0);
  }, 300_000);
});
