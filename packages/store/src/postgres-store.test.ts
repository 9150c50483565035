import { randomBytes } from 'node:crypto';
import { knex, type Knex } from 'knex';
import { openStore } from './store';
import { describeStoreContract, expectRmsError } from './testing/describe-store-contract';

/** A superuser connection to the maintenance database, used only to create and drop test databases. */
const ADMIN_URL = process.env.RMS_TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function admin<T>(fn: (db: Knex) => Promise<T>): Promise<T> {
  const db = knex({ client: 'pg', connection: { connectionString: ADMIN_URL }, pool: { min: 0, max: 1 } });
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

describeStoreContract('postgres', async () => {
  // A fresh database per run: the contract starts from an empty, unprovisioned schema.
  const name = `openrms_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.raw(`CREATE DATABASE ${name}`));
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    dispose: () => admin((c) => c.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
});

describe('postgres connection failures', () => {
  test('a missing database is NotFound and a closed port Unavailable, without the password', async () => {
    for (const [url, code] of [
      ['postgres://postgres:TopSecret99@127.0.0.1:5432/openrms_no_such_database', 'NotFound'],
      ['postgres://postgres:TopSecret99@127.0.0.1:1/openrms', 'Unavailable'],
    ] as const) {
      const e = await expectRmsError(openStore(url), code);
      expect(e.message).not.toContain('TopSecret99');
      expect(e.message).toContain('postgres://postgres:***@127.0.0.1');
    }
  });
});
