import fs from 'node:fs'; import os from 'node:os'; import path from 'node:path';
import { openStore } from './src/index';
import { ImmediateSqliteClient } from './src/immediate-sqlite-client';
async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'h3x-'));
  const store = await openStore(`sqlite:${path.join(dir, 'rms.db')}`, { migrate: true });
  const now = new Date();
  await store.principals.createUser({ id: 'u1', name: 'bob', email: 'bob@example.test', passwordHash: null, createdAt: now });
  await store.principals.createGroup?.({ id: 'g1', name: 'staff', email: 'staff@example.test', createdAt: now } as any);
  await store.principals.addMember('g1', 'u1').catch(() => undefined);
  const ops = async () => { await store.principals.findByName('bob'); await store.directoryLinks.ofPrincipal('u1'); await store.principals.groupsOf('u1'); await store.principals.findUserByEmail('bob@example.test'); await store.principals.get('u1'); };
  async function t(name: string) { for (let i = 0; i < 200; i++) await ops(); const n = 3000; const s = process.hrtime.bigint(); for (let i = 0; i < n; i++) await ops(); console.log(name, (Number(process.hrtime.bigint() - s) / 1e6 / n / 5 * 1000).toFixed(1), 'µs per query (5 reads)'); }
  const proto = ImmediateSqliteClient.prototype as any; const base = Object.getPrototypeOf(proto); const mine = proto._query;
  for (let r = 0; r < 3; r++) { proto._query = mine; await t('cached statements'); proto._query = base._query; await t('knex default (prepare each)'); }
  proto._query = mine;
  const one = async (name: string, f: () => Promise<unknown>) => { for (let i = 0; i < 200; i++) await f(); const n = 3000; const s = process.hrtime.bigint(); for (let i = 0; i < n; i++) await f(); console.log('  ', name, (Number(process.hrtime.bigint() - s) / 1e3 / n).toFixed(1), 'µs'); };
  await one('findByName', () => store.principals.findByName('bob'));
  await one('ofPrincipal', () => store.directoryLinks.ofPrincipal('u1'));
  await one('groupsOf', () => store.principals.groupsOf('u1'));
  await one('findUserByEmail', () => store.principals.findUserByEmail('bob@example.test'));
  await one('issued.record', () => store.issued.record({ id: Math.random().toString(36), clusterId: 'c', kind: 'UL', subject: 'bob', documentGuid: '{x}', issuedAt: now, validUntil: now, documentSha256: 'ab' }).catch(() => undefined));
  await store.close(); fs.rmSync(dir, { recursive: true, force: true });
}
main();
