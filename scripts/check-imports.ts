/**
 * Mechanical form of the import rules in docs/ARCHITECTURE.md: who may depend on what, who may
 * read the environment, and where the wall clock may be read. Run by the test suite and `pnpm lint`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export interface Violation {
  file: string;
  rule: string;
}

/** Third-party modules that exactly one workspace package may import. */
const OWNED_MODULES: Record<string, string[]> = {
  knex: ['@openrms/store'],
  'better-sqlite3': ['@openrms/store'],
  pg: ['@openrms/store'],
  mssql: ['@openrms/store'],
  tedious: ['@openrms/store'],
  bullmq: ['@openrms/jobs'],
  '@bull-board/api': ['@openrms/jobs'],
  '@bull-board/express': ['@openrms/jobs'],
  'prom-client': ['@openrms/server'],
  ioredis: ['@openrms/jobs'],
  'rate-limiter-flexible': ['@openrms/jobs'],
  'xml-crypto': ['@openrms/xrml'],
  express: ['@openrms/server'],
  ldapts: ['@openrms/directory'],
  kerberos: ['@openrms/directory'],
  pkcs11js: ['@openrms/keys'],
  zod: ['@openrms/config'],
  yaml: ['@openrms/config'],
};

/** Workspace packages that only some others may import. */
const RESTRICTED_WORKSPACE: Record<string, string[]> = {
  '@openrms/keys': ['@openrms/issuance', '@openrms/client'],
  '@openrms/store': ['@openrms/issuance', '@openrms/server', '@openrms/cli', '@openrms/worker', '@openrms/jobs'],
};

const APPS = ['@openrms/server', '@openrms/cli', '@openrms/worker', '@openrms/rms'];
/** Where time must come from an injected Clock. */
const CLOCKED = ['@openrms/domain', '@openrms/issuance', '@openrms/keys'];

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.(ts|mts|cts|js|mjs)$/.test(name)) out.push(p);
  }
  return out;
}

function importsOf(source: string): string[] {
  const specs = new Set<string>();
  const re = /(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\s*['"]([^'"]+)['"]|require\(\s*['"]([^'"]+)['"]\s*\)|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const m of source.matchAll(re)) specs.add((m[1] ?? m[2] ?? m[3] ?? m[4])!);
  return [...specs];
}

function moduleName(spec: string): string | undefined {
  if (spec.startsWith('.') || spec.startsWith('node:') || spec.startsWith('/')) return undefined;
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** The .ts file a relative specifier names, if it is one of `files`. */
function resolveRelative(from: string, spec: string, files: ReadonlySet<string>): string | undefined {
  const base = path.resolve(path.dirname(from), spec);
  const stem = base.replace(/\.(js|ts)$/, '');
  for (const c of [`${stem}.ts`, path.join(base, 'index.ts')]) if (files.has(c)) return c;
  return undefined;
}

/**
 * Cycles of relative imports between a package's .ts files (type-only imports count too: a cycle
 * means two modules should share a third). Depth-first search; each cycle is reported once.
 */
export function findImportCycles(files: string[], read: (f: string) => string = (f) => readFileSync(f, 'utf8')): string[][] {
  const ts = new Set(files.filter((f) => f.endsWith('.ts')));
  const edges = new Map<string, string[]>();
  for (const f of ts) {
    const to = importsOf(read(f))
      .filter((s) => s.startsWith('.'))
      .map((s) => resolveRelative(f, s, ts))
      .filter((t): t is string => t !== undefined && t !== f);
    edges.set(f, [...new Set(to)].sort());
  }
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    stack.push(f);
    for (const t of edges.get(f) ?? []) {
      if (state.get(t) === 'open') {
        const cycle = stack.slice(stack.indexOf(t));
        // One key per cycle whatever file the search entered it by.
        const i = cycle.indexOf([...cycle].sort()[0]!);
        const canonical = [...cycle.slice(i), ...cycle.slice(0, i)];
        const key = canonical.join('\0');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push(canonical);
        }
      } else if (!state.has(t)) visit(t);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of [...ts].sort()) if (!state.has(f)) visit(f);
  return cycles;
}

export function checkImports(root: string): Violation[] {
  const violations: Violation[] = [];
  for (const group of ['apps', 'packages']) {
    const base = path.join(root, group);
    for (const dir of readdirSync(base)) {
      const pkgFile = path.join(base, dir, 'package.json');
      let pkg: { name: string; dependencies?: Record<string, string> };
      try {
        pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
      } catch {
        continue;
      }
      const rel = (f: string) => path.relative(root, f);
      const deps = Object.keys(pkg.dependencies ?? {});
      for (const d of deps) {
        const owners = OWNED_MODULES[d] ?? RESTRICTED_WORKSPACE[d];
        if (owners && !owners.includes(pkg.name)) violations.push({ file: rel(pkgFile), rule: `${pkg.name} must not depend on ${d}` });
        if (APPS.includes(d)) violations.push({ file: rel(pkgFile), rule: `${pkg.name} must not depend on the app ${d}` });
      }
      const src = path.join(base, dir, 'src');
      let files: string[] = [];
      try {
        files = walk(src);
      } catch {
        continue;
      }
      for (const f of files) {
        const isTest = /\.test\.ts$/.test(f);
        const text = readFileSync(f, 'utf8');
        for (const spec of importsOf(text)) {
          const mod = moduleName(spec);
          if (!mod || mod === pkg.name) continue;
          const owners = OWNED_MODULES[mod] ?? RESTRICTED_WORKSPACE[mod];
          if (owners && !owners.includes(pkg.name) && !isTest) violations.push({ file: rel(f), rule: `${pkg.name} must not import ${mod}` });
          if (APPS.includes(mod)) violations.push({ file: rel(f), rule: `${pkg.name} must not import the app ${mod}` });
          if (!isTest && !deps.includes(mod) && (mod.startsWith('@openrms/') || OWNED_MODULES[mod])) {
            violations.push({ file: rel(f), rule: `${pkg.name} imports ${mod} without declaring it in package.json` });
          }
        }
        if (isTest) continue;
        if (pkg.name !== '@openrms/config' && /process\.env\b/.test(text)) {
          violations.push({ file: rel(f), rule: 'only @openrms/config reads process.env' });
        }
        // clock.ts is where the system clock itself is defined.
        if (CLOCKED.includes(pkg.name) && !f.endsWith(`${path.sep}clock.ts`) && /Date\.now\(|new Date\(\s*\)/.test(text.replace(/\/\/.*$/gm, ''))) {
          violations.push({ file: rel(f), rule: `${pkg.name} must take time from a Clock, not Date.now()/new Date()` });
        }
      }
      for (const cycle of findImportCycles(files)) {
        const names = [...cycle, cycle[0]!].map((f) => path.relative(src, f).split(path.sep).join('/'));
        violations.push({ file: rel(cycle[0]!), rule: `${pkg.name} has an import cycle: ${names.join(' -> ')}` });
      }
    }
  }
  return violations;
}

if (require.main === module) {
  const root = path.resolve(__dirname, '..');
  const v = checkImports(root);
  for (const x of v) process.stderr.write(`${x.file}: ${x.rule}\n`);
  process.stdout.write(v.length ? `import rules: ${v.length} violation(s)\n` : 'import rules: ok\n');
  process.exitCode = v.length ? 1 : 0;
}
