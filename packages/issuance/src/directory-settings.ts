import { createPublicKey } from 'node:crypto';
import { type Clock, type LdapAttributeMap, type LdapDirectoryConfig, RmsError, systemClock } from '@openrms/domain';
import { type ClusterKey, seal } from '@openrms/keys';
import type { Store } from '@openrms/store';
import { withProvisionedStore } from './principal-admin';

/** Settings keys of the directory connection (one per cluster: every member reads the same). */
export const DIRECTORY_SETTINGS = {
  /** StoredDirectorySettings: the LDAP connection, the bind password sealed to the cluster key. */
  connection: 'directory.connection',
  /** A counter: members drop every cached directory answer when it changes (`rmsctl directory flush`). */
  generation: 'directory.generation',
} as const;

/** How long directory answers are trusted, unless the administrator says otherwise. */
export const DEFAULT_DIRECTORY_CACHE_TTL_SECONDS = 300;
const MAX_CACHE_TTL_SECONDS = 3600;

export interface DirectorySettingsInput {
  kind: 'ad' | 'ldap';
  url: string;
  bindDn: string;
  bindPassword: string;
  baseDn: string;
  startTls?: boolean;
  caPem?: string;
  realm?: string;
  attributes?: Partial<LdapAttributeMap>;
  timeoutMs?: number;
  cacheTtlSeconds?: number;
  /** A directory group (name or e-mail) whose members are members of the built-in RMS Service Group. */
  serviceGroup?: string;
  /** A directory group whose members are members of the built-in RMS Administrators. */
  adminGroup?: string;
}

/** What is stored: everything but the password, which only holders of the cluster key can open. */
interface StoredDirectorySettings extends Omit<DirectorySettingsInput, 'bindPassword'> {
  sealedBindPassword: string;
  updatedAt: string;
}

/** What members use: the connection with its password, and the rules on top of it. */
export interface DirectorySettings {
  connection: LdapDirectoryConfig;
  cacheTtlMs: number;
  serviceGroup: string | null;
  adminGroup: string | null;
  /** Changes whenever the stored settings change, so members rebuild their connection. */
  fingerprint: string;
}

/** What `rmsctl directory show` and the admin pages print: never the password. */
export interface DirectorySettingsView extends Omit<StoredDirectorySettings, 'sealedBindPassword'> {
  bindPassword: 'stored (sealed to the cluster key)';
  cacheTtlSeconds: number;
  generation: number;
}

const DN_MAX = 1024;

function checkInput(i: DirectorySettingsInput): void {
  const bad = (m: string): never => {
    throw new RmsError('InvalidInput', m);
  };
  if (i.kind !== 'ad' && i.kind !== 'ldap') bad(`--kind must be ad or ldap, not "${String(i.kind)}"`);
  let url: URL;
  try {
    url = new URL(i.url);
  } catch {
    return bad(`--url "${i.url}" is not a URL (ldap://host[:port] or ldaps://host[:port])`);
  }
  if (url.protocol !== 'ldap:' && url.protocol !== 'ldaps:') bad(`--url must start with ldap:// or ldaps://, not ${url.protocol}//`);
  if (url.pathname && url.pathname !== '/') bad('--url must not have a path; give the base DN with --base-dn');
  if (i.startTls && url.protocol === 'ldaps:') bad('--start-tls applies to ldap:// URLs; ldaps:// is TLS already');
  if (!i.bindDn.trim() || i.bindDn.length > DN_MAX) bad('--bind-dn is required (a DN, at most 1024 characters)');
  if (!i.baseDn.trim() || i.baseDn.length > DN_MAX) bad('--base-dn is required (a DN, at most 1024 characters)');
  if (!i.bindPassword) bad('the bind password is empty (an empty password is an anonymous bind); set it in the variable named by --bind-password-env');
  if (i.caPem !== undefined && !/-----BEGIN CERTIFICATE-----/.test(i.caPem)) bad('--ca-file must hold PEM certificates');
  if (i.realm !== undefined && !/^[A-Za-z0-9.-]{1,255}$/.test(i.realm)) bad(`--realm "${i.realm}" is not a Kerberos realm name`);
  if (i.timeoutMs !== undefined && (!Number.isInteger(i.timeoutMs) || i.timeoutMs < 100 || i.timeoutMs > 60_000)) bad('--timeout-ms must be 100–60000');
  const ttl = i.cacheTtlSeconds;
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 0 || ttl > MAX_CACHE_TTL_SECONDS)) bad(`--cache-ttl must be 0–${MAX_CACHE_TTL_SECONDS} seconds`);
  for (const [flag, v] of [['--service-group', i.serviceGroup], ['--admin-group', i.adminGroup]] as const) {
    if (v !== undefined && (!v.trim() || v.length > 255)) bad(`${flag} must name a directory group (1–255 characters)`);
  }
}

/** Seals the bind password to the cluster public key; the stored form never holds it in clear. */
export function sealDirectorySettings(clusterPublicKeyPem: string, input: DirectorySettingsInput, now: Date): StoredDirectorySettings {
  checkInput(input);
  const { bindPassword, ...rest } = input;
  const plain = Buffer.from(bindPassword, 'utf8');
  try {
    return {
      ...rest,
      startTls: input.startTls ?? false,
      sealedBindPassword: seal(createPublicKey(clusterPublicKeyPem), plain, 'directory-credentials').toString('base64'),
      updatedAt: now.toISOString(),
    };
  } finally {
    plain.fill(0);
  }
}

function view(s: StoredDirectorySettings, generation: number): DirectorySettingsView {
  const { sealedBindPassword: _sealed, ...rest } = s;
  return { ...rest, bindPassword: 'stored (sealed to the cluster key)', cacheTtlSeconds: s.cacheTtlSeconds ?? DEFAULT_DIRECTORY_CACHE_TTL_SECONDS, generation };
}

