import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './support/databases';
import { background, REPO, rmsctl, TSX_BIN } from './support/processes';
import { freePort } from './support/root-cluster';

/**
 * deploy/systemd: the units load cleanly in systemd's own parser (`systemd-analyze verify`, which
 * also warns about misspelt keys and bad values), keep the hardening they promise, and the
 * environment they give the process (LoadCredential= → RMS_KEY_PASSWORD_FILE) starts a real server.
 */
const UNITS = ['openrms-server.service', 'openrms-worker.service'] as const;
const UNIT_DIR = path.join(REPO, 'deploy/systemd');
const NODE_IN_UNITS = '/usr/bin/node';

/** `Key=value` lines of a unit by section; repeated keys keep every value, in order. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      current = new Map();
      sections.set(sec[1]!, current);
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!kv || !current) throw new Error(`not a unit line: ${raw}`);
    current.set(kv[1]!, [...(current.get(kv[1]!) ?? []), kv[2]!]);
  }
  return sections;
}

function analyze(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('systemd-analyze', args, { encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw new Error(`systemd-analyze is not installed (Debian package systemd; scripts/dev.sh installs it): ${r.error.message}`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * A copy of the unit whose ExecStart runs the node that runs this test: verify needs the executable
 * to exist, and on this machine node may live elsewhere than the /usr/bin/node of a Debian host.
 */
function unitCopy(dir: string, name: string, edit: (text: string) => string = (t) => t, as: string = name): string {
  const file = path.join(dir, as);
  writeFileSync(file, edit(readFileSync(path.join(UNIT_DIR, name), 'utf8').replaceAll(`ExecStart=${NODE_IN_UNITS} `, `ExecStart=${process.execPath} `)));
  return file;
}

/** verify's complaints about this file (it may also mention units of the machine it loads, e.g. postgresql.service). */
const complaintsAbout = (stderr: string, name: string) => stderr.split('\n').filter((l) => l.includes(name));

