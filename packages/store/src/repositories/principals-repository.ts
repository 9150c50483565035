import type { Knex } from 'knex';
import { RmsError } from '@openrms/domain';
import { fromIso, toBool, toIso } from '../column-values';
import type { Dialect } from '../parse-database-url';
import { guarded } from '../translate-db-error';
import { insertIfAbsent } from '../upsert-row';

export type PrincipalKind = 'user' | 'group';

export interface PrincipalRow {
  id: string;
  kind: PrincipalKind;
  /** As it was entered; lookups ignore case. */
  name: string;
  email: string | null;
  displayName: string | null;
  passwordHash: string | null;
  builtin: boolean;
  createdAt: Date;
  disabled: boolean;
}

export interface NewUser {
  id: string;
  name: string;
  email: string | null;
  displayName?: string | null;
  passwordHash: string | null;
  builtin?: boolean;
  createdAt: Date;
}

export interface NewGroup {
  id: string;
  name: string;
  email?: string | null;
  displayName?: string | null;
  builtin?: boolean;
  createdAt: Date;
}

/** The case-folded form stored in name_key; every name lookup goes through it. */
export function principalNameKey(name: string): string {
  return name.toLowerCase();
}

export function principalFromRow(r: Record<string, unknown>): PrincipalRow {
  const opt = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return {
    id: String(r.id),
    kind: r.kind as PrincipalKind,
    name: String(r.name),
    email: opt(r.email),
    displayName: opt(r.display_name),
    passwordHash: opt(r.password_hash),
    builtin: toBool(r.builtin),
    createdAt: fromIso(r.created_at),
    disabled: toBool(r.disabled),
  };
}

export const principalQueries = {
  byName: (db: Knex, name: string) => db('principals').where('name_key', principalNameKey(name)).first(),
  /**
   * Every group the principal belongs to, directly or through nested groups, in one recursive
   * query. postgres and SQLite stop on cycles because UNION drops rows already produced; SQL
   * Server only allows UNION ALL in a recursive CTE, so there each row carries the path walked
   * so far and a group already on the path is not entered again.
   */
  groupsOf: (db: Knex, dialect: Dialect, principalId: string) => {
    const cte =
      dialect === 'mssql'
        ? db.withRecursive('g', ['id', 'path'], (anchor) =>
            anchor
              .select('group_id', db.raw("cast(N'/' + ?? + N'/' as nvarchar(max))", ['group_id']))
              .from('memberships')
              .where('member_id', principalId)
              .unionAll((step) =>
                step
                  .select('m.group_id', db.raw("cast(?? + ?? + N'/' as nvarchar(max))", ['g.path', 'm.group_id']))
                  .from('memberships as m')
                  .join('g', 'm.member_id', 'g.id')
                  .whereRaw("charindex(N'/' + ?? + N'/', ??) = 0", ['m.group_id', 'g.path']),
              ),
          )
        : db.withRecursive('g', ['id'], (anchor) =>
            anchor
              .select('group_id')
              .from('memberships')
              .where('member_id', principalId)
              .union((step) => step.select('m.group_id').from('memberships as m').join('g', 'm.member_id', 'g.id')),
          );
    return cte
      .select('p.*')
      .from('principals as p')
      .whereIn('p.id', db.select('id').from('g'))
      .whereNot('p.id', principalId)
      .orderBy('p.name_key');
  },
  membersOf: (db: Knex, groupId: string) =>
    db('principals as p')
      .select('p.*')
      .join('memberships as m', 'm.member_id', 'p.id')
      .where('m.group_id', groupId)
      .orderBy('p.name_key'),
};

export class PrincipalsRepository {
  constructor(
    private readonly db: Knex,
    private readonly dialect: Dialect,
  ) {}

  createUser(u: NewUser): Promise<PrincipalRow> {
    return this.create('user', {
      id: u.id,
      name: u.name,
      email: u.email,
      displayName: u.displayName ?? null,
      passwordHash: u.passwordHash,
      builtin: u.builtin ?? false,
      createdAt: u.createdAt,
    });
  }

  createGroup(g: NewGroup): Promise<PrincipalRow> {
    return this.create('group', {
      id: g.id,
      name: g.name,
      email: g.email ?? null,
      displayName: g.displayName ?? null,
      passwordHash: null,
      builtin: g.builtin ?? false,
      createdAt: g.createdAt,
    });
  }

  private async create(kind: PrincipalKind, p: Omit<PrincipalRow, 'kind' | 'disabled'>): Promise<PrincipalRow> {
    if (p.name.trim() === '') throw new RmsError('InvalidInput', `a ${kind} needs a name`);
    const row = {
      id: p.id,
      kind,
      name: p.name,
      name_key: principalNameKey(p.name),
      email: p.email,
      display_name: p.displayName,
      password_hash: p.passwordHash,
      builtin: p.builtin,
      created_at: toIso(p.createdAt, 'createdAt'),
      disabled: false,
    };
    // The message cannot tell a clashing id from a clashing name portably, so it names both.
    await guarded({ exists: `a principal named '${p.name}' (or with id ${p.id}) already exists` }, () =>
      this.db('principals').insert(row),
    );
    return this.get(p.id);
  }

