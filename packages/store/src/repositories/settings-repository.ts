import type { Knex } from 'knex';
import { RmsError } from '@openrms/domain';
import { fromJson, toJson, toNumber } from '../column-values';
import { insertIfAbsent, upsertRow } from '../upsert-row';

export const CONFIG_VERSION_KEY = 'config_version';

export const settingsQueries = {
  get: (db: Knex, key: string) => db('settings').select('value').where({ key }).first(),
  /**
   * Increments in one UPDATE so concurrent bumps from several servers never lose a count: the
   * row lock serialises them. The value is JSON text, and a JSON integer is just its digits.
   */
  bump: (db: Knex) =>
    db('settings')
      .where({ key: CONFIG_VERSION_KEY })
      .update({ value: db.raw('cast(cast(?? as integer) + 1 as varchar(20))', ['value']) }),
};

export class SettingsRepository {
  constructor(private readonly db: Knex) {}

  /** The stored JSON value, or undefined when the key was never set. */
  async get(key: string): Promise<unknown> {
    const row = await settingsQueries.get(this.db, key);
    return row ? fromJson(row.value) : undefined;
  }

  async set(key: string, value: unknown): Promise<void> {
    if (key === '' || key.length > 128) throw new RmsError('InvalidInput', 'setting keys are 1 to 128 characters');
    if (key === CONFIG_VERSION_KEY && !(Number.isSafeInteger(value) && (value as number) >= 0)) {
      // bumpConfigVersion does integer arithmetic on it in SQL.
      throw new RmsError('InvalidInput', `${CONFIG_VERSION_KEY} must be a non-negative integer`);
    }
    const json = toJson(value, `setting ${key}`);
    await upsertRow(this.db, 'settings', { key }, { key, value: json }, { value: json });
  }

  /**
   * Sets the key only if it has no value yet; true when this call stored it. Members racing to
   * create the same setting all end up reading the one value that won.
   */
  async setIfAbsent(key: string, value: unknown): Promise<boolean> {
    if (key === '' || key.length > 128) throw new RmsError('InvalidInput', 'setting keys are 1 to 128 characters');
    if (key === CONFIG_VERSION_KEY) throw new RmsError('InvalidInput', `${CONFIG_VERSION_KEY} is seeded by the migration`);
    return insertIfAbsent(this.db, 'settings', { key, value: toJson(value, `setting ${key}`) });
  }

  /** False when the key was not set. */
  async delete(key: string): Promise<boolean> {
    if (key === CONFIG_VERSION_KEY) throw new RmsError('InvalidInput', `${CONFIG_VERSION_KEY} cannot be deleted`);
    return (await this.db('settings').where({ key }).del()) > 0;
  }

  /** Servers compare this number to notice that another member changed the configuration. */
  async configVersion(): Promise<number> {
    const v = await this.get(CONFIG_VERSION_KEY);
    return v === undefined ? 0 : toNumber(v);
  }

  /** Adds one to the configuration version and returns the new value. */
  async bumpConfigVersion(): Promise<number> {
    return this.db.transaction(async (t) => {
      if ((await settingsQueries.bump(t)) === 0) {
        // The migration seeds the row; recreate it should someone have deleted it by hand.
        if (await insertIfAbsent(t, 'settings', { key: CONFIG_VERSION_KEY, value: '1' })) return 1;
        await settingsQueries.bump(t);
      }
      const row = await settingsQueries.get(t, CONFIG_VERSION_KEY);
      return toNumber(fromJson(row?.value));
    });
  }
}
