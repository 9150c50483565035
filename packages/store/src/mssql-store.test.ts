import { randomBytes } from 'node:crypto';
import { knex, type Knex } from 'knex';
import { initialSchemaDdl } from './migrations/initial-schema';
import { directoryLinksSchemaDdl } from './migrations/directory-links-schema';
import { parseDatabaseUrl } from './parse-database-url';
import { auditQueries } from './repositories/audit-repository';
import { clusterQueries } from './repositories/clusters-repository';
import { daclQueries } from './repositories/dacl-repository';
import { issuedQueries } from './repositories/issued-repository';
import { keyQueries } from './repositories/keys-repository';
import { principalQueries } from './repositories/principals-repository';
import { requestLogQueries, type RequestLogEvent } from './repositories/request-log-repository';
import { settingsQueries } from './repositories/settings-repository';
import { slcChainQueries } from './repositories/slc-chains-repository';
import { openStore } from './store';
import { describeStoreContract, expectRmsError } from './testing/describe-store-contract';

/*
 * SQL Server cannot run on the build machine, so the DDL and the queries read on every request
 * are compiled for mssql offline and checked here; the full contract runs against a live server
 * only when RMS_TEST_MSSQL_URL is set (an account that may CREATE DATABASE).
 */

const TABLES = [
  'clusters',
  'servers',
  'keys',
  'slc_chains',
  'issued',
  'principals',
  'memberships',
  'dacl_entries',
  'audit_log',
  'request_log',
  'user_keys',
  'settings',
];

const compiled = new Set<string>();
const EXPECTED_CHECKS = ['ddl', 'cascade-paths', 'identifiers', 'queries', 'groupsOf', 'request-log-chunks'];

type Statement = { sql: string; bindings: readonly unknown[] };

function nativeSql(q: Knex.QueryBuilder | Knex.Raw): Statement {
  const n = q.toSQL().toNative();
  return { sql: n.sql, bindings: n.bindings };
}

