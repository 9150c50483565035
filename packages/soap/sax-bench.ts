import { SaxesParser } from 'saxes';
import { DOMParser } from '@xmldom/xmldom';
import { readFileSync } from 'node:fs';
import { liftXrmlDocuments } from './src/lift-xrml-documents';
const text = readFileSync('/tmp/acq.xml', 'utf8');
function rate(label: string, fn: () => unknown) {
  for (let i = 0; i < 200; i++) fn();
  const n = 2000; const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  console.log(label.padEnd(30), (Number(process.hrtime.bigint() - t) / 1e6 / n).toFixed(3), 'ms');
}
rate('saxes xmlns+position', () => { const p = new SaxesParser({ xmlns: true, position: true }); p.on('opentag', () => {}); p.write(text).close(); });
rate('saxes xmlns, no position', () => { const p = new SaxesParser({ xmlns: true, position: false }); p.on('opentag', () => {}); p.write(text).close(); });
rate('saxes plain+position', () => { const p = new SaxesParser({ position: true }); p.on('opentag', () => {}); p.write(text).close(); });
rate('saxes plain, no handlers', () => { const p = new SaxesParser({ position: true }); p.write(text).close(); });
rate('liftXrmlDocuments', () => liftXrmlDocuments(text));
rate('xmldom parse', () => new DOMParser().parseFromString(text, 'text/xml'));
