/**
 * The bench measures the release build (`node apps/server/dist/main.js`), as production runs it.
 * Before a run it rebuilds when a built entry is missing or older than any source file it bundles
 * (the apps' and packages' src folders), so the figures are never those of stale code.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO } from './server-process';

/** The built entries the bench runs: the member, and rmsctl (pkcs11 provisioning). */
const BUILT = ['apps/server/dist/main.js', 'apps/cli/dist/main.js'];

function newestMtimeMs(dir: string): number {
  let newest = 0;
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtimeMs(p));
    else if (e.isFile() && /\.(ts|json|xml|wsdl|xsd)$/.test(e.name) && !/\.test\.ts$/.test(e.name)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function sourceDirs(): string[] {
  const dirs: string[] = [];
  for (const group of ['apps', 'packages']) {
    for (const name of readdirSync(path.join(REPO, group))) {
      const src = path.join(REPO, group, name, 'src');
      if (existsSync(src)) dirs.push(src);
    }
  }
  return dirs;
}

/** Why the build must run, or undefined when every built entry is newer than the sources. */
export function staleReason(): string | undefined {
  const missing = BUILT.filter((f) => !existsSync(path.join(REPO, f)));
  if (missing.length) return `${missing.join(', ')} missing`;
  const builtAt = Math.min(...BUILT.map((f) => statSync(path.join(REPO, f)).mtimeMs));
  const newest = Math.max(...sourceDirs().map(newestMtimeMs));
  return newest > builtAt ? 'sources changed since the last build' : undefined;
}

/**
 * `pnpm build` (turbo; errors only). Where `flock` exists the build takes `<tmpdir>/build.lock`,
 * so it never overlaps another build that takes the same lock (two builds into one dist/ would
 * leave half-written files).
 */
export function ensureBuilt(progress: (msg: string) => void): void {
  const reason = staleReason();
  if (!reason) return;
  progress(`building the release (${reason}): pnpm build`);
  const pnpm = ['pnpm', 'build', '--output-logs=errors-only'];
  const hasFlock = spawnSync('flock', ['--version'], { stdio: 'ignore' }).status === 0;
  const [cmd, ...args] = hasFlock ? ['flock', path.join(tmpdir(), 'build.lock'), ...pnpm] : pnpm;
  const r = spawnSync(cmd!, args, {
    cwd: REPO,
    // Its output goes to stderr with the bench's progress; stdout is the report (and the JSON).
    stdio: ['ignore', 2, 2],
  });
  if (r.status !== 0) throw new Error(`pnpm build failed (exit ${r.status ?? r.signal}); the bench measures the release build`);
  const still = BUILT.filter((f) => !existsSync(path.join(REPO, f)));
  if (still.length) throw new Error(`pnpm build left ${still.join(', ')} missing`);
}