describe('systemd units for the built release', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('systemd');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(UNITS)('%s passes systemd-analyze verify without a warning', (name) => {
    const r = analyze(['verify', '--man=no', unitCopy(dir, name)]);
    expect(complaintsAbout(r.stderr, name)).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('verify does catch a bad value or a missing executable (so the check above means something)', () => {
    const bad = unitCopy(dir, 'openrms-server.service', (t) => t.replace('NoNewPrivileges=yes', 'NoNewPrivileges=maybe').replace('ProtectHome=yes', 'ProtectHom=yes'), 'openrms-bad.service');
    const r = analyze(['verify', '--man=no', bad]);
    expect(complaintsAbout(r.stderr, 'openrms-bad.service').join('\n')).toMatch(/Failed to parse boolean value.*maybe[\s\S]*Unknown key 'ProtectHom'/);
    const noNode = path.join(dir, 'openrms-nonode.service');
    writeFileSync(noNode, readFileSync(path.join(UNIT_DIR, 'openrms-server.service'), 'utf8').replace(/^ExecStart=\S+/m, 'ExecStart=/nonexistent/node'));
    expect(analyze(['verify', '--man=no', noNode]).code).not.toBe(0);
  });

  it.each(UNITS)('%s runs the built JavaScript with plain node as a dedicated user, hardened', (name) => {
    const service = parseUnit(readFileSync(path.join(UNIT_DIR, name), 'utf8')).get('Service')!;
    const one = (k: string) => {
      const v = service.get(k);
      expect([k, v?.length]).toEqual([k, 1]);
      return v![0]!;
    };
    const app = name === 'openrms-server.service' ? 'server' : 'worker';
    expect(one('ExecStart')).toBe(`${NODE_IN_UNITS} /opt/openrms/apps/${app}/dist/main.js`);
    // The built file comes from this source entry.
    expect(existsSync(path.join(REPO, `apps/${app}/src/main.ts`))).toBe(true);
    expect(one('User')).toBe('openrms');
    const expected: Record<string, string> = {
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      StateDirectory: 'openrms',
      CapabilityBoundingSet: '',
      AmbientCapabilities: '',
      RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX',
      Restart: 'on-failure',
      KillSignal: 'SIGTERM',
      TimeoutStopSec: '15',
      LoadCredential: 'key-password:/etc/openrms/key-password',
      EnvironmentFile: '/etc/openrms/openrms.env',
      UMask: '0077',
    };
    for (const [k, v] of Object.entries(expected)) expect([k, one(k)]).toEqual([k, v]);
    expect(service.get('SystemCallFilter')?.[0]).toBe('@system-service');
    // Nothing writable beyond the state directory; no secret written into the unit itself.
    expect(service.get('ReadWritePaths')).toBeUndefined();
    expect(service.get('Environment')).toContain('RMS_KEY_PASSWORD_FILE=%d/key-password');
    expect((service.get('Environment') ?? []).join('\n')).not.toMatch(/RMS_KEY_PASSWORD=|PASSWORD=\S/);
  });

  it.each(UNITS)('%s scores as well exposed as "OK" in systemd-analyze security', (name) => {
    const r = analyze(['security', '--offline=yes', '--no-pager', unitCopy(dir, name)]);
    const m = /Overall exposure level for \S+: (\d+\.\d+) (\w+)/.exec(r.stdout);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeLessThanOrEqual(2);
  });

  it('the sysusers.d file creates the openrms user the units run as', () => {
    const line = readFileSync(path.join(UNIT_DIR, 'openrms.sysusers.conf'), 'utf8').split('\n').find((l) => /^u\s/.test(l));
    expect(line).toMatch(/^u\s+openrms\s+-\s+"[^"]+"\s+\/var\/lib\/openrms$/);
  });

  it("a server started with the unit's environment reads the key password from the credential file", async () => {
    const service = parseUnit(readFileSync(path.join(UNIT_DIR, 'openrms-server.service'), 'utf8')).get('Service')!;
    const creds = path.join(dir, 'credentials');
    const state = path.join(dir, 'state');
    rmSync(creds, { recursive: true, force: true });
    spawnSync('mkdir', ['-p', creds, state]);
    // What LoadCredential=key-password:… puts in $CREDENTIALS_DIRECTORY (%d).
    const [id] = service.get('LoadCredential')![0]!.split(':');
    writeFileSync(path.join(creds, id!), 'cluster-key-password-1\n', { mode: 0o600 });
    const env: Record<string, string> = {};
    for (const e of service.get('Environment')!) {
      const [k, ...v] = e.split('=');
      env[k!] = v.join('=').replaceAll('%d', creds);
    }
    const db = `sqlite:${path.join(state, 'openrms.db')}`;
    const prov = rmsctl(
      ['provision', 'root', '--database', db, '--cluster-url', 'http://127.0.0.1:1/_wmcs', '--service-account', 'rms-svc', '--admin', 'admin', '--admin-password-env', 'ADMIN_PW', '--key-password-env', 'KP'],
      { ADMIN_PW: 'admin-password-1', KP: 'cluster-key-password-1' },
    );
    expect(prov.stderr).toBe('');
    const port = await freePort();
    // The unit's ExecStart runs apps/server/dist/main.js; its source entry, with the same flags (none).
    const { RMS_KEY_PASSWORD: _drop, ...parentEnv } = process.env;
    const server = background(TSX_BIN, [path.join(REPO, 'apps/server/src/main.ts')], {
      cwd: state,
      env: { ...(parentEnv as Record<string, string>), ...env, RMS_DATABASE_URL: db, RMS_LISTEN: `127.0.0.1:${port}`, RMS_LOG_LEVEL: 'warn' },
    });
    try {
      await server.waitFor(/listening on http/);
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(r.status).toBe(200);
      // SIGTERM (KillSignal=) ends it well within TimeoutStopSec=15, with exit code 0.
      const started = Date.now();
      server.child.kill('SIGTERM');
      expect(await server.exited()).toBe(0);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      await server.stop();
    }
  });
});
