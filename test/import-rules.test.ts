import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkImports } from '../scripts/check-imports';
import { REPO } from './support/processes';
import { tempDir } from './support/databases';

describe('import rules', () => {
  it('hold for the repository', () => {
    expect(checkImports(REPO)).toEqual([]);
  });

  it('catch a forbidden dependency, an app importing an app, env reads, wall-clock time and import cycles', () => {
    const root = tempDir('rules');
    const pkg = (dir: string, name: string, deps: Record<string, string>, files: Record<string, string>) => {
      mkdirSync(path.join(root, dir, 'src'), { recursive: true });
      writeFileSync(path.join(root, dir, 'package.json'), JSON.stringify({ name, dependencies: deps }));
      for (const [f, text] of Object.entries(files)) writeFileSync(path.join(root, dir, 'src', f), text);
    };
    pkg('packages/domain', '@openrms/domain', { knex: '*' }, { 'a.ts': "import knex from 'knex';\nexport const t = Date.now();\n" });
    pkg('packages/soap', '@openrms/soap', { pkcs11js: '*' }, { 'b.ts': "import { x } from '@openrms/keys';\nimport * as p from 'pkcs11js';\nexport const e = process.env.X;\n" });
    pkg('apps/cli', '@openrms/cli', { '@openrms/server': '*' }, { 'c.ts': "import '@openrms/server';\n" });
    pkg('packages/config', '@openrms/config', {}, {
      'b-two.ts': "import { a } from './a-one';\nexport const b = a;\n",
      'a-one.ts': "import type { C } from './c-three.js';\nexport const a = 1;\n",
      'c-three.ts': "export * from './b-two';\nexport type C = number;\n",
      'd-four.ts': "import { a } from './a-one';\nexport const d = a;\n",
    });
    const rules = checkImports(root).map((v) => v.rule);
    expect(rules).toEqual(
      expect.arrayContaining([
        '@openrms/domain must not depend on knex',
        '@openrms/domain must not import knex',
        '@openrms/domain must take time from a Clock, not Date.now()/new Date()',
        '@openrms/soap must not import @openrms/keys',
        // The PKCS#11 binding touches the cluster key: keys only.
        '@openrms/soap must not depend on pkcs11js',
        '@openrms/soap must not import pkcs11js',
        'only @openrms/config reads process.env',
        '@openrms/cli must not depend on the app @openrms/server',
        '@openrms/cli must not import the app @openrms/server',
        '@openrms/config has an import cycle: a-one.ts -> c-three.ts -> b-two.ts -> a-one.ts',
      ]),
    );
    // d-four only reaches the cycle, it is not part of it; one cycle is reported once.
    expect(rules.filter((r) => r.includes('import cycle'))).toHaveLength(1);
  });
});