/** Stores (or replaces) the cluster's directory connection; audited without the password. */
export async function setDirectoryIn(store: Store, actor: string, input: DirectorySettingsInput, clock: Clock = systemClock): Promise<DirectorySettingsView> {
  const cluster = await store.clusters.get();
  const keyRow = await store.keys.getActive(cluster.id, 'cluster');
  const stored = sealDirectorySettings(keyRow.publicKeyPem, input, clock.now());
  return store.transaction(async (tx) => {
    const before = (await tx.settings.get(DIRECTORY_SETTINGS.connection)) as StoredDirectorySettings | undefined;
    await tx.settings.set(DIRECTORY_SETTINGS.connection, stored);
    const generation = await bumpGeneration(tx);
    await tx.settings.bumpConfigVersion();
    await tx.audit.append({
      at: clock.now(),
      actor,
      action: 'directory.set',
      target: cluster.id,
      before: before ? view(before, generation - 1) : null,
      after: view(stored, generation),
    });
    return view(stored, generation);
  });
}

/** Back to the cluster's own tables only. */
export async function unsetDirectoryIn(store: Store, actor: string, clock: Clock = systemClock): Promise<boolean> {
  return store.transaction(async (tx) => {
    const before = (await tx.settings.get(DIRECTORY_SETTINGS.connection)) as StoredDirectorySettings | undefined;
    if (!before) return false;
    await tx.settings.delete(DIRECTORY_SETTINGS.connection);
    const generation = await bumpGeneration(tx);
    await tx.settings.bumpConfigVersion();
    await tx.audit.append({ at: clock.now(), actor, action: 'directory.unset', target: DIRECTORY_SETTINGS.connection, before: view(before, generation - 1), after: null });
    return true;
  });
}

export async function showDirectoryIn(store: Store): Promise<DirectorySettingsView | undefined> {
  const stored = (await store.settings.get(DIRECTORY_SETTINGS.connection)) as StoredDirectorySettings | undefined;
  return stored ? view(stored, await readGeneration(store)) : undefined;
}

/** Every member drops its cached directory answers within one refresh interval. */
export async function flushDirectoryIn(store: Store, actor: string, clock: Clock = systemClock): Promise<{ generation: number }> {
  return store.transaction(async (tx) => {
    const generation = await bumpGeneration(tx);
    await tx.audit.append({ at: clock.now(), actor, action: 'directory.flush', target: DIRECTORY_SETTINGS.generation, after: { generation } });
    return { generation };
  });
}

export async function readGeneration(store: Store): Promise<number> {
  const v = await store.settings.get(DIRECTORY_SETTINGS.generation);
  return typeof v === 'number' ? v : 0;
}

async function bumpGeneration(tx: Store): Promise<number> {
  const next = (await readGeneration(tx)) + 1;
  await tx.settings.set(DIRECTORY_SETTINGS.generation, next);
  return next;
}

/** The connection a member uses, its password opened with the cluster key; undefined = local tables only. */
export async function readDirectorySettings(store: Store, key: ClusterKey): Promise<DirectorySettings | undefined> {
  const stored = (await store.settings.get(DIRECTORY_SETTINGS.connection)) as StoredDirectorySettings | undefined;
  if (!stored) return undefined;
  return openDirectorySettings(stored, (blob) => key.unsealSecret(blob, 'directory-credentials'));
}

export function openDirectorySettings(stored: StoredDirectorySettings, unseal: (blob: Buffer) => Buffer): DirectorySettings {
  let bytes: Buffer;
  try {
    bytes = unseal(Buffer.from(stored.sealedBindPassword, 'base64'));
  } catch {
    throw new RmsError('NotProvisioned', 'the stored directory bind password cannot be opened with this cluster key; set the directory again');
  }
  const bindPassword = bytes.toString('utf8');
  bytes.fill(0);
  const connection: LdapDirectoryConfig = {
    kind: stored.kind,
    url: stored.url,
    bindDn: stored.bindDn,
    bindPassword,
    baseDn: stored.baseDn,
    startTls: stored.startTls ?? false,
    ...(stored.caPem ? { caPem: stored.caPem } : {}),
    ...(stored.realm ? { realm: stored.realm } : {}),
    ...(stored.attributes ? { attributes: stored.attributes } : {}),
    ...(stored.timeoutMs ? { timeoutMs: stored.timeoutMs } : {}),
  };
  return {
    connection,
    cacheTtlMs: (stored.cacheTtlSeconds ?? DEFAULT_DIRECTORY_CACHE_TTL_SECONDS) * 1000,
    serviceGroup: stored.serviceGroup ?? null,
    adminGroup: stored.adminGroup ?? null,
    fingerprint: `${stored.updatedAt}:${stored.sealedBindPassword.slice(0, 32)}`,
  };
}

/** `rmsctl directory set|unset|show|flush` on a database URL. */
export const directoryAdmin = {
  set: (databaseUrl: string, input: DirectorySettingsInput, actor = 'rmsctl', clock: Clock = systemClock) =>
    withProvisionedStore(databaseUrl, (store) => setDirectoryIn(store, actor, input, clock)),
  unset: (databaseUrl: string, actor = 'rmsctl', clock: Clock = systemClock) => withProvisionedStore(databaseUrl, (store) => unsetDirectoryIn(store, actor, clock)),
  show: (databaseUrl: string) => withProvisionedStore(databaseUrl, (store) => showDirectoryIn(store)),
  flush: (databaseUrl: string, actor = 'rmsctl', clock: Clock = systemClock) => withProvisionedStore(databaseUrl, (store) => flushDirectoryIn(store, actor, clock)),
};
