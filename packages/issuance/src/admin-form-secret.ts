import { createPublicKey, randomBytes } from 'node:crypto';
import { type Clock, RmsError, systemClock } from '@openrms/domain';
import { type ClusterKey, seal } from '@openrms/keys';
import type { Store } from '@openrms/store';
import { withProvisionedStore } from './principal-admin';
import { SETTINGS } from './settings';

const SECRET_BYTES = 32;

interface StoredAdminFormSecret {
  /** 32 random bytes sealed to the cluster public key (purpose 'admin-form-secret'), base64. */
  sealed: string;
  createdAt: string;
}

/** The opened secret and the stored blob it came from (a refresh skips the RSA work when unchanged). */
export interface AdminFormSecret {
  sealed: string;
  secret: Buffer;
}

function sealNew(clusterPublicKeyPem: string, now: Date): StoredAdminFormSecret {
  const secret = randomBytes(SECRET_BYTES);
  try {
    return { sealed: seal(createPublicKey(clusterPublicKeyPem), secret, 'admin-form-secret').toString('base64'), createdAt: now.toISOString() };
  } finally {
    secret.fill(0);
  }
}

/**
 * The cluster's admin form secret, created on first use when the database has none (a cluster
 * provisioned before it existed, or the first member to start). Creation is insert-if-absent, so
 * members starting together agree on one secret: each reads back whichever insert won.
 */
export async function loadAdminFormSecret(store: Store, key: ClusterKey, previous?: AdminFormSecret, clock: Clock = systemClock): Promise<AdminFormSecret> {
  let stored = (await store.settings.get(SETTINGS.adminFormSecret)) as Partial<StoredAdminFormSecret> | undefined;
  if (stored === undefined) {
    const pem = key.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    await store.settings.setIfAbsent(SETTINGS.adminFormSecret, sealNew(pem, clock.now()));
    stored = (await store.settings.get(SETTINGS.adminFormSecret)) as Partial<StoredAdminFormSecret> | undefined;
  }
  if (typeof stored?.sealed !== 'string') throw new RmsError('UnspecifiedError', `setting ${SETTINGS.adminFormSecret} is not a sealed secret`);
  if (previous && previous.sealed === stored.sealed) return previous;
  const secret = key.unsealSecret(Buffer.from(stored.sealed, 'base64'), 'admin-form-secret');
  if (secret.length !== SECRET_BYTES) throw new RmsError('UnspecifiedError', `setting ${SETTINGS.adminFormSecret} holds a secret of the wrong size`);
  return { sealed: stored.sealed, secret };
}

/**
 * Replaces the admin form secret: every open admin form (and flash notice) of every member becomes
 * invalid once the members have re-read it (within their refresh interval), and administrators
 * reload their pages. For a suspected leak of the secret or of the database.
 */
export async function rotateAdminFormSecretIn(store: Store, actor: string, clock: Clock = systemClock): Promise<{ createdAt: string }> {
  const cluster = await store.clusters.get();
  const keyRow = await store.keys.getActive(cluster.id, 'cluster');
  const next = sealNew(keyRow.publicKeyPem, clock.now());
  return store.transaction(async (tx) => {
    const before = (await tx.settings.get(SETTINGS.adminFormSecret)) as Partial<StoredAdminFormSecret> | undefined;
    await tx.settings.set(SETTINGS.adminFormSecret, next);
    await tx.settings.bumpConfigVersion();
    // The audit names when the secrets were made, never the secrets (sealed or not).
    await tx.audit.append({ at: clock.now(), actor, action: 'admin.form-secret.rotate', target: cluster.id, before: before?.createdAt ? { createdAt: before.createdAt } : null, after: { createdAt: next.createdAt } });
    return { createdAt: next.createdAt };
  });
}

/** `rmsctl admin rotate-form-secret`. */
export async function rotateAdminFormSecret(databaseUrl: string, actor = 'rmsctl', clock: Clock = systemClock): Promise<{ createdAt: string }> {
  return withProvisionedStore(databaseUrl, (store) => rotateAdminFormSecretIn(store, actor, clock));
}
