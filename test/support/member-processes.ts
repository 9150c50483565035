import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { connect } from 'node:net';
import { parseProtectedFile, RmsClient } from '@openrms/client';
import { parseGrantSpec } from '@openrms/domain';
import { addPeople, KEY_PASSWORD, person, provisionRoot } from './clusters';
import { tempDir, type TestDatabase } from './databases';
import { background, type Background, REPO } from './processes';
import { envelope, versionData, SERVER_NS } from './soap-client';

/**
 * Members run as production runs them: the built server (apps/server/dist/main.js) under plain
 * node, as its own process tree (supervisor and workers), talked to over loopback sockets.
 */
export const BUILT_SERVER = path.join(REPO, 'apps/server/dist/main.js');
export const LIC_NS = 'http://microsoft.com/DRM/LicensingService';
export const METRICS_TOKEN = 'member-metrics-token-0123456789';

function newestSource(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const p = path.join(dir, name);
    const s = statSync(p);
    if (s.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) newest = Math.max(newest, s.mtimeMs);
  }
  return newest;
}

/**
 * Builds (one build at a time on the machine) when one of `bundles` is missing or older than a
 * source of apps/ or packages/ (or one of `alsoSources`).
 */
export function ensureBuilt(bundles: string[], alsoSources: string[] = []): void {
  const sources = Math.max(newestSource(path.join(REPO, 'apps')), newestSource(path.join(REPO, 'packages')), ...alsoSources.map((f) => statSync(f).mtimeMs));
  if (!bundles.some((f) => !existsSync(f) || statSync(f).mtimeMs < sources)) return;
  const r = spawnSync('flock', ['/tmp/build.lock', 'pnpm', 'build', '--output-logs=errors-only'], { cwd: REPO, encoding: 'utf8', timeout: 600_000, env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' } });
  if (r.status !== 0) throw new Error(`pnpm build failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
}

/** Builds when the server bundle is missing or older than its sources. */
export function ensureServerBuilt(): void {
  ensureBuilt([BUILT_SERVER]);
}

/** `node apps/server/dist/main.js` with these flags; key password and metrics token in its environment. */
export function builtMember(args: string[], env: Record<string, string> = {}): Background {
  return background(process.execPath, [BUILT_SERVER, '--key-password-env', 'KEY_PW', ...args], {
    env: { KEY_PW: KEY_PASSWORD, RMS_METRICS_TOKEN: METRICS_TOKEN, RMS_LOG_LEVEL: 'info', ...env },
  });
}

/** Live pids whose /proc stat field `field` (0 = state, 1 = ppid, 2 = pgrp) equals `value`. */
function processesWhere(field: 1 | 2, value: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // Fields after the command name (which may hold spaces): state ppid pgrp …
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[field]) === value && fields[0] !== 'Z') out.push(Number(name));
    } catch {
      // Gone while we looked.
    }
  }
  return out;
}

/** Pids whose parent is `pid` (live ones). */
export function childrenOf(pid: number): number[] {
  return processesWhere(1, pid);
}

/** Pids of the process group (detached children lead their own group). */
export function groupMembers(pgid: number): number[] {
  return processesWhere(2, pgid);
}

export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Polls `probe` until `done` holds (generous deadline: the machine may be busy). */
export async function eventually<T>(what: string, probe: () => Promise<T> | T, done: (v: T) => boolean, ms = 120_000): Promise<T> {
  const until = Date.now() + ms;
  let last: T | undefined;
  let lastError: unknown;
  while (Date.now() < until) {
    try {
      last = await probe();
      if (done(last)) return last;
    } catch (e) {
      lastError = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}${lastError ? `; error: ${(lastError as Error).message}` : ''}`);
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

export interface SentRequest {
  /** Resolves with the answer, or rejects when the connection closed without one. */
  answer: Promise<Answer>;
  /** Hangs up (the answer promise then rejects). */
  destroy(): void;
}

/** One request on a connection of its own (never reused), so the supervisor hands each to a worker afresh. */
export function send(base: string, o: { path: string; method?: string; headers?: Record<string, string>; body?: string }): SentRequest {
  const url = new URL(o.path, base);
  const body = o.body === undefined ? undefined : Buffer.from(o.body);
  const req = http.request({
    host: url.hostname,
    port: url.port,
    path: url.pathname + url.search,
    method: o.method ?? (body ? 'POST' : 'GET'),
    agent: false,
    headers: { connection: 'close', ...(body ? { 'content-length': String(body.length) } : {}), ...o.headers },
  });
  const answer = new Promise<Answer>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  answer.catch(() => undefined);
  req.end(body);
  return { answer, destroy: () => req.destroy() };
}

export const basicAuth = (name: string, password: string) => `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`;

/** SOAP POST on a fresh connection; `version` picks the envelope's content type. */
export function soap(base: string, o: { path: string; action: string; auth: string; body: string; version?: '1.1' | '1.2' }): SentRequest {
  const headers: Record<string, string> =
    o.version === '1.2'
      ? { 'content-type': `application/soap+xml; charset=utf-8; action="${o.action}"`, authorization: o.auth }
      : { 'content-type': 'text/xml; charset=utf-8', soapaction: `"${o.action}"`, authorization: o.auth };
  return send(base, { path: o.path, headers, body: o.body });
}

export const LICENSOR_PATH = '/_wmcs/licensing/server.asmx';

/** GetLicensorCertificate: cheap, authenticated, a real answer from the cluster key's chain. */
export function licensorCertificate(base: string, auth: string, version: '1.1' | '1.2' = '1.1'): SentRequest {
  return soap(base, {
    path: LICENSOR_PATH,
    action: `${SERVER_NS}/GetLicensorCertificate`,
    auth,
    version,
    body: envelope({ version, header: versionData(SERVER_NS), body: `<GetLicensorCertificate xmlns="${SERVER_NS}"/>` }),
  });
}

/** A sample's value in Prometheus text (`name{labels}` exactly as written, or a bare name). */
export function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

export async function scrape(base: string): Promise<string> {
  const r = await send(base, { path: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } }).answer;
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
  return r.text;
}

export interface LicenceFixture {
  admin: { name: string; password: string };
  bob: { name: string; password: string };
  /** An AcquireLicense request for bob (his RAC and a PL granting him VIEW). */
  licenseBody: string;
}

/**
 * A root cluster in `db` for a member at `port`, with a person bob, and a file protected for him
 * through a member running there now (`base`): what a licence request needs.
 */
export async function provisionForLicences(db: TestDatabase, port: number): Promise<{ people: LicenceFixture; protect(base: string): Promise<string> }> {
  await provisionRoot(db, port);
  const bob = person('bob');
  await addPeople(db, [bob]);
  const admin = { name: 'root-admin', password: 'root-admin-password' };
  const people: LicenceFixture = { admin, bob: { name: bob.name, password: bob.password }, licenseBody: '' };
  return {
    people,
    async protect(base) {
      const state = tempDir('member-client');
      const client = new RmsClient({ serverUrl: base, user: bob.name, password: bob.password, stateDir: state });
      const file = await client.protect(Buffer.from('held'), { grants: parseGrantSpec(`${bob.email}:VIEW`) });
      const rac = (JSON.parse(readFileSync(path.join(client.stateFolder, 'rac-chain.json'), 'utf8')) as string[])[0]!;
      const cert = (x: string) => `<Certificate>${x.replace('<XrML', '<XrML xmlns=""')}</Certificate>`;
      people.licenseBody = envelope({
        header: versionData(LIC_NS),
        body: `<AcquireLicense xmlns="${LIC_NS}"><RequestParams><AcquireLicenseParams><LicenseeCerts>${cert(rac)}</LicenseeCerts><IssuanceLicense>${parseProtectedFile(file).header.plChain.map(cert).join('')}</IssuanceLicense></AcquireLicenseParams></RequestParams></AcquireLicense>`,
      });
      return people.licenseBody;
    },
  };
}

export function acquireLicense(base: string, f: LicenceFixture): SentRequest {
  return soap(base, { path: '/_wmcs/licensing/license.asmx', action: `${LIC_NS}/AcquireLicense`, auth: basicAuth(f.bob.name, f.bob.password), body: f.licenseBody });
}

/**
 * A request the server has provably started on: the head goes with `Expect: 100-continue`, and the
 * promise resolves once the server has answered `100 Continue` (it accepted the connection and
 * parsed the request); the body goes when `send` is called. `answer` resolves with the final status
 * line and what followed once the server closes the connection, or rejects when it closed without
 * answering. `headers` are the request's own header lines (no Host, Content-Length or Expect).
 */
export function startedRequest(port: number, o: { path: string; headers: string[]; body: string }): Promise<{ send(): void; answer: Promise<string> }> {
  const body = Buffer.from(o.body);
  const head = [`POST ${o.path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, ...o.headers, `Content-Length: ${body.length}`, 'Expect: 100-continue', '', ''].join('\r\n');
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    let got = '';
    let continued = false;
    const answer = new Promise<string>((ok, fail) => {
      s.on('close', () => {
        const final = got.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '');
        if (final) ok(final);
        else fail(new Error(`connection closed without an answer${continued ? ' after 100 Continue' : ''}`));
      });
      s.on('error', fail);
    });
    answer.catch(() => undefined);
    s.on('data', (d) => {
      got += d.toString();
      if (!continued && /^HTTP\/1\.1 100 Continue\r\n\r\n/.test(got)) {
        continued = true;
        resolve({ send: () => s.write(body), answer });
      }
    });
    s.once('error', reject);
    s.once('connect', () => s.write(head));
  });
}

/** True when nothing listens on the loopback port (the connection is refused). */
export function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}
