import { createPublicKey, type KeyObject } from 'node:crypto';
import { type Clock, RmsError, systemClock } from '@openrms/domain';
import { type ClusterKey, seal } from '@openrms/keys';
import type { Store } from '@openrms/store';
import { checkPrincipalName, withProvisionedStore } from './principal-admin';
import { SETTINGS } from './settings';

/** The account a licensing-only cluster authenticates with at its root (SubEnroll). */
export interface RootCredentials {
  name: string;
  password: string;
}

interface StoredRootCredentials {
  /** Sealed to the cluster public key with purpose 'root-credentials', base64. */
  sealed: string;
  /** The account name, readable without the key, for status output and audit. */
  name: string;
}

/** The settings value: sealed so that only holders of the cluster key (its members) can open it. */
export function sealRootCredentials(clusterPublicKey: KeyObject, c: RootCredentials): StoredRootCredentials {
  checkPrincipalName(c.name, 'root account');
  if (!c.password) throw new RmsError('InvalidInput', 'the root account password is empty');
  const plain = Buffer.from(JSON.stringify({ name: c.name, password: c.password }), 'utf8');
  try {
    return { sealed: seal(clusterPublicKey, plain, 'root-credentials').toString('base64'), name: c.name };
  } finally {
    plain.fill(0);
  }
}

/** NotProvisioned when none are stored: renewal cannot succeed until an operator stores them. */
export async function readRootCredentials(store: Store, key: ClusterKey): Promise<RootCredentials> {
  const v = (await store.settings.get(SETTINGS.rootCredentials)) as Partial<StoredRootCredentials> | undefined;
  if (!v || typeof v.sealed !== 'string') {
    throw new RmsError('NotProvisioned', 'no root account is stored for SLC renewal; store one with updateRootCredentials (rmsctl) and retry');
  }
  const bytes = key.unsealSecret(Buffer.from(v.sealed, 'base64'), 'root-credentials');
  try {
    const c = JSON.parse(bytes.toString('utf8')) as RootCredentials;
    if (typeof c.name !== 'string' || typeof c.password !== 'string') throw new Error('shape');
    return c;
  } catch {
    throw new RmsError('NotProvisioned', 'the stored root account cannot be read; store it again');
  } finally {
    bytes.fill(0);
  }
}

/**
 * Replaces the root account a licensing-only cluster renews its SLC with (after a password
 * change at the root, say). Needs no key password: sealing uses the public key. Audited, without
 * the password.
 */
export async function updateRootCredentials(databaseUrl: string, c: RootCredentials, actor = 'cli', clock: Clock = systemClock): Promise<{ name: string }> {
  return withProvisionedStore(databaseUrl, async (store) => {
    const cluster = await store.clusters.get();
    if (cluster.kind !== 'licensing') throw new RmsError('InvalidOperation', 'only a licensing-only cluster keeps root credentials');
    const keyRow = await store.keys.getActive(cluster.id, 'cluster');
    const sealed = sealRootCredentials(createPublicKey(keyRow.publicKeyPem), c);
    await store.transaction(async (tx) => {
      const before = (await tx.settings.get(SETTINGS.rootCredentials)) as Partial<StoredRootCredentials> | undefined;
      await tx.settings.set(SETTINGS.rootCredentials, sealed);
      await tx.audit.append({ at: clock.now(), actor, action: 'root.credentials.update', target: cluster.id, before: before?.name ? { name: before.name } : null, after: { name: c.name } });
    });
    return { name: c.name };
  });
}
