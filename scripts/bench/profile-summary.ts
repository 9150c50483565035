/**
 * Summarises a V8 `.cpuprofile` (node --cpu-prof): self time by function and by package, and the
 * inclusive time of the functions named on the command line, as shares of the sampled time.
 *
 *   npx tsx scripts/bench/profile-summary.ts /tmp/prof/CPU.*.cpuprofile [--top 30] [--inclusive name,name]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '30' }, inclusive: { type: 'string' } } });
const profile = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
let total = 0;
for (const v of selfUs.values()) total += v;
const idle = [...selfUs].filter(([id]) => ['(idle)', '(program)'].includes(byId.get(id)!.callFrame.functionName)).reduce((a, [, v]) => a + v, 0);
const busy = total - idle;

function where(url: string): string {
  const m = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  const pkg = /\/(packages|apps)\/([^/]+)\//.exec(url);
  if (pkg) return `@openrms/${pkg[2]}`;
  if (url.startsWith('node:')) return 'node';
  return url === '' ? '(native/V8)' : url.replace(/^.*\//, '');
}

const label = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url)}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)} %`;

const fnSelf = new Map<string, number>();
const pkgSelf = new Map<string, number>();
for (const [id, us] of selfUs) {
  const n = byId.get(id)!;
  if (['(idle)', '(program)'].includes(n.callFrame.functionName)) continue;
  fnSelf.set(label(n), (fnSelf.get(label(n)) ?? 0) + us);
  const w = n.callFrame.functionName === '(garbage collector)' ? '(garbage collector)' : where(n.callFrame.url);
  pkgSelf.set(w, (pkgSelf.get(w) ?? 0) + us);
}
const top = Number(values.top);
console.log(`sampled ${(total / 1000).toFixed(0)} ms, busy ${(busy / 1000).toFixed(0)} ms (shares below are of busy time)`);
console.log('\nself time by package:');
for (const [k, v] of [...pkgSelf].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)}  ${k}`);
console.log('\nself time by function:');
for (const [k, v] of [...fnSelf].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)}  ${k}`);

if (values.inclusive) {
  console.log('\ninclusive time (samples with the function anywhere on the stack):');
  for (const name of values.inclusive.split(',')) {
    let us = 0;
    profile.samples.forEach((id, i) => {
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        if (byId.get(cur)!.callFrame.functionName === name) {
          us += profile.timeDeltas[i] ?? 0;
          break;
        }
      }
    });
    console.log(`${pct(us)}  ${name}`);
  }
}
