/**
 * The release build of one app (run from the app's directory by its `build` script): esbuild bundles
 * each process entry into dist/ as CommonJS for plain `node`, with the workspace packages inlined and
 * every npm dependency left external, so native modules (better-sqlite3, kerberos) and the drivers
 * load from node_modules as they do under tsx. See docs/adr/0006-typescript-runs-from-source.md.
 */
import { chmodSync, existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { build, type Plugin } from 'esbuild';

/** Process entries per app: source file → built file name (without .js). */
const ENTRIES: Record<string, Record<string, string>> = {
  '@openrms/server': { main: 'src/main.ts', 'start-embedded': 'src/start-embedded.ts' },
  '@openrms/cli': { main: 'src/main.ts' },
  '@openrms/rms': { main: 'src/main.ts' },
  '@openrms/worker': { main: 'src/main.ts' },
};

const REPO = path.resolve(__dirname, '..');
const PACKAGES = path.join(REPO, 'packages');

/**
 * Bare imports stay external. One made inside packages/<name> is loaded at run time with a require
 * bound to that package (createRequire), exactly as it resolves from source: pnpm gives each
 * workspace package only its own dependencies, and the import rules keep knex, bullmq, soap … out of
 * the apps' package.json, so the app's own node_modules would not find them.
 */
function externalsFromOwningPackage(outdir: string): Plugin {
  return {
    name: 'openrms-externals',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith('@openrms/') || args.path.startsWith('node:')) return undefined;
        const rel = path.relative(PACKAGES, args.importer);
        if (!args.importer || rel.startsWith('..') || path.isAbsolute(rel)) return { path: args.path, external: true };
        const pkg = rel.split(path.sep)[0]!;
        return { path: args.path, namespace: 'openrms-owned', pluginData: { pkg } };
      });
      b.onLoad({ filter: /.*/, namespace: 'openrms-owned' }, (args) => {
        const { pkg } = args.pluginData as { pkg: string };
        const fromDist = path.relative(outdir, path.join(PACKAGES, pkg, 'package.json')).split(path.sep).join('/');
        return {
          loader: 'js',
          contents:
            `module.exports = require('node:module').createRequire(require('node:path').join(__dirname, ${JSON.stringify(fromDist)}))` +
            `(${JSON.stringify(args.path)});\n`,
        };
      });
    },
  };
}

export async function buildApp(appDir: string): Promise<string[]> {
  const pkg = JSON.parse(readFileSync(path.join(appDir, 'package.json'), 'utf8')) as { name: string };
  const entries = ENTRIES[pkg.name];
  if (!entries) throw new Error(`no release entries for ${pkg.name} in scripts/build-app.ts`);
  const outdir = path.join(appDir, 'dist');
  rmSync(outdir, { recursive: true, force: true });
  const files: string[] = [];
  // One build per entry: each is a `bin` and needs a shebang, which some sources carry already.
  for (const [out, src] of Object.entries(entries)) {
    const entry = path.join(appDir, src);
    const hasShebang = readFileSync(entry, 'utf8').startsWith('#!');
    await build({
      absWorkingDir: appDir,
      entryPoints: { [out]: entry },
      outdir,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      ...(hasShebang ? {} : { banner: { js: '#!/usr/bin/env node' } }),
      // Readable stack traces; the maps are there for NODE_OPTIONS=--enable-source-maps.
      sourcemap: 'linked',
      minify: false,
      legalComments: 'none',
      logLevel: 'warning',
      plugins: [externalsFromOwningPackage(outdir)],
    });
    const file = path.join(outdir, `${out}.js`);
    chmodSync(file, 0o755);
    files.push(path.relative(REPO, file));
  }
  return files;
}

if (require.main === module) {
  const appDir = path.resolve(process.argv[2] ?? process.cwd());
  if (!existsSync(path.join(appDir, 'package.json'))) {
    process.stderr.write(`build-app: no package.json in ${appDir}\n`);
    process.exit(2);
  }
  const started = Date.now();
  buildApp(appDir).then(
    (files) => process.stdout.write(`built ${files.join(', ')} in ${Date.now() - started} ms\n`),
    (e: unknown) => {
      process.stderr.write(`build-app: ${(e as Error)?.message ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
