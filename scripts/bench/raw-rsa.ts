/** The machine's raw RSA-2048 signing rate on every core: the ceiling any licence rate is compared with. */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

// Plain JavaScript so the worker needs no TypeScript loader; a KeyObject, as the server signs with.
const WORKER = `
const { generateKeyPairSync, sign } = require('node:crypto');
const { parentPort, workerData } = require('node:worker_threads');
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const data = Buffer.alloc(256, 7);
for (let i = 0; i < 50; i++) sign('sha256', data, privateKey);
let n = 0;
const start = process.hrtime.bigint();
const end = start + BigInt(workerData.ms) * 1000000n;
let now = start;
while (now < end) {
  for (let i = 0; i < 20; i++) sign('sha256', data, privateKey);
  n += 20;
  now = process.hrtime.bigint();
}
parentPort.postMessage({ n, ns: Number(now - start) });
`;

export interface RawRsaRate {
  cores: number;
  signsPerSecond: number;
  perCore: number;
}

/** Signs on one worker thread per core for `ms` and sums the rates. */
export async function measureRawRsa(ms = 3000): Promise<RawRsaRate> {
  const cores = availableParallelism();
  const rates = await Promise.all(
    Array.from(
      { length: cores },
      () =>
        new Promise<number>((resolve, reject) => {
          const w = new Worker(WORKER, { eval: true, workerData: { ms } });
          w.once('message', (m: { n: number; ns: number }) => resolve(m.n / (m.ns / 1e9)));
          w.once('error', reject);
        }),
    ),
  );
  const total = rates.reduce((a, b) => a + b, 0);
  return { cores, signsPerSecond: total, perCore: total / cores };
}
