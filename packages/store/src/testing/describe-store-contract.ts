import { RmsError, newId, type RmsErrorCode } from '@openrms/domain';
import { SCHEMA_VERSION } from '../migration-source';
import { REQUEST_LOG_ROWS_PER_INSERT, type RequestLogEvent } from '../repositories/request-log-repository';
import { openStore, type Store } from '../store';

/** A database for one run of the contract: a URL that is empty of OpenRMS tables, and its clean-up. */
export interface StoreTarget {
  url: string;
  dispose(): Promise<void>;
}

export async function expectRmsError(p: Promise<unknown>, code: RmsErrorCode): Promise<RmsError> {
  let error: unknown;
  try {
    await p;
  } catch (e) {
    error = e;
  }
  if (error === undefined) throw new Error(`expected RmsError ${code}, but the call succeeded`);
  expect(error).toBeInstanceOf(RmsError);
  expect((error as RmsError).code).toBe(code);
  return error as RmsError;
}

const at = (iso: string) => new Date(iso);

/**
 * The behaviour every dialect must show, run against a real database per dialect. Tests share
 * one database and run in order; each uses its own names so the order matters only for the
 * first (provisioning) test.
 */
export function describeStoreContract(label: string, createTarget: () => Promise<StoreTarget>): void {
  describe(`store contract on ${label}`, () => {
    let target: StoreTarget | undefined;
    let store: Store;
    const clusterId = newId();

    beforeAll(async () => {
      target = await createTarget();
      store = await openStore(target.url, { migrate: true });
    });

    afterAll(async () => {
      await store?.close();
      await target?.dispose();
    });

    async function provisioned(): Promise<string> {
      if (!(await store.clusters.find())) {
        await store.clusters.create({
          id: clusterId,
          kind: 'root',
          name: 'Contoso root',
          url: 'https://rms.contoso.test/_wmcs',
          createdAt: at('2024-01-02T03:04:05.678Z'),
        });
      }
      return clusterId;
    }

    let keyCounter = 0;
    async function newKey(purpose = 'cluster', active = true, createdAt = at('2024-01-01T00:00:00.000Z')) {
      keyCounter += 1;
      return store.keys.insert({
        id: newId(),
        clusterId: await provisioned(),
        purpose,
        publicKeyPem: `-----BEGIN PUBLIC KEY-----\nkey${keyCounter}\n-----END PUBLIC KEY-----\n`,
        wrappedPrivateKey: `wrapped:${keyCounter}`,
        createdAt,
        active,
      });
    }

    test('migrations: applied on open, idempotent when run again', async () => {
      expect(await store.schemaVersion()).toBe(SCHEMA_VERSION);
      expect(await store.migrate()).toEqual([]);
      const second = await openStore(target!.url, { migrate: true });
      try {
        expect(await second.schemaVersion()).toBe(SCHEMA_VERSION);
        expect(await second.migrate()).toEqual([]);
      } finally {
        await second.close();
      }
      // The seed row was written once, not once per migrate call.
      expect(await store.settings.configVersion()).toBe(0);
      expect(store.dialect).toBe(label.split(' ')[0]);
    });

    test('ping answers', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    test('clusters: none until provisioned, then exactly one', async () => {
      expect(await store.clusters.find()).toBeUndefined();
      await expectRmsError(store.clusters.get(), 'NotProvisioned');

      const created = await store.clusters.create({
        id: clusterId,
        kind: 'root',
        name: 'Contoso root',
        url: 'https://rms.contoso.test/_wmcs',
        createdAt: at('2024-01-02T03:04:05.678Z'),
        settings: { slcRenewalDays: 30, nested: { a: [1, 'b'] } },
      });
      expect(created).toEqual({
        id: clusterId,
        kind: 'root',
        name: 'Contoso root',
        url: 'https://rms.contoso.test/_wmcs',
        createdAt: at('2024-01-02T03:04:05.678Z'),
        decommissioned: false,
        settings: { slcRenewalDays: 30, nested: { a: [1, 'b'] } },
      });
      expect(await store.clusters.find()).toEqual(created);
      expect(await store.clusters.get()).toEqual(created);

      const again = { id: newId(), kind: 'licensing' as const, name: 'x', url: 'https://x.test/_wmcs', createdAt: new Date() };
      await expectRmsError(store.clusters.create(again), 'AlreadyExists');
      await expectRmsError(store.clusters.create({ ...again, id: clusterId }), 'AlreadyExists');

      const decommissioned = await store.clusters.update(clusterId, { decommissioned: true, settings: { x: true } });
      expect(decommissioned.decommissioned).toBe(true);
      expect(decommissioned.settings).toEqual({ x: true });
      expect((await store.clusters.update(clusterId, { decommissioned: false })).decommissioned).toBe(false);
      await expectRmsError(store.clusters.update(newId(), { name: 'nobody' }), 'NotFound');
    });

    test('timestamps round-trip to the millisecond; booleans come back as booleans', async () => {
      const cid = await provisioned();
      const instants = [
        at('2024-02-29T23:59:59.999Z'),
        at('1970-01-01T00:00:00.001Z'),
        at('9999-12-31T23:59:59.999Z'),
        at('2038-01-19T03:14:08.123Z'),
      ];
      for (const [i, instant] of instants.entries()) {
        const id = newId();
        await store.issued.record({
          id,
          clusterId: cid,
          kind: 'RAC',
          subject: `ts${i}@contoso.test`,
          documentGuid: `{${newId()}}`,
          issuedAt: instant,
          // Far future, so the markExpired counts further down see only their own records.
          validUntil: at('9999-12-31T23:59:59.999Z'),
          documentSha256: 'a'.repeat(64),
        });
        const row = await store.issued.find(id);
        expect(row?.issuedAt).toBeInstanceOf(Date);
        expect(row?.issuedAt.getTime()).toBe(instant.getTime());
        expect(row?.issuedAt.toISOString()).toBe(instant.toISOString());
        expect(row?.validUntil.toISOString()).toBe('9999-12-31T23:59:59.999Z');
        expect(row?.expired).toBe(false);
      }
      const base = { clusterId: cid, kind: 'RAC' as const, subject: 's', documentGuid: 'g', documentSha256: 'h' };
      await expectRmsError(
        store.issued.record({ ...base, id: newId(), issuedAt: new Date('nonsense'), validUntil: new Date() }),
        'InvalidInput',
      );
      await expectRmsError(
        store.issued.record({ ...base, id: newId(), issuedAt: new Date(), validUntil: at('+010000-01-01T00:00:00.000Z') }),
        'InvalidInput',
      );
    });

    test('servers: upsert, heartbeat, list, find, remove', async () => {
      const cid = await provisioned();
      const id1 = newId();
      const id2 = newId();
      const s1 = await store.servers.upsert({
        id: id1,
        clusterId: cid,
        name: 'rms1',
        url: 'http://rms1.contoso.test',
        serviceAccount: 'CONTOSO\\svc-rms',
        joinedAt: at('2024-03-01T10:00:00.001Z'),
      });
      expect(s1).toEqual({
        id: id1,
        clusterId: cid,
        name: 'rms1',
        url: 'http://rms1.contoso.test',
        serviceAccount: 'CONTOSO\\svc-rms',
        joinedAt: at('2024-03-01T10:00:00.001Z'),
        lastHeartbeatAt: null,
      });
      await store.servers.upsert({ id: id2, clusterId: cid, name: 'rms2', url: 'http://rms2.contoso.test', joinedAt: at('2024-03-02T10:00:00.000Z') });

      // Joining again refreshes name and URL but keeps the original join time.
      const again = await store.servers.upsert({
        id: id1,
        clusterId: cid,
        name: 'rms1-renamed',
        url: 'http://rms1b.contoso.test',
        serviceAccount: null,
        joinedAt: at('2025-01-01T00:00:00.000Z'),
      });
      expect(again).toMatchObject({ name: 'rms1-renamed', url: 'http://rms1b.contoso.test', serviceAccount: null });
      expect(again.joinedAt).toEqual(at('2024-03-01T10:00:00.001Z'));

      await store.servers.heartbeat(id1, at('2024-03-05T00:00:00.999Z'));
      expect((await store.servers.find(id1))?.lastHeartbeatAt).toEqual(at('2024-03-05T00:00:00.999Z'));
      await expectRmsError(store.servers.heartbeat(newId(), new Date()), 'NotFound');

      expect((await store.servers.list(cid)).map((s) => s.id)).toEqual([id1, id2]);
      expect(await store.servers.list(newId())).toEqual([]);
      expect(await store.servers.find(newId())).toBeUndefined();

      await expectRmsError(
        store.servers.upsert({ id: newId(), clusterId: newId(), name: 'orphan', url: 'http://o', joinedAt: new Date() }),
        'NotFound',
      );
      expect(await store.servers.remove(id2)).toBe(true);
      expect(await store.servers.remove(id2)).toBe(false);
      expect((await store.servers.list(cid)).map((s) => s.id)).toEqual([id1]);
    });

    test('keys: insert, get, getActive picks the newest active of a purpose', async () => {
      const cid = await provisioned();
      const old = await newKey('signing-test', true, at('2024-01-01T00:00:00.000Z'));
      const newer = await newKey('signing-test', true, at('2024-06-01T00:00:00.000Z'));
      await newKey('signing-test', false, at('2025-01-01T00:00:00.000Z'));
      expect(old.active).toBe(true);
      expect(await store.keys.get(old.id)).toEqual(old);
      expect((await store.keys.getActive(cid, 'signing-test')).id).toBe(newer.id);

      await store.keys.setActive(newer.id, false);
      expect((await store.keys.getActive(cid, 'signing-test')).id).toBe(old.id);
      expect((await store.keys.get(newer.id)).active).toBe(false);

      await expectRmsError(store.keys.getActive(cid, 'no-such-purpose'), 'NotFound');
      await expectRmsError(store.keys.get(newId()), 'NotFound');
      await expectRmsError(store.keys.setActive(newId(), true), 'NotFound');
      await expectRmsError(store.keys.insert({ ...old }), 'AlreadyExists');
      await expectRmsError(store.keys.insert({ ...old, id: newId(), clusterId: newId() }), 'NotFound');
      expect((await store.keys.list(cid)).map((k) => k.id)).toEqual(expect.arrayContaining([old.id, newer.id]));
    });

    test('slc chains: insert, getActive, activate leaves exactly one active', async () => {
      const cid = await provisioned();
      const key = await newKey();
      await expectRmsError(store.slcChains.getActive(cid), 'NotFound');

      // XML-ish content with quotes, entities, non-ASCII and a large body must come back byte for byte.
      const leaf = `<XrML version="1.2"><BODY type="Server-License" note='&amp; "ü" 証明書'>${'x'.repeat(100_000)}</BODY></XrML>`;
      const chainOf = (n: number) => [leaf, `<XrML><BODY>issuer ${n}</BODY></XrML>`];
      const make = (n: number, active: boolean) => ({
        id: newId(),
        clusterId: cid,
        keyId: key.id,
        chain: chainOf(n),
        subject: `CN=rms${n}`,
        issuer: 'CN=Microsoft',
        validFrom: at('2024-01-01T00:00:00.000Z'),
        validUntil: at('2025-01-01T00:00:00.000Z'),
        createdAt: at(`2024-01-0${n}T00:00:00.000Z`),
        active,
      });
      const a = await store.slcChains.insert(make(1, false));
      expect(a.chain).toEqual(chainOf(1));
      expect(a.active).toBe(false);
      await expectRmsError(store.slcChains.getActive(cid), 'NotFound');

      const b = await store.slcChains.insert(make(2, true));
      expect((await store.slcChains.getActive(cid)).id).toBe(b.id);
      // Inserting another active chain replaces the active one.
      const c = await store.slcChains.insert(make(3, true));
      const activeIds = async () => (await store.slcChains.list(cid)).filter((x) => x.active).map((x) => x.id);
      expect(await activeIds()).toEqual([c.id]);

      await store.slcChains.activate(a.id);
      expect(await activeIds()).toEqual([a.id]);
      expect(await store.slcChains.getActive(cid)).toEqual({ ...a, active: true });
      await store.slcChains.activate(a.id);
      expect(await activeIds()).toEqual([a.id]);

      await expectRmsError(store.slcChains.activate(newId()), 'NotFound');
      expect(await activeIds()).toEqual([a.id]);

      // Concurrent activations queue up instead of failing or leaving two active.
      await Promise.all([b.id, c.id, a.id, b.id, c.id].map((id) => store.slcChains.activate(id)));
      expect(await activeIds()).toHaveLength(1);

      expect((await store.slcChains.list(cid)).map((x) => x.id)).toEqual([c.id, b.id, a.id]);
      await expectRmsError(store.slcChains.insert({ ...make(4, false), id: a.id }), 'AlreadyExists');
      await expectRmsError(store.slcChains.insert({ ...make(4, false), keyId: newId() }), 'NotFound');
      await expectRmsError(store.slcChains.insert({ ...make(4, false), chain: [] }), 'InvalidInput');
      await expectRmsError(store.slcChains.get(newId()), 'NotFound');
    });

    test('slc chains: a swap guarded by getActiveForUpdate happens once under concurrency', async () => {
      const cid = await provisioned();
      const key = await newKey();
      const make = (n: number) => ({
        id: newId(),
        clusterId: cid,
        keyId: key.id,
        chain: [`<XrML><BODY>cas ${n}</BODY></XrML>`],
        subject: `CN=cas${n}`,
        issuer: 'CN=cas',
        validFrom: at('2024-01-01T00:00:00.000Z'),
        validUntil: at('2025-01-01T00:00:00.000Z'),
        createdAt: at('2024-01-01T00:00:00.000Z'),
        active: true,
      });
      const first = await store.slcChains.insert(make(0));
      // Each contender read `first` as active before its transaction; only one may replace it.
      const swap = (n: number) =>
        store.transaction(async (tx) => {
          const current = await tx.slcChains.getActiveForUpdate(cid);
          if (current.id !== first.id) return false;
          await tx.slcChains.insert(make(n));
          return true;
        });
      const results = await Promise.all([1, 2, 3, 4].map(swap));
      expect(results.filter(Boolean)).toHaveLength(1);
      const rows = await store.slcChains.list(cid);
      expect(rows.filter((r) => r.subject.startsWith('CN=cas'))).toHaveLength(2);
      expect(rows.filter((r) => r.active)).toHaveLength(1);
      await expectRmsError(store.slcChains.getActiveForUpdate(newId()), 'NotFound');
    });

    test('issued: record, count by cluster/kind/expired, markExpired', async () => {
      const cid = await provisioned();
      const beforeUl = await store.issued.count({ kind: 'UL' });
      const beforeAll = await store.issued.count();
      const beforeCluster = await store.issued.count({ clusterId: cid });
      const rec = (validUntil: string) => ({
        id: newId(),
        clusterId: cid,
        kind: 'UL' as const,
        subject: 'bob@contoso.test',
        documentGuid: `{${newId()}}`,
        issuedAt: at('1999-01-01T00:00:00.000Z'),
        validUntil: at(validUntil),
        documentSha256: 'f'.repeat(64),
      });
      const past = rec('2000-01-01T00:00:00.000Z');
      const boundary = rec('2001-01-01T00:00:00.000Z');
      const future = rec('2001-01-01T00:00:00.001Z');
      for (const r of [past, boundary, future]) await store.issued.record(r);

      expect(await store.issued.count({ kind: 'UL' })).toBe(beforeUl + 3);
      expect(await store.issued.count()).toBe(beforeAll + 3);
      expect(await store.issued.count({ clusterId: cid })).toBe(beforeCluster + 3);
      expect(await store.issued.count({ clusterId: newId() })).toBe(0);
      expect(await store.issued.count({ clusterId: cid, kind: 'PL' })).toBe(0);

      expect(await store.issued.markExpired(at('2001-01-01T00:00:00.000Z'))).toBe(2);
      expect(await store.issued.markExpired(at('2001-01-01T00:00:00.000Z'))).toBe(0);
      expect((await store.issued.find(past.id))?.expired).toBe(true);
      expect((await store.issued.find(boundary.id))?.expired).toBe(true);
      expect((await store.issued.find(future.id))?.expired).toBe(false);
      expect(await store.issued.count({ kind: 'UL', expired: true })).toBe(2);

      await expectRmsError(store.issued.record(past), 'AlreadyExists');
      await expectRmsError(store.issued.record({ ...past, id: newId(), clusterId: newId() }), 'NotFound');
    });

    test('issued: recordMany writes all rows or none, across several statements too', async () => {
      const cid = await provisioned();
      const rec = () => ({
        id: newId(),
        clusterId: cid,
        kind: 'RAC' as const,
        subject: 'many@contoso.test',
        documentGuid: `{${newId()}}`,
        issuedAt: at('2020-01-01T00:00:00.000Z'),
        validUntil: at('2030-01-01T00:00:00.000Z'),
        documentSha256: 'e'.repeat(64),
      });
      const before = await store.issued.count({ clusterId: cid, kind: 'RAC' });
      await store.issued.recordMany([]);
      // More rows than one statement may carry: several statements, one transaction.
      const many = Array.from({ length: 500 }, rec);
      await store.issued.recordMany(many);
      expect(await store.issued.count({ clusterId: cid, kind: 'RAC' })).toBe(before + 500);
      expect((await store.issued.find(many[499]!.id))?.subject).toBe('many@contoso.test');

      // One row already there: nothing of the batch is written, in one statement or several.
      const fresh = Array.from({ length: 3 }, rec);
      await expectRmsError(store.issued.recordMany([...fresh, many[0]!]), 'AlreadyExists');
      const freshMany = Array.from({ length: 300 }, rec);
      await expectRmsError(store.issued.recordMany([...freshMany, many[1]!]), 'AlreadyExists');
      await expectRmsError(store.issued.recordMany([rec(), { ...rec(), clusterId: newId() }]), 'NotFound');
      expect(await store.issued.count({ clusterId: cid, kind: 'RAC' })).toBe(before + 500);
      expect(await store.issued.find(fresh[0]!.id)).toBeUndefined();
      expect(await store.issued.find(freshMany[0]!.id)).toBeUndefined();

      // Inside a caller's transaction it is part of that transaction.
      const inside = rec();
      await expect(
        store.transaction(async (tx) => {
          await tx.issued.recordMany([inside]);
          throw new Error('undo');
        }),
      ).rejects.toThrow('undo');
      expect(await store.issued.find(inside.id)).toBeUndefined();
    });

    test('principals: users and groups, names unique and found ignoring case', async () => {
      const alice = await store.principals.createUser({
        id: newId(),
        name: 'Alice@Contoso.test',
        email: 'alice@contoso.test',
        displayName: 'Alice',
        passwordHash: '$argon2id$v=19$x',
        createdAt: at('2024-04-01T00:00:00.500Z'),
      });
      expect(alice).toMatchObject({
        kind: 'user',
        name: 'Alice@Contoso.test',
        email: 'alice@contoso.test',
        displayName: 'Alice',
        passwordHash: '$argon2id$v=19$x',
        builtin: false,
        disabled: false,
      });
      expect(alice.createdAt).toEqual(at('2024-04-01T00:00:00.500Z'));

      expect(await store.principals.findByName('alice@contoso.TEST')).toEqual(alice);
      expect(await store.principals.getByName('ALICE@CONTOSO.TEST')).toEqual(alice);
      expect(await store.principals.findByName('nobody')).toBeUndefined();
      await expectRmsError(store.principals.getByName('nobody'), 'NotFound');

      const clash = await expectRmsError(
        store.principals.createUser({ id: newId(), name: 'ALICE@contoso.test', email: null, passwordHash: null, createdAt: new Date() }),
        'AlreadyExists',
      );
      expect(clash.message).toContain('ALICE@contoso.test');
      // Users and groups share one namespace.
      await expectRmsError(store.principals.createGroup({ id: newId(), name: 'alice@contoso.test', createdAt: new Date() }), 'AlreadyExists');
      await expectRmsError(
        store.principals.createUser({ id: alice.id, name: 'someone-else', email: null, passwordHash: null, createdAt: new Date() }),
        'AlreadyExists',
      );
      await expectRmsError(
        store.principals.createUser({ id: newId(), name: '  ', email: null, passwordHash: null, createdAt: new Date() }),
        'InvalidInput',
      );

      const admins = await store.principals.createGroup({ id: newId(), name: 'P-Admins', builtin: true, createdAt: new Date() });
      expect(admins).toMatchObject({ kind: 'group', builtin: true, email: null, passwordHash: null });

      const users = await store.principals.list('user');
      expect(users.every((p) => p.kind === 'user')).toBe(true);
      expect(users.map((p) => p.id)).toContain(alice.id);
      const groups = await store.principals.list('group');
      expect(groups.map((p) => p.id)).toContain(admins.id);
      expect(groups.every((p) => p.kind === 'group')).toBe(true);
      const all = (await store.principals.list()).map((p) => p.id);
      expect(all.indexOf(alice.id)).toBeLessThan(all.indexOf(admins.id)); // by name, ignoring case

      await store.principals.setPasswordHash(alice.id, null);
      await store.principals.setDisabled(alice.id, true);
      expect(await store.principals.get(alice.id)).toMatchObject({ passwordHash: null, disabled: true });
      await expectRmsError(store.principals.setDisabled(newId(), true), 'NotFound');
      await expectRmsError(store.principals.get(newId()), 'NotFound');
    });

    test('principals: membership is idempotent; groupsOf is transitive and survives cycles', async () => {
      const mk = (name: string) => store.principals.createGroup({ id: newId(), name, createdAt: new Date() });
      const user = await store.principals.createUser({ id: newId(), name: 'nested-user', email: null, passwordHash: null, createdAt: new Date() });
      const [g1, g2, g3, g4, lonely] = [await mk('g1'), await mk('g2'), await mk('g3'), await mk('g4'), await mk('lonely')];

      await store.principals.addMember(g1.id, user.id);
      await store.principals.addMember(g1.id, user.id);
      await store.principals.addMember(g2.id, g1.id);
      await store.principals.addMember(g3.id, g2.id);
      await store.principals.addMember(g1.id, g3.id); // closes the cycle g1 -> g2 -> g3 -> g1
      await store.principals.addMember(g4.id, user.id);

      const names = (ps: { name: string }[]) => ps.map((p) => p.name);
      expect(names(await store.principals.membersOf(g1.id))).toEqual(['g3', 'nested-user']);
      expect(names(await store.principals.groupsOf(user.id))).toEqual(['g1', 'g2', 'g3', 'g4']);
      expect(names(await store.principals.groupsOf(g1.id))).toEqual(['g2', 'g3']);
      expect(await store.principals.groupsOf(lonely.id)).toEqual([]);
      expect((await store.principals.groupsOf(user.id)).every((g) => g.kind === 'group')).toBe(true);

      await expectRmsError(store.principals.addMember(user.id, g1.id), 'InvalidInput');
      await expectRmsError(store.principals.addMember(g1.id, g1.id), 'InvalidInput');
      await expectRmsError(store.principals.addMember(newId(), user.id), 'NotFound');
      await expectRmsError(store.principals.addMember(g1.id, newId()), 'NotFound');

      expect(await store.principals.removeMember(g4.id, user.id)).toBe(true);
      expect(await store.principals.removeMember(g4.id, user.id)).toBe(false);
      expect(names(await store.principals.groupsOf(user.id))).toEqual(['g1', 'g2', 'g3']);

      // Removing a group takes its memberships both ways with it.
      expect(await store.principals.remove(g2.id)).toBe(true);
      expect(await store.principals.remove(g2.id)).toBe(false);
      expect(names(await store.principals.groupsOf(user.id))).toEqual(['g1']);
      expect(names(await store.principals.membersOf(g1.id))).toEqual(['g3', 'nested-user']);
      expect(await store.principals.remove(user.id)).toBe(true);
      expect(names(await store.principals.membersOf(g1.id))).toEqual(['g3']);
    });

    test('dacl: add is idempotent on its key, list joins the principal, remove', async () => {
      const grp = await store.principals.createGroup({ id: newId(), name: 'Licensing Servers', createdAt: new Date() });
      const usr = await store.principals.createUser({ id: newId(), name: 'dacl-user', email: null, passwordHash: null, createdAt: new Date() });
      const endpoint = '/_wmcs/certification/SubEnrollService.asmx';
      const entry = {
        id: newId(),
        endpoint,
        principalId: grp.id,
        right: 'Execute' as const,
        effect: 'allow' as const,
        createdAt: at('2024-05-05T05:05:05.555Z'),
        createdBy: 'admin',
      };
      const added = await store.dacl.add(entry);
      expect(added).toEqual({
        ...entry,
        endpoint: '/_wmcs/certification/subenrollservice.asmx',
        principalName: 'Licensing Servers',
        principalKind: 'group',
      });
      const again = await store.dacl.add({ ...entry, id: newId(), endpoint: endpoint.toUpperCase(), createdBy: 'other' });
      expect(again).toEqual(added);
      await expectRmsError(store.dacl.add({ ...entry, right: 'Read' }), 'AlreadyExists');

      const deny = await store.dacl.add({ ...entry, id: newId(), principalId: usr.id, effect: 'deny' });
      await store.dacl.add({ ...entry, id: newId(), endpoint: '/_wmcs/licensing/license.asmx', right: 'Read' });

      const forEndpoint = await store.dacl.list('/_WMCS/certification/subenrollservice.asmx');
      expect(forEndpoint.map((e) => [e.principalName, e.right, e.effect])).toEqual([
        ['dacl-user', 'Execute', 'deny'],
        ['Licensing Servers', 'Execute', 'allow'],
      ]);
      expect(forEndpoint[0]).toMatchObject({ principalKind: 'user', createdBy: 'admin' });
      expect((await store.dacl.list()).length).toBeGreaterThanOrEqual(3);
      expect(await store.dacl.list('/nothing.asmx')).toEqual([]);

      await store.dacl.remove(deny.id);
      await expectRmsError(store.dacl.remove(deny.id), 'NotFound');
      expect(await store.dacl.list(endpoint)).toHaveLength(1);

      await expectRmsError(store.dacl.add({ ...entry, id: newId(), principalId: newId() }), 'NotFound');
      await expectRmsError(store.dacl.add({ ...entry, id: newId(), right: 'Write' as never }), 'InvalidInput');
      await expectRmsError(store.dacl.add({ ...entry, id: newId(), endpoint: 'no-slash.asmx' }), 'InvalidInput');

      // Entries go with their principal.
      await store.principals.remove(grp.id);
      expect(await store.dacl.list(endpoint)).toEqual([]);
    });

    test('audit: append JSON before/after, list newest first with limit and since', async () => {
      const base = { actor: 'admin', action: 'dacl.add', target: '/_wmcs/x.asmx' };
      await store.audit.append({ ...base, at: at('2030-01-01T00:00:00.001Z'), before: null, after: { right: 'Read', n: [1, 2] }, correlationId: 'c-1' });
      await store.audit.append({ ...base, at: at('2030-01-02T00:00:00.002Z') });
      await store.audit.append({ ...base, at: at('2030-01-03T00:00:00.003Z'), action: 'principal.create', target: null, after: 'x' });

      const latest = await store.audit.list({ limit: 2 });
      expect(latest).toHaveLength(2);
      expect(latest[0]).toMatchObject({ action: 'principal.create', target: null, after: 'x', correlationId: null });
      expect(latest[0]).not.toHaveProperty('before');
      expect(latest[0]!.at).toEqual(at('2030-01-03T00:00:00.003Z'));
      expect(typeof latest[0]!.id).toBe('number');
      expect(latest[0]!.id).toBeGreaterThan(latest[1]!.id);
      expect(latest[1]).not.toHaveProperty('after');

      const since = await store.audit.list({ limit: 10, since: at('2030-01-01T00:00:00.001Z') });
      expect(since).toHaveLength(3);
      expect(since[2]).toMatchObject({ before: null, after: { right: 'Read', n: [1, 2] }, correlationId: 'c-1' });
      expect(await store.audit.list({ limit: 10, since: at('2030-01-03T00:00:00.004Z') })).toEqual([]);
    });

    test('request log: batches beyond the SQL Server parameter limit, tail, purge', async () => {
      expect(await store.requestLog.appendMany([])).toBe(0);
      const count = REQUEST_LOG_ROWS_PER_INSERT * 2 + 17; // three statements; > 2100 parameters in all
      expect(count * 8).toBeGreaterThan(2100);
      const t0 = at('2031-01-01T00:00:00.000Z').getTime();
      const events: RequestLogEvent[] = Array.from({ length: count }, (_, i) => ({
        at: new Date(t0 + i),
        operation: i % 2 ? 'AcquireLicense' : 'Certify',
        endpoint: '/_wmcs/licensing/license.asmx',
        principal: i % 3 ? `user${i}@contoso.test` : null,
        result: i % 5 ? 'ok' : 'InvalidRightsLabelSignature',
        durationMs: i,
        serverId: 'rms1',
        requestId: `r-${i}`,
      }));
      expect(await store.requestLog.appendMany(events)).toBe(count);

      const tail = await store.requestLog.tail(count);
      expect(tail).toHaveLength(count);
      expect(tail.map((r) => r.requestId)).toEqual(events.map((e) => e.requestId));
      expect(tail[count - 1]).toMatchObject({
        operation: events[count - 1]!.operation,
        principal: events[count - 1]!.principal,
        result: events[count - 1]!.result,
        durationMs: count - 1,
        serverId: 'rms1',
      });
      expect(tail[3]!.principal).toBeNull();
      expect(tail[count - 1]!.at).toEqual(new Date(t0 + count - 1));
      expect(tail[1]!.id).toBeGreaterThan(tail[0]!.id);
      expect((await store.requestLog.tail(2)).map((r) => r.requestId)).toEqual([`r-${count - 2}`, `r-${count - 1}`]);
      expect(await store.requestLog.tail(0)).toEqual([]);

      // Oversized values from the network are clipped, not fatal to the batch.
      await store.requestLog.appendMany([{ at: new Date(t0 + count), operation: 'x'.repeat(500), endpoint: '/'.padEnd(1000, 'a'), result: 'ok', durationMs: 1 }]);
      const [last] = await store.requestLog.tail(1);
      expect(last!.endpoint).toHaveLength(255);
      expect(last!.operation).toHaveLength(128);

      expect(await store.requestLog.purgeOlderThan(new Date(t0 + 100))).toBe(100);
      expect(await store.requestLog.purgeOlderThan(new Date(t0 + 100))).toBe(0);
      expect(await store.requestLog.tail(count + 10)).toHaveLength(count + 1 - 100);
    });

    test('settings: JSON values, upsert, atomic config version', async () => {
      expect(await store.settings.get('missing')).toBeUndefined();
      await store.settings.set('policy', { validityYears: 7, names: ['a'] });
      expect(await store.settings.get('policy')).toEqual({ validityYears: 7, names: ['a'] });
      await store.settings.set('policy', 'replaced');
      expect(await store.settings.get('policy')).toBe('replaced');
      await store.settings.set('nothing', null);
      expect(await store.settings.get('nothing')).toBeNull();

      const start = await store.settings.configVersion();
      expect(await store.settings.bumpConfigVersion()).toBe(start + 1);
      const results = await Promise.all(Array.from({ length: 10 }, () => store.settings.bumpConfigVersion()));
      expect([...results].sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => start + 2 + i));
      expect(await store.settings.configVersion()).toBe(start + 11);
      await expectRmsError(store.settings.set('config_version', 'x'), 'InvalidInput');
      await expectRmsError(store.settings.set('', 1), 'InvalidInput');
    });

    test('settings: set-if-absent lets one of several racing writers win, and everyone reads the winner', async () => {
      const won = await Promise.all(Array.from({ length: 8 }, (_, i) => store.settings.setIfAbsent('race', { writer: i })));
      expect(won.filter(Boolean)).toHaveLength(1);
      expect(await store.settings.get('race')).toEqual({ writer: won.indexOf(true) });
      expect(await store.settings.setIfAbsent('race', 'again')).toBe(false);
      await expectRmsError(store.settings.setIfAbsent('config_version', 1), 'InvalidInput');
    });

    test('user keys: one pair per principal', async () => {
      const u = await store.principals.createUser({ id: newId(), name: 'key-user', email: null, passwordHash: null, createdAt: new Date() });
      const k = { principalId: u.id, publicKeyPem: 'PEM', wrappedPrivateKey: 'wrapped', createdAt: at('2024-07-07T07:07:07.007Z') };
      await store.userKeys.insert(k);
      expect(await store.userKeys.find(u.id)).toEqual(k);
      await expectRmsError(store.userKeys.insert(k), 'AlreadyExists');
      await expectRmsError(store.userKeys.insert({ ...k, principalId: newId() }), 'NotFound');
      expect(await store.userKeys.find(newId())).toBeUndefined();
    });

    test('transactions: commit on resolve, nothing half-written on throw', async () => {
      const cid = await provisioned();
      const committed = await store.transaction(async (tx) => {
        expect(tx.inTransaction).toBe(true);
        await tx.principals.createUser({ id: newId(), name: 'tx-commit', email: null, passwordHash: null, createdAt: new Date() });
        await tx.settings.set('tx-commit', 1);
        return 'done';
      });
      expect(committed).toBe('done');
      expect(await store.principals.findByName('tx-commit')).toBeDefined();

      const activeBefore = (await store.slcChains.getActive(cid)).id;
      const other = (await store.slcChains.list(cid)).find((c) => c.id !== activeBefore)!;
      const failure = new Error('boom');
      await expect(
        store.transaction(async (tx) => {
          const g = await tx.principals.createGroup({ id: newId(), name: 'tx-rollback', createdAt: new Date() });
          await tx.dacl.add({ id: newId(), endpoint: '/tx.asmx', principalId: g.id, right: 'Read', effect: 'allow', createdAt: new Date(), createdBy: 't' });
          await tx.audit.append({ at: at('2040-01-01T00:00:00.000Z'), actor: 'tx', action: 'tx.rollback' });
          await tx.slcChains.activate(other.id);
          await tx.settings.bumpConfigVersion();
          expect((await tx.slcChains.getActive(cid)).id).toBe(other.id);
          throw failure;
        }),
      ).rejects.toBe(failure);
      expect(await store.principals.findByName('tx-rollback')).toBeUndefined();
      expect(await store.dacl.list('/tx.asmx')).toEqual([]);
      expect((await store.audit.list({ limit: 5 })).some((e) => e.action === 'tx.rollback')).toBe(false);
      expect((await store.slcChains.getActive(cid)).id).toBe(activeBefore);

      // A constraint error inside a transaction rolls back everything before it too.
      const version = await store.settings.configVersion();
      await expectRmsError(
        store.transaction(async (tx) => {
          await tx.settings.bumpConfigVersion();
          await tx.principals.createUser({ id: newId(), name: 'tx-dup', email: null, passwordHash: null, createdAt: new Date() });
          await tx.principals.createUser({ id: newId(), name: 'TX-DUP', email: null, passwordHash: null, createdAt: new Date() });
        }),
        'AlreadyExists',
      );
      expect(await store.principals.findByName('tx-dup')).toBeUndefined();
      expect(await store.settings.configVersion()).toBe(version);

      // A failed nested transaction rolls back to its savepoint; the outer one still commits.
      await store.transaction(async (tx) => {
        await tx.settings.set('tx-outer', true);
        await expect(
          tx.transaction(async (inner) => {
            await inner.settings.set('tx-inner', true);
            throw failure;
          }),
        ).rejects.toBe(failure);
        // Idempotent inserts use savepoints, so a duplicate does not poison the transaction.
        const g = await tx.principals.createGroup({ id: newId(), name: 'tx-nested', createdAt: new Date() });
        const u = await tx.principals.createUser({ id: newId(), name: 'tx-nested-u', email: null, passwordHash: null, createdAt: new Date() });
        await tx.principals.addMember(g.id, u.id);
        await tx.principals.addMember(g.id, u.id);
      });
      expect(await store.settings.get('tx-outer')).toBe(true);
      expect(await store.settings.get('tx-inner')).toBeUndefined();
      expect(await store.principals.membersOf((await store.principals.getByName('tx-nested')).id)).toHaveLength(1);

      await store.transaction(async (tx) => {
        await expectRmsError(tx.close(), 'InvalidOperation');
        await expectRmsError(tx.migrate(), 'InvalidOperation');
      });
    });

    test('templates: insert, list by status, find by name in any case, archive once', async () => {
      const cid = await provisioned();
      const base = { clusterId: cid, description: 'd', xml: '<XrML/>', hash: 'h', createdAt: at('2024-05-06T07:08:09.010Z') };
      await store.templates.insert({ ...base, id: '{00000000-0000-4000-8000-00000000000a}', name: 'Confidential', status: 'published' });
      await store.templates.insert({ ...base, id: '{00000000-0000-4000-8000-00000000000b}', name: 'Internal', status: 'published' });
      await expectRmsError(store.templates.insert({ ...base, id: '{00000000-0000-4000-8000-00000000000c}', name: 'CONFIDENTIAL', status: 'published' }), 'AlreadyExists');
      expect((await store.templates.findByName(cid, 'confidential'))?.id).toBe('{00000000-0000-4000-8000-00000000000a}');
      await store.templates.archive(cid, '{00000000-0000-4000-8000-00000000000b}', at('2024-06-01T00:00:00.000Z'));
      await expectRmsError(store.templates.archive(cid, '{00000000-0000-4000-8000-00000000000b}', new Date()), 'NotFound');
      expect((await store.templates.list(cid, 'published')).map((t) => t.name)).toEqual(['Confidential']);
      const archived = await store.templates.find(cid, '{00000000-0000-4000-8000-00000000000b}');
      expect(archived).toMatchObject({ status: 'archived', archivedAt: at('2024-06-01T00:00:00.000Z'), createdAt: base.createdAt });
      expect(await store.templates.list(cid)).toHaveLength(2);
    });

    test('principals: find a user by e-mail in any case; an address two users share finds nobody', async () => {
      await store.principals.createUser({ id: newId(), name: 'mail-a', email: 'Shared.Mail@Example.test', passwordHash: null, createdAt: new Date() });
      expect((await store.principals.findUserByEmail('shared.mail@example.TEST'))?.name).toBe('mail-a');
      await store.principals.createUser({ id: newId(), name: 'mail-b', email: 'shared.mail@example.test', passwordHash: null, createdAt: new Date() });
      expect(await store.principals.findUserByEmail('shared.mail@example.test')).toBeUndefined();
      await store.principals.createGroup({ id: newId(), name: 'mail-group', email: 'group.mail@example.test', createdAt: new Date() });
      expect(await store.principals.findUserByEmail('group.mail@example.test')).toBeUndefined();
    });

    test('directory links: one principal per directory entry, found by external id, removed with the principal', async () => {
      const id = newId();
      await store.principals.createUser({ id, name: 'dir-user@example.test', email: 'dir-user@example.test', passwordHash: null, createdAt: new Date() });
      const link = { principalId: id, source: 'ldap', externalId: 'a1b2c3d4-0000-4000-8000-000000000001', dn: 'uid=dir-user,ou=people,dc=example,dc=test', linkedAt: at('2024-05-06T07:08:09.010Z') };
      await store.directoryLinks.insert(link);
      expect(await store.directoryLinks.findByExternalId('ldap', link.externalId)).toEqual(link);
      expect(await store.directoryLinks.findByExternalId('ad', link.externalId)).toBeUndefined();
      expect(await store.directoryLinks.ofPrincipal(id)).toEqual(link);
      // The same entry cannot be linked twice, nor one principal to two entries.
      const other = newId();
      await store.principals.createGroup({ id: other, name: 'dir-group', createdAt: new Date() });
      await expectRmsError(store.directoryLinks.insert({ ...link, principalId: other }), 'AlreadyExists');
      await expectRmsError(store.directoryLinks.insert({ ...link, externalId: 'another' }), 'AlreadyExists');
      await store.directoryLinks.insert({ ...link, principalId: other, externalId: 'group-1', dn: null });
      expect((await store.directoryLinks.findManyByExternalId('ldap', ['group-1', link.externalId, 'missing'])).map((l) => l.principalId).sort()).toEqual([id, other].sort());
      await store.directoryLinks.updateDn(id, 'uid=renamed,ou=people,dc=example,dc=test');
      expect((await store.directoryLinks.ofPrincipal(id))?.dn).toBe('uid=renamed,ou=people,dc=example,dc=test');
      expect(await store.principals.remove(id)).toBe(true);
      expect(await store.directoryLinks.ofPrincipal(id)).toBeUndefined();
    });
  });
}