  async find(id: string): Promise<PrincipalRow | undefined> {
    const row = await this.db('principals').where({ id }).first();
    return row ? principalFromRow(row) : undefined;
  }

  async get(id: string): Promise<PrincipalRow> {
    const p = await this.find(id);
    if (!p) throw new RmsError('NotFound', `principal ${id} not found`);
    return p;
  }

  async findByName(name: string): Promise<PrincipalRow | undefined> {
    const row = await principalQueries.byName(this.db, name);
    return row ? principalFromRow(row) : undefined;
  }

  async getByName(name: string): Promise<PrincipalRow> {
    const p = await this.findByName(name);
    if (!p) throw new RmsError('NotFound', `no user or group named '${name}'`);
    return p;
  }

  /**
   * The user whose e-mail this is, ignoring case (the identity a RAC names). Undefined when none,
   * or when several users share the address: then the address identifies nobody.
   */
  async findUserByEmail(email: string): Promise<PrincipalRow | undefined> {
    const rows = await this.db('principals').where({ kind: 'user' }).whereRaw('lower(email) = ?', [email.trim().toLowerCase()]).limit(2);
    return rows.length === 1 ? principalFromRow(rows[0]) : undefined;
  }

  /** Ordered by name, ignoring case. */
  async list(kind?: PrincipalKind): Promise<PrincipalRow[]> {
    const q = this.db('principals').select('*').orderBy('name_key');
    if (kind !== undefined) q.where({ kind });
    return (await q).map(principalFromRow);
  }

  async setPasswordHash(id: string, passwordHash: string | null): Promise<void> {
    const n = await this.db('principals').where({ id }).update({ password_hash: passwordHash });
    if (n === 0) throw new RmsError('NotFound', `principal ${id} not found`);
  }

  async setDisabled(id: string, disabled: boolean): Promise<void> {
    const n = await this.db('principals').where({ id }).update({ disabled });
    if (n === 0) throw new RmsError('NotFound', `principal ${id} not found`);
  }

  /** Deletes a principal with its memberships, DACL entries and user keys; false when absent. */
  async remove(id: string): Promise<boolean> {
    return this.db.transaction(async (t) => {
      // memberships.member_id is NO ACTION (SQL Server's single-cascade-path rule), so clear it first.
      await t('memberships').where({ member_id: id }).del();
      return (await t('principals').where({ id }).del()) > 0;
    });
  }

  /** Adds a member (user or group) to a group; adding it again changes nothing. */
  async addMember(groupId: string, memberId: string): Promise<void> {
    if (groupId === memberId) throw new RmsError('InvalidInput', 'a group cannot be a member of itself');
    const missing = { reference: `group ${groupId} or principal ${memberId} not found` };
    await guarded(missing, () =>
      this.db.transaction(async (t) => {
        const found: { id: string; kind: string }[] = await t('principals').select('id', 'kind').whereIn('id', [groupId, memberId]);
        const group = found.find((r) => r.id === groupId);
        if (!group) throw new RmsError('NotFound', `group ${groupId} not found`);
        if (group.kind !== 'group') throw new RmsError('InvalidInput', `principal ${groupId} is a user, not a group`);
        if (!found.some((r) => r.id === memberId)) throw new RmsError('NotFound', `principal ${memberId} not found`);
        await insertIfAbsent(t, 'memberships', { group_id: groupId, member_id: memberId });
      }),
    );
  }

  /** False when the principal was not a direct member. */
  async removeMember(groupId: string, memberId: string): Promise<boolean> {
    return (await this.db('memberships').where({ group_id: groupId, member_id: memberId }).del()) > 0;
  }

  /** All groups the principal is in, through any depth of nesting; cycles are harmless. */
  async groupsOf(principalId: string): Promise<PrincipalRow[]> {
    const rows = await principalQueries.groupsOf(this.db, this.dialect, principalId);
    return rows.map(principalFromRow);
  }

  /** The groups the principal is a direct member of, by name. */
  async directGroupsOf(memberId: string): Promise<PrincipalRow[]> {
    const rows = await this.db('principals as p').select('p.*').join('memberships as m', 'm.group_id', 'p.id').where('m.member_id', memberId).orderBy('p.name_key');
    return rows.map(principalFromRow);
  }

  /** Direct members only. */
  async membersOf(groupId: string): Promise<PrincipalRow[]> {
    const rows = await principalQueries.membersOf(this.db, groupId);
    return rows.map(principalFromRow);
  }
}
