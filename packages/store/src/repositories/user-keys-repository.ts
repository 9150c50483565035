import type { Knex } from 'knex';
import { fromIso, toIso } from '../column-values';
import { guarded } from '../translate-db-error';

/** A user's key pair (for RACs); the private half is wrapped by @openrms/keys and opaque here. */
export interface UserKeyRow {
  principalId: string;
  publicKeyPem: string;
  wrappedPrivateKey: string;
  createdAt: Date;
}

export function userKeyFromRow(r: Record<string, unknown>): UserKeyRow {
  return {
    principalId: String(r.principal_id),
    publicKeyPem: String(r.public_key_pem),
    wrappedPrivateKey: String(r.wrapped_private_key),
    createdAt: fromIso(r.created_at),
  };
}

export class UserKeysRepository {
  constructor(private readonly db: Knex) {}

  /** A principal has at most one key pair; a second insert fails with AlreadyExists. */
  async insert(k: UserKeyRow): Promise<void> {
    await guarded(
      { exists: `principal ${k.principalId} already has a key pair`, reference: `principal ${k.principalId} not found` },
      () =>
        this.db('user_keys').insert({
          principal_id: k.principalId,
          public_key_pem: k.publicKeyPem,
          wrapped_private_key: k.wrappedPrivateKey,
          created_at: toIso(k.createdAt, 'createdAt'),
        }),
    );
  }

  async find(principalId: string): Promise<UserKeyRow | undefined> {
    const row = await this.db('user_keys').where({ principal_id: principalId }).first();
    return row ? userKeyFromRow(row) : undefined;
  }
}
