import { createPublicKey } from 'node:crypto';
import { type Clock, clusterBaseUrl, RmsError, systemClock } from '@openrms/domain';
import { type ClusterKey, seal } from '@openrms/keys';
import type { Store } from '@openrms/store';
import { type Caller, fail, type GroupExpansionPeer, type IssuingContext } from './issuing-context';
import { withProvisionedStore } from './principal-admin';
import { checkPrincipalName, isValidEmail } from './principal-rules';

/*
 * Group expansion across organisations ([MS-RMPRS] IsPrincipalMemberOf, PROTOCOL.md §5.10): a
 * grant may name a group that another cluster's directory holds. For each such mail domain an
 * administrator names a trusted peer cluster and the account this cluster signs on there with.
 */

export const GROUP_EXPANSION_PEERS_KEY = 'groupExpansion.peers';
/** Windows stops forwarding after ten servers (MS-RMPRS 3.5.4.1). */
export const MAX_CROSS_FOREST_CALLS = 10;
/** At most this many peer questions for one licence: each is a network round trip. */
const MAX_PEER_QUESTIONS_PER_LICENSE = 10;

interface StoredPeer {
  /** Mail domain of the groups the peer answers for, lower-cased. */
  domain: string;
  /** The peer's _wmcs base URL. */
  url: string;
  account: string;
  /** `{name, password}` sealed to the cluster key (purpose peer-credentials). */
  sealed: string;
  addedAt: string;
}

export interface PeerView {
  domain: string;
  url: string;
  account: string;
  addedAt: string;
}

export type { GroupExpansionPeer, PeerMembershipQuery } from './issuing-context';

const DOMAIN_RE = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;

const domainOf = (email: string) => email.slice(email.lastIndexOf('@') + 1).trim().toLowerCase();

async function readPeers(store: Store): Promise<StoredPeer[]> {
  const v = await store.settings.get(GROUP_EXPANSION_PEERS_KEY);
  return Array.isArray(v) ? (v as StoredPeer[]) : [];
}

const view = (p: StoredPeer): PeerView => ({ domain: p.domain, url: p.url, account: p.account, addedAt: p.addedAt });

export async function addPeerIn(store: Store, actor: string, input: { domain: string; url: string; name: string; password: string }, clock: Clock = systemClock): Promise<PeerView> {
  const domain = input.domain.trim().toLowerCase();
  if (!DOMAIN_RE.test(domain)) throw new RmsError('InvalidInput', `--domain "${input.domain}" is not a mail domain`);
  let url: string;
  try {
    url = clusterBaseUrl(input.url);
  } catch {
    throw new RmsError('InvalidInput', `--url "${input.url}" is not an http(s) URL`);
  }
  checkPrincipalName(input.name, 'peer account');
  if (!input.password) throw new RmsError('InvalidInput', 'the peer account password is empty');
  const cluster = await store.clusters.get();
  const keyRow = await store.keys.getActive(cluster.id, 'cluster');
  const plain = Buffer.from(JSON.stringify({ name: input.name, password: input.password }), 'utf8');
  const sealed = seal(createPublicKey(keyRow.publicKeyPem), plain, 'peer-credentials').toString('base64');
  plain.fill(0);
  const peer: StoredPeer = { domain, url, account: input.name, sealed, addedAt: clock.now().toISOString() };
  return store.transaction(async (tx) => {
    const peers = await readPeers(tx);
    const before = peers.find((p) => p.domain === domain);
    await tx.settings.set(GROUP_EXPANSION_PEERS_KEY, [...peers.filter((p) => p.domain !== domain), peer]);
    await tx.settings.bumpConfigVersion();
    await tx.audit.append({ at: clock.now(), actor, action: 'groupexpansion.peer.set', target: domain, before: before ? view(before) : null, after: view(peer) });
    return view(peer);
  });
}

export async function removePeerIn(store: Store, actor: string, domain: string, clock: Clock = systemClock): Promise<boolean> {
  const d = domain.trim().toLowerCase();
  return store.transaction(async (tx) => {
    const peers = await readPeers(tx);
    const before = peers.find((p) => p.domain === d);
    if (!before) return false;
    await tx.settings.set(GROUP_EXPANSION_PEERS_KEY, peers.filter((p) => p.domain !== d));
    await tx.settings.bumpConfigVersion();
    await tx.audit.append({ at: clock.now(), actor, action: 'groupexpansion.peer.remove', target: d, before: view(before), after: null });
    return true;
  });
}

