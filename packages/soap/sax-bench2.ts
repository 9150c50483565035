import { readFileSync } from 'node:fs';
import { liftXrmlDocuments } from './src/lift-xrml-documents';
const text = readFileSync('/tmp/acq.xml', 'utf8');
for (let i = 0; i < 300; i++) liftXrmlDocuments(text);
const { Session } = require('node:inspector');
const s = new Session(); s.connect();
s.post('Profiler.enable', () => s.post('Profiler.start', () => {
  const t = process.hrtime.bigint();
  for (let i = 0; i < 2000; i++) liftXrmlDocuments(text);
  console.log((Number(process.hrtime.bigint() - t) / 1e6 / 2000).toFixed(3), 'ms');
  s.post('Profiler.stop', (_e: unknown, r: { profile: unknown }) => { require('fs').writeFileSync('/tmp/prof-h3/lift.cpuprofile', JSON.stringify(r.profile)); });
}));