/** Looks like T-SQL: bracketed identifiers, @pN parameters, no other dialect's quoting. */
function expectTsql(s: Statement): void {
  expect(s.sql).not.toMatch(/[`"]/);
  expect(s.sql).not.toContain('?');
  expect(s.sql).not.toMatch(/\blimit\b|\breturning\b|\bwith recursive\b/i);
  s.bindings.forEach((_, i) => expect(s.sql).toContain(`@p${i}`));
}

/** Pairs of tables joined by more than one chain of ON DELETE CASCADE foreign keys. */
function multipleCascadePaths(ddl: readonly Statement[]): string[] {
  const edges: { parent: string; child: string }[] = [];
  for (const s of ddl) {
    const table = /^CREATE TABLE \[(\w+)\]/.exec(s.sql)?.[1];
    if (!table) continue;
    for (const m of s.sql.matchAll(/FOREIGN KEY \(\[\w+\]\) REFERENCES \[(\w+)\] \(\[\w+\]\) ON DELETE CASCADE/g)) {
      edges.push({ parent: m[1]!, child: table });
    }
  }
  const tables = [...new Set(edges.flatMap((e) => [e.parent, e.child]))];
  const paths = (from: string, to: string): number =>
    edges.filter((e) => e.parent === from).reduce((n, e) => n + (e.child === to ? 1 : paths(e.child, to)), 0);
  return tables.flatMap((from) => tables.filter((to) => paths(from, to) > 1).map((to) => `${from} -> ${to}`));
}

describe('mssql SQL compiled offline', () => {
  const mssql = knex({ client: 'mssql' });
  afterAll(() => mssql.destroy());
  const ddl = initialSchemaDdl(mssql).toSQL() as unknown as Statement[];

  test('DDL uses SQL Server types and creates every table', () => {
    const all = ddl.map((s) => s.sql).join(';\n');
    for (const t of TABLES) expect(all).toContain(`CREATE TABLE [${t}] (`);
    expect(all).toContain('nvarchar(64)');
    expect(all).toContain('nvarchar(max)');
    expect(all).toMatch(/\[active\] bit not null/);
    expect(all).toContain('bigint identity(1,1) not null primary key');
    expect(all).toContain('ON DELETE CASCADE');
    // Only types SQL Server has: no text/boolean/timestamp columns slipped in.
    expect(all).not.toMatch(/\] (text|boolean|timestamp|datetime|jsonb?)\b/);
    // The one-active-chain rule is a filtered unique index with a literal predicate.
    expect(all).toContain('CREATE UNIQUE INDEX [slc_chains_one_active] ON [slc_chains] ([cluster_id]) where active = 1');
    for (const s of ddl) {
      expect(s.bindings).toEqual([]);
      expect(s.sql).not.toContain('?');
    }
    compiled.add('ddl');
  });

  test('no table is reachable by two cascading paths (SQL Server refuses such schemas)', () => {
    expect(multipleCascadePaths(ddl)).toEqual([]);
    // The check itself notices the mistake it guards against.
    const bad = knex({ client: 'mssql' }).schema
      .createTable('p', (t) => t.string('id').primary())
      .createTable('m', (t) => {
        t.string('a').references('id').inTable('p').onDelete('CASCADE');
        t.string('b').references('id').inTable('p').onDelete('CASCADE');
      });
    expect(multipleCascadePaths(bad.toSQL() as unknown as Statement[])).toEqual(['p -> m']);
    compiled.add('cascade-paths');
  });

  test('identifiers fit postgres (63 characters) and SQL Server (128)', () => {
    const pgDdl = initialSchemaDdl(knex({ client: 'pg' })).toSQL() as unknown as Statement[];
    const names = pgDdl.flatMap((s) => [...s.sql.matchAll(/"([^"]+)"/g)].map((m) => m[1]!));
    expect(names.length).toBeGreaterThan(50);
    for (const n of names) expect(n.length).toBeLessThanOrEqual(63);
    compiled.add('identifiers');
  });

  test('repository queries compile to T-SQL', () => {
    const checks: [string, Statement, RegExp][] = [
      ['cluster', nativeSql(clusterQueries.first(mssql)), /^select top \(@p0\) \* from \[clusters\] order by \[created_at\] asc$/],
      ['active key', nativeSql(keyQueries.active(mssql, 'c', 'cluster')), /^select top \(@p0\) \* from \[keys\] where \[cluster_id\] = @p1 and \[purpose\] = @p2 and \[active\] = @p3 order by \[created_at\] desc, \[id\] desc$/],
      ['active chain', nativeSql(slcChainQueries.active(mssql, 'c')), /^select top \(@p0\) \* from \[slc_chains\] where \[cluster_id\] = @p1 and \[active\] = @p2$/],
      ['lock cluster', nativeSql(slcChainQueries.lockCluster(mssql, 'c')), /from \[clusters\] with \(UPDLOCK\) where \[id\] = @p0/],
      ['deactivate', nativeSql(slcChainQueries.deactivateAll(mssql, 'c')), /^update \[slc_chains\] set \[active\] = @p0 where/],
      ['principal by name', nativeSql(principalQueries.byName(mssql, 'Alice')), /^select top \(@p0\) \* from \[principals\] where \[name_key\] = @p1$/],
      ['members', nativeSql(principalQueries.membersOf(mssql, 'g')), /inner join \[memberships\] as \[m\]/],
      ['dacl', nativeSql(daclQueries.list(mssql, { endpoint: '/X.asmx' })), /\[d\]\.\[right\]/],
      ['audit', nativeSql(auditQueries.list(mssql, { limit: 5, since: new Date(0) })), /^select top \(@p0\) \* from \[audit_log\] where \[at\] >= @p1 order by \[id\] desc$/],
      ['tail', nativeSql(requestLogQueries.tail(mssql, 5)), /^select top \(@p0\) \* from \[request_log\] order by \[id\] desc$/],
      ['purge', nativeSql(requestLogQueries.purge(mssql, new Date(0))), /^delete from \[request_log\] where \[at\] < @p0/],
      ['issued count', nativeSql(issuedQueries.count(mssql, { clusterId: 'c', kind: 'UL', expired: false })), /count\(\*\) as \[n\] from \[issued\]/],
      ['expire', nativeSql(issuedQueries.markExpired(mssql, new Date(0))), /^update \[issued\] set \[expired\] = @p0/],
      ['bump', nativeSql(settingsQueries.bump(mssql)), /set \[value\] = cast\(cast\(\[value\] as integer\) \+ 1 as varchar\(20\)\)/],
    ];
    for (const [name, statement, shape] of checks) {
      expect({ name, sql: statement.sql }).toEqual({ name, sql: expect.stringMatching(shape) });
      expectTsql(statement);
    }
    // Booleans are bound as JS booleans, which tedious sends as bit.
    expect(nativeSql(slcChainQueries.active(mssql, 'c')).bindings).toEqual([1, 'c', true]);
    expect(nativeSql(daclQueries.list(mssql, { endpoint: '/X.asmx' })).bindings).toEqual(['/x.asmx']);
    compiled.add('queries');
  });

  test('groupsOf uses a UNION ALL recursive CTE with a path guard on SQL Server', () => {
    const s = nativeSql(principalQueries.groupsOf(mssql, 'mssql', 'u1'));
    expectTsql(s);
    expect(s.sql).toMatch(/^with \[g\]\(\[id\], \[path\]\) as \(/);
    expect(s.sql).toContain('union all');
    expect(s.sql).not.toMatch(/union (?!all)/);
    expect(s.sql).toContain("charindex(N'/' + [m].[group_id] + N'/', [g].[path]) = 0");
    expect(s.bindings).toEqual(['u1', 'u1']);
    compiled.add('groupsOf');
  });

  test('request-log batches are split under the 2100-parameter limit', () => {
    const events: RequestLogEvent[] = Array.from({ length: 1001 }, (_, i) => ({
      at: new Date(i),
      operation: 'AcquireLicense',
      endpoint: '/_wmcs/licensing/license.asmx',
      principal: 'u',
      result: 'ok',
      durationMs: i,
      serverId: 's',
      requestId: `r${i}`,
    }));
    const chunks = requestLogQueries.insertChunks(mssql, events).map(nativeSql);
    expect(chunks.length).toBeGreaterThan(1);
    let rows = 0;
    for (const c of chunks) {
      expectTsql(c);
      expect(c.bindings.length).toBeLessThanOrEqual(2100);
      expect(c.sql).toMatch(/^insert into \[request_log\] \(/);
      rows += c.bindings.length / 8;
    }
    expect(rows).toBe(1001);
    compiled.add('request-log-chunks');
  });

  test('every offline mssql check above ran', () => {
    expect([...compiled].sort()).toEqual([...EXPECTED_CHECKS].sort());
  });
});

describe('mssql connection settings', () => {
  test('tedious accepts the settings parsed from the URL and fails only at connecting', async () => {
    // Port 1 on loopback refuses at once: reaching the connect step proves the config is valid.
    const e = await expectRmsError(
      openStore('mssql://sa:Secret%231@127.0.0.1:1/rms?trustServerCertificate=true&connectTimeout=3000'),
      'Unavailable',
    );
    expect(e.message).toContain('Failed to connect to 127.0.0.1:1');
    expect(e.message).toContain('mssql://sa:***@127.0.0.1:1/rms');
    expect(e.message).not.toMatch(/Secret/);
  });
});

const liveUrl = process.env.RMS_TEST_MSSQL_URL;
if (liveUrl) {
  describeStoreContract('mssql', async () => {
    const name = `openrms_test_${randomBytes(6).toString('hex')}`;
    const adminDb = knex(parseDatabaseUrl(liveUrl).knex);
    await adminDb.raw(`CREATE DATABASE [${name}]`);
    await adminDb.destroy();
    const url = new URL(liveUrl);
    url.pathname = `/${name}`;
    return {
      url: url.toString(),
      dispose: async () => {
        const db = knex(parseDatabaseUrl(liveUrl).knex);
        try {
          await db.raw(`ALTER DATABASE [${name}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE`);
          await db.raw(`DROP DATABASE [${name}]`);
        } finally {
          await db.destroy();
        }
      },
    };
  });
} else {
  // Shows up as "todo" in the summary, so a run without SQL Server is not mistaken for a pass.
  test.todo('store contract on a live SQL Server: set RMS_TEST_MSSQL_URL=mssql://user:pass@host:1433/master?trustServerCertificate=true');
}

describe('mssql DDL of later migrations', () => {
  const mssql = knex({ client: 'mssql' });
  afterAll(() => mssql.destroy());

  test('directory_links: SQL Server types, one cascading key to principals, unique entry per source', () => {
    const ddl = directoryLinksSchemaDdl(mssql).toSQL() as unknown as Statement[];
    const all = ddl.map((s) => s.sql).join(';\n');
    expect(all).toContain('CREATE TABLE [directory_links] (');
    expect(all).toContain('[principal_id] nvarchar(64)');
    expect(all).toContain('[dn] nvarchar(max)');
    expect(all).toMatch(/FOREIGN KEY \(\[principal_id\]\) REFERENCES \[principals\] \(\[id\]\) ON DELETE CASCADE/);
    expect(all).toMatch(/UNIQUE \(\[source\], \[external_id\]\)|unique.*\[source\], \[external_id\]/i);
    expect(all).not.toMatch(/\] (text|boolean|timestamp|datetime|jsonb?)\b/);
    expect(multipleCascadePaths([...(initialSchemaDdl(mssql).toSQL() as unknown as Statement[]), ...ddl])).toEqual([]);
  });
});