export async function listPeersIn(store: Store): Promise<PeerView[]> {
  return (await readPeers(store)).map(view).sort((a, b) => a.domain.localeCompare(b.domain));
}

export const peerAdmin = {
  add: (databaseUrl: string, input: { domain: string; url: string; name: string; password: string }, actor = 'rmsctl') =>
    withProvisionedStore(databaseUrl, (s) => addPeerIn(s, actor, input)),
  remove: (databaseUrl: string, domain: string, actor = 'rmsctl') => withProvisionedStore(databaseUrl, (s) => removePeerIn(s, actor, domain)),
  list: (databaseUrl: string) => withProvisionedStore(databaseUrl, (s) => listPeersIn(s)),
};

/** The peers a member uses, their credentials opened with the cluster key. */
export async function openPeers(store: Store, key: ClusterKey): Promise<GroupExpansionPeer[]> {
  const out: GroupExpansionPeer[] = [];
  for (const p of await readPeers(store)) {
    try {
      const bytes = key.unsealSecret(Buffer.from(p.sealed, 'base64'), 'peer-credentials');
      const c = JSON.parse(bytes.toString('utf8')) as { name: string; password: string };
      bytes.fill(0);
      out.push({ domain: p.domain, url: p.url, credentials: c });
    } catch {
      // A peer whose credentials this key cannot open is skipped; `directory peer list` still shows it.
    }
  }
  return out;
}

export interface IsPrincipalMemberOfInput {
  principalName: string | null;
  principalCrossForest: string | null;
  targetGroups: string[];
  crossForestCallsSoFar: number;
}

/**
 * IsPrincipalMemberOf: true when the person is in at least one of the groups, by this cluster's
 * directory, or (for groups of a peer's domain that the directory does not hold) by the peer,
 * asked with the counter one higher. False when the person or all the groups are unknown.
 */
export async function isPrincipalMemberOf(ctx: IssuingContext, _caller: Caller, req: IsPrincipalMemberOfInput): Promise<boolean> {
  const principal = req.principalName?.trim();
  if (!principal) fail('ArgumentNull', 'principalName is null');
  if (!isValidEmail(principal)) fail('Argument', 'principalName must be an e-mail address');
  if (req.crossForestCallsSoFar >= MAX_CROSS_FOREST_CALLS) fail('Argument', `crossForestCallsSoFar reached the limit of ${MAX_CROSS_FOREST_CALLS}`);
  const groups = req.targetGroups.map((g) => g.trim()).filter(Boolean);
  if (groups.length === 0) return false;
  const identities = ctx.identities();
  if (await identities.isMemberOfAny(principal, groups)) return true;
  const ask = ctx.peerMembership;
  if (!ask) return false;
  const peers = ctx.peers?.() ?? [];
  for (const peer of peers) {
    const theirs = groups.filter((g) => domainOf(g) === peer.domain);
    if (theirs.length === 0) continue;
    if (req.crossForestCallsSoFar + 1 >= MAX_CROSS_FOREST_CALLS) fail('Argument', `forwarding would exceed ${MAX_CROSS_FOREST_CALLS} cross-forest calls`);
    if (await ask(peer, { principalName: principal, targetGroups: theirs, crossForestCallsSoFar: req.crossForestCallsSoFar + 1 })) return true;
  }
  return false;
}

/**
 * The licensing path's use of group expansion: of the grant addresses of a peer's domain that this
 * cluster's directory does not hold as groups, those the peer says the person belongs to. A peer
 * that cannot answer counts as "not a member" (no rights are granted on a guess) and is reported.
 */
export async function peerGroupsOf(ctx: IssuingContext, email: string, grantEmails: readonly string[]): Promise<string[]> {
  const ask = ctx.peerMembership;
  const peers = ctx.peers?.() ?? [];
  if (!ask || peers.length === 0) return [];
  const identities = ctx.identities();
  const out: string[] = [];
  let questions = 0;
  for (const g of new Set(grantEmails.map((e) => e.trim().toLowerCase()))) {
    const peer = peers.find((p) => p.domain === domainOf(g));
    if (!peer || g === email.toLowerCase()) continue;
    if (await identities.findGroup(g)) continue;
    if (++questions > MAX_PEER_QUESTIONS_PER_LICENSE) break;
    try {
      if (await ask(peer, { principalName: email, targetGroups: [g], crossForestCallsSoFar: 0 })) out.push(g);
    } catch (e) {
      ctx.onPeerError?.(peer.domain, e instanceof Error ? e.message : String(e));
    }
  }
  return out;
}
