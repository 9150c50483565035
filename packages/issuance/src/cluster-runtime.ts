import { createPublicKey, type KeyObject } from 'node:crypto';
import path from 'node:path';
import {
  BUILTIN_GROUPS,
  type Clock,
  type ClusterIdentity,
  type DaclEntryRule,
  type DaclRight,
  evaluateAccess,
  type AccessDecision,
  RmsError,
  type ServerInfoAnswer,
  type ServerInfoRequest,
  type ServiceLocationAnswer,
  systemClock,
  newId,
  type DirectoryProvider,
  type LdapDirectoryConfig,
  type NegotiateAcceptor,
} from '@openrms/domain';
import { ClusterKey, type KeyStatus } from '@openrms/keys';
import type { Store } from '@openrms/store';
import { type CertificateInfo, publicKeysEqual, verifyChain } from '@openrms/xrml';
import { type AdminFormSecret, loadAdminFormSecret } from './admin-form-secret';
import { type DirectorySettings, readDirectorySettings, readGeneration } from './directory-settings';
import { Identities } from './identities';
import { type GroupExpansionPeer, openPeers, type PeerMembershipQuery } from './group-expansion';
import { type AuthScheme, Authenticator, type SignOnResult } from './authenticator';
import { LocalDirectory } from './local-directory';
import { SERVER_TO_SERVER_TYPES, isServiceType, serviceLocation } from './service-locations';
import { SETTINGS } from './settings';
import type { AuthenticatedPrincipal } from './authenticated-principal';
import { DEFAULT_VALIDITY, type IssuingState, type ValidityPolicy } from './issuing-state';
import { notDecommissioned } from './issuing-context';
import { LicensingService } from './licensing-service';
import { readPolicies, type Policies } from './policies';
import { importPublishingDomainIn, loadPublishingDomains, type PublishingDomain, type PublishingDomainSummary } from './publishing-domains';
import { RequestLogWriter, type RequestLogStats } from './request-log-writer';
import { RequestLogSpool } from './request-log-spool';
import { renewSlcIfDue, type RenewSlcOptions } from './slc-renewal';
import { readTrustedRacIssuerKeys } from './trusted-user-domains';
import { VerifiedDocuments } from './verified-documents';
import { IssuedRecorder } from './issued-records';
import { UserKeyCache } from './user-key-cache';
import { type PublishedRevocationList, publishRevocationList, type PublishRevocationListResult, readPublishedRevocationList } from './revocation-list';
import { readRevocationSet, type RevocationSet } from './revocations';

export type { AuthenticatedPrincipal } from './authenticated-principal';

/** The version GetServerInfo reports; 6.1.0.0 and above tells clients to read features rather than guess. */
export const SERVER_PRODUCT_VERSION = '6.1.0.0';

/** How long a directory failure keeps readiness at directory: degraded. */
const DIRECTORY_ERROR_WINDOW_MS = 30_000;
const DIRECTORY_PROBE_TIMEOUT_MS = 5_000;
/** A group name no directory holds: the readiness probe only needs the directory to answer. */
const DIRECTORY_PROBE_GROUP = 'openrms-readiness-probe-5f0c2a';

export interface ClusterRuntimeOptions {
  store: Store;
  keyPassword: string;
  clock?: Clock;
  serverName: string;
  /** How often DACLs and the active SLC chain are re-read from the shared database. */
  refreshMs?: number;
  hooks?: RuntimeHooks;
  /**
   * Builds the provider for the directory the cluster is configured with (packages/directory's
   * LdapDirectory); without it a configured directory cannot be used and sign-on falls back to
   * nothing but the local tables, which the runtime reports.
   */
  directoryFactory?: (config: LdapDirectoryConfig) => DirectoryProvider;
  /** The Kerberos realm of this member's service principal: `name@REALM` tickets map to local `name`. */
  kerberosRealm?: string;
  /** Sign-on schemes offered and accepted (default: basic, plus negotiate when an acceptor is given). */
  authSchemes?: AuthScheme[];
  /** Accepts Negotiate tokens with this member's service keytab. */
  negotiate?: NegotiateAcceptor;
  /** Asks a trusted peer cluster IsPrincipalMemberOf (the soap package's client). */
  peerMembership?: PeerMembershipQuery;
  /** This member's own folder: request-log rows are spooled there until they are in the database. */
  stateDir?: string;
  /** Entries of the verified-document cache (signature results by document digest); 0 turns it off. Default 10,000. */
  verifiedDocumentCacheEntries?: number;
}

/** Where the runtime reports what it cannot throw (it runs in the background). */
export interface RuntimeHooks {
  onRequestLogError?(err: unknown, stats: RequestLogStats): void;
  onRequestLogDrop?(count: number, stats: RequestLogStats): void;
  /** A directory call failed (the reason never holds a password). */
  onDirectoryError?(reason: string): void;
  /** The directory connection was (re)built or removed. */
  onDirectoryChange?(description: string): void;
  /** A group expansion peer did not answer. */
  onPeerError?(domain: string, reason: string): void;
  /** Rows a previous run of this member spooled but never wrote, now written. */
  onRequestLogRecovered?(count: number): void;
}

interface LoadedState {
  cluster: ClusterIdentity;
  chain: string[];
  leaf: CertificateInfo;
  trustedRootKeys: KeyObject[];
  racIssuerKeys: KeyObject[];
  policies: Policies;
  validity: ValidityPolicy;
  dacl: DaclEntryRule[];
  implicitGroups: { authenticated: string; everyone: string };
  builtinGroups: { administrators: string; serviceGroup: string };
  certificationBase: string;
  directory: DirectorySettings | undefined;
  directoryGeneration: number;
  peers: GroupExpansionPeer[];
  /** Trusted publishing domains, their keys opened (they only unseal content keys). */
  publishingDomains: PublishingDomain[];
  decommissioned: boolean;
  /** What is revoked, and the signed list as stored, as of configuration version revocationsVersion. */
  revocations: RevocationSet;
  revocationList: PublishedRevocationList | undefined;
  revocationsVersion: number;
}

/**
 * Everything one cluster member needs to answer requests: the unwrapped cluster key, the active SLC
 * chain, the DACLs. Built once at start-up (a wrong key password fails here, before listening) and
 * refreshed from the shared database so every member converges on changes within seconds.
 */
export class ClusterRuntime {
  readonly #key: ClusterKey;
  #state: LoadedState;
  /** Re-read with the rest of the state, so a rotation reaches every member within one refresh. */
  #adminFormSecret!: AdminFormSecret;
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;
  #identities: Identities;
  /** Which directory settings and flush generation #identities was built for. */
  #directoryKey: { fingerprint: string | null; generation: number };
  #lastDirectoryErrorAt = 0;
  readonly #local: LocalDirectory;
  readonly #opts: Pick<ClusterRuntimeOptions, 'directoryFactory' | 'kerberosRealm'>;
  /** 0 without a refresh loop: then nothing about people is cached (changes are seen at once). */
  #principalCacheTtlMs = 0;
  /** HTTP sign-on for every endpoint and admin page of this member. */
  readonly authenticator: Authenticator;
  readonly #hooks: RuntimeHooks;
  readonly serverId: string;
  /** The client-protocol use-cases, bound to this member's key and state. */
  readonly licensing: LicensingService;
  readonly requestLog: RequestLogWriter;
  /** Signature results of the certificates and licences requests carried (size and hit counts for metrics). */
  readonly verifiedDocuments: VerifiedDocuments;
  /** The `issued` records of concurrent requests, written in one transaction (group commit). */
  readonly issuedRecorder: IssuedRecorder;
  /** Users' key pairs opened recently (Certify, AcquirePreLicense). */
  readonly userKeys: UserKeyCache;

  private constructor(
    private readonly store: Store,
    key: ClusterKey,
    state: LoadedState,
    private readonly clock: Clock,
    serverId: string,
    hooks: RuntimeHooks,
    opts: Pick<ClusterRuntimeOptions, 'directoryFactory' | 'kerberosRealm' | 'authSchemes' | 'negotiate' | 'peerMembership' | 'verifiedDocumentCacheEntries'>,
    spool?: RequestLogSpool,
  ) {
    this.#key = key;
    this.#state = state;
    this.serverId = serverId;
    this.#hooks = hooks;
    this.#opts = opts;
    this.#local = new LocalDirectory(store, clock, opts.kerberosRealm ?? null);
    this.#directoryKey = { fingerprint: null, generation: state.directoryGeneration };
    this.#identities = this.#buildIdentities(state);
    this.verifiedDocuments = new VerifiedDocuments(
      opts.verifiedDocumentCacheEntries === undefined ? {} : { maxEntries: opts.verifiedDocumentCacheEntries },
    );
    this.issuedRecorder = new IssuedRecorder(store);
    this.userKeys = new UserKeyCache();
    this.licensing = new LicensingService(key, () => this.#issuingState(), store, clock, () => this.#identities, {
      verifiedDocuments: this.verifiedDocuments,
      issuedRecorder: this.issuedRecorder,
      userKeys: this.userKeys,
      ...(opts.peerMembership ? { peerMembership: opts.peerMembership } : {}),
      peers: () => this.#state.peers,
      onPeerError: (domain, reason) => hooks.onPeerError?.(domain, reason),
    });
    const schemes = opts.authSchemes ?? (opts.negotiate ? (['negotiate', 'basic'] as AuthScheme[]) : (['basic'] as AuthScheme[]));
    this.authenticator = new Authenticator(() => this.#identities, schemes, opts.negotiate);
    this.requestLog = new RequestLogWriter(store.requestLog, {
      ...(hooks.onRequestLogError ? { onFlushError: hooks.onRequestLogError } : {}),
      ...(hooks.onRequestLogDrop ? { onDrop: hooks.onRequestLogDrop } : {}),
      ...(spool ? { spool } : {}),
    });
  }

  #issuingState(): IssuingState {
    const s = this.#state;
    return { cluster: s.cluster, chain: s.chain, slc: s.leaf, racIssuerKeys: s.racIssuerKeys, policies: s.policies, validity: s.validity, publishingDomains: s.publishingDomains, decommissioned: s.decommissioned, revocations: s.revocations };
  }

  static async open(opts: ClusterRuntimeOptions): Promise<ClusterRuntime> {
    const clock = opts.clock ?? systemClock;
    const cluster = await opts.store.clusters.get();
    const keyRow = await opts.store.keys.getActive(cluster.id, 'cluster');
    const key = ClusterKey.unwrap(keyRow.wrappedPrivateKey, opts.keyPassword);
    const state = await loadState(opts.store, key, clock);
    const servers = await opts.store.servers.list(cluster.id);
    const me = servers.find((s) => s.name === opts.serverName);
    const serverId = me?.id ?? newId();
    await opts.store.servers.upsert({
      id: serverId,
      clusterId: cluster.id,
      name: opts.serverName,
      // A member that joined with its own URL keeps it; one that never joined is known by the cluster's.
      url: me?.url ?? cluster.url,
      serviceAccount: me?.serviceAccount ?? null,
      joinedAt: me?.joinedAt ?? clock.now(),
    });
    await opts.store.servers.heartbeat(serverId, clock.now());
    const spool = opts.stateDir ? new RequestLogSpool(path.join(opts.stateDir, `request-log-${cluster.id}-${serverId}.ndjson`)) : undefined;
    if (spool) {
      // What a previous run of this member recorded but never wrote (it was killed): write it now.
      const recovered = await recoverRequestLog(opts.store, spool);
      if (recovered > 0) opts.hooks?.onRequestLogRecovered?.(recovered);
    }
    const rt = new ClusterRuntime(opts.store, key, state, clock, serverId, opts.hooks ?? {}, {
      ...(opts.directoryFactory ? { directoryFactory: opts.directoryFactory } : {}),
      ...(opts.kerberosRealm ? { kerberosRealm: opts.kerberosRealm } : {}),
      ...(opts.authSchemes ? { authSchemes: opts.authSchemes } : {}),
      ...(opts.negotiate ? { negotiate: opts.negotiate } : {}),
      ...(opts.peerMembership ? { peerMembership: opts.peerMembership } : {}),
      ...(opts.verifiedDocumentCacheEntries !== undefined ? { verifiedDocumentCacheEntries: opts.verifiedDocumentCacheEntries } : {}),
    }, spool);
    rt.#adminFormSecret = await loadAdminFormSecret(opts.store, key, undefined, clock);
    await rt.#publishRevocationListIfStale();
    if (opts.refreshMs !== 0) rt.#startRefresh(opts.refreshMs ?? 5000);
    return rt;
  }

  #startRefresh(ms: number): void {
    // People and their groups are re-read at least as often as the rest of the state (identities.ts).
    this.#principalCacheTtlMs = ms;
    this.#identities.cachePrincipalsFor(ms);
    this.#timer = setInterval(() => {
      if (this.#refreshing) return;
      this.#refreshing = this.refresh()
        .catch(() => {
          // A database hiccup keeps the last good state; /readyz reports the database separately.
        })
        .finally(() => {
          this.#refreshing = undefined;
        });
    }, ms);
    this.#timer.unref();
  }

  async refresh(): Promise<void> {
    this.#state = await loadState(this.store, this.#key, this.clock, this.#state);
    this.#identities.forgetPrincipals();
    this.#applyDirectory(this.#state);
    this.#adminFormSecret = await loadAdminFormSecret(this.store, this.#key, this.#adminFormSecret, this.clock);
    await this.#publishRevocationListIfStale();
    await this.store.servers.heartbeat(this.serverId, this.clock.now());
  }

  /**
   * The first member to see the revocations change signs the new list (revocation-list.ts); a
   * failure leaves the old list served and is tried again at the next refresh. Enforcement never
   * waits for the list: it reads the revocations themselves.
   */
  async #publishRevocationListIfStale(): Promise<void> {
    const s = this.#state;
    if (s.revocationList?.digest === s.revocations.digest || s.decommissioned) return;
    try {
      await this.publishRevocationList();
    } catch {
      // Retried at the next refresh; the scheduled job reports failures.
    }
  }

  /** Signs and stores the revocation list when changed or due (the scheduled job calls this); served here at once. */
  async publishRevocationList(opts: { force?: boolean } = {}): Promise<PublishRevocationListResult> {
    const r = await publishRevocationList(this.store, { key: this.#key, clock: this.clock, slc: this.#state.leaf, ...opts });
    this.#state = { ...this.#state, revocationList: r.list };
    return r;
  }

  /** The signed revocation list this member serves, as last read or published. */
  get revocationList(): PublishedRevocationList | undefined {
    return this.#state.revocationList;
  }

  /** What this member refuses as revoked, as of its last refresh. */
  get revocations(): RevocationSet {
    return this.#state.revocations;
  }

  #buildIdentities(s: LoadedState): Identities {
    const d = s.directory;
    let external: DirectoryProvider | undefined;
    if (d && this.#opts.directoryFactory) {
      external = this.#opts.directoryFactory(d.connection);
      this.#hooks.onDirectoryChange?.(`directory ${d.connection.kind} ${d.connection.url} (base ${d.connection.baseDn}), answers cached ${d.cacheTtlMs / 1000} s`);
    } else if (d) {
      this.#hooks.onDirectoryChange?.('a directory is configured but this process cannot reach directories: local accounts only');
    }
    this.#directoryKey = { fingerprint: d?.fingerprint ?? null, generation: s.directoryGeneration };
    return new Identities({
      store: this.store,
      clock: this.clock,
      local: this.#local,
      external,
      cacheTtlMs: d?.cacheTtlMs ?? 0,
      principalCacheTtlMs: this.#principalCacheTtlMs,
      serviceGroup: d?.serviceGroup ?? null,
      adminGroup: d?.adminGroup ?? null,
      builtin: { ...s.builtinGroups, ...s.implicitGroups },
      onDirectoryError: (reason) => {
        this.#lastDirectoryErrorAt = this.clock.now().getTime();
        this.#hooks.onDirectoryError?.(reason);
      },
    });
  }

  /** A changed connection rebuilds the provider; a flush (new generation) drops every cached answer. */
  #applyDirectory(s: LoadedState): void {
    const fingerprint = s.directory?.fingerprint ?? null;
    if (fingerprint !== this.#directoryKey.fingerprint) {
      const old = this.#identities;
      this.#identities = this.#buildIdentities(s);
      void old.close().catch(() => undefined);
      return;
    }
    if (s.directoryGeneration !== this.#directoryKey.generation) {
      this.#directoryKey = { fingerprint, generation: s.directoryGeneration };
      this.#identities.flush();
      this.#hooks.onDirectoryChange?.(`directory answers flushed (generation ${s.directoryGeneration})`);
    }
  }

  /** The Directory port as this member sees it now (local tables and the configured directory). */
  get identities(): Identities {
    return this.#identities;
  }

  /** Stops the refresh timer and writes what the request log still holds. */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    // A refresh in flight must finish before the caller closes the store under it.
    await this.#refreshing;
    await this.issuedRecorder.settled();
    this.userKeys.clear();
    await this.requestLog.close();
    await this.#identities.close().catch(() => undefined);
  }

  get cluster(): ClusterIdentity {
    return this.#state.cluster;
  }

  /**
   * The cluster-wide secret the admin pages sign form tokens and flash notices with: the same on
   * every member (stored sealed in the configuration database), so a form rendered by one member
   * can be submitted to another behind the balancer.
   */
  get adminFormSecret(): Buffer {
    return this.#adminFormSecret.secret;
  }

  /** The root cluster's _wmcs URL, for a licensing-only cluster. */
  get rootClusterUrl(): string | undefined {
    return this.#state.cluster.kind === 'licensing' ? this.#state.certificationBase : undefined;
  }

  get slc(): CertificateInfo {
    return this.#state.leaf;
  }

  getLicensorCertificate(): string[] {
    notDecommissioned(this.#issuingState());
    if (this.#state.leaf.validUntil && this.#state.leaf.validUntil <= this.clock.now()) {
      throw new RmsError('UnspecifiedError', 'the server licensor certificate has expired');
    }
    return [...this.#state.chain];
  }

  /**
   * HTTP Basic: the local tables, then the directory (a bind as the user). Undefined for unknown,
   * disabled or wrong; AdEntrySearchFailed when the directory cannot answer and nothing fresh
   * enough is cached.
   */
  authenticate(name: string, password: string): Promise<AuthenticatedPrincipal | undefined> {
    return this.#identities.signOnWithPassword(name, password);
  }

  /**
   * SLC renewal with the key this member already holds: it keeps working after
   * `rmsctl key change-password`, which a password read at start-up would not.
   */
  renewSlcIfDue(opts: Omit<RenewSlcOptions, 'key' | 'keyPassword'>): ReturnType<typeof renewSlcIfDue> {
    return renewSlcIfDue(this.store, { ...opts, key: this.#key, clock: this.clock });
  }

  /**
   * Another cluster's key export becomes a trusted publishing domain, sealed to the key this member
   * already holds (the admin pages ask for the export's password, never the cluster key password);
   * applied here at once, on the other members at their next refresh.
   */
  async importPublishingDomain(input: { exportText: string; exportPassword: string; actor: string }): Promise<PublishingDomainSummary> {
    const summary = await importPublishingDomainIn(this.store, this.#key, { ...input, clock: this.clock });
    try {
      await this.refresh();
    } catch {
      // Written: it applies at the next periodic refresh.
    }
    return summary;
  }

  /** Whatever the Authorization header proves (Basic or Negotiate, as configured). */
  signOn(authorization: string | undefined): Promise<SignOnResult> {
    return this.authenticator.signOn(authorization);
  }

  /** Negotiate: the client principal (`name@REALM`) of a ticket the acceptor verified. */
  authenticateKerberos(clientPrincipal: string): Promise<AuthenticatedPrincipal | undefined> {
    return this.#identities.signOnWithKerberos(clientPrincipal);
  }

  checkAccess(endpoint: string, principal: AuthenticatedPrincipal | undefined, right: DaclRight): AccessDecision {
    const ids = principal?.principalIds ?? new Set([this.#state.implicitGroups.everyone]);
    return evaluateAccess(this.#state.dacl, endpoint, ids, right);
  }

  getServerInfo(requests: ServerInfoRequest[]): ServerInfoAnswer[] {
    return requests.map((r) => {
      const additionalInfo = r.additionalInfo ?? '';
      switch (r.type) {
        case 'VersionInfo':
          return { type: 'VersionInfo', additionalInfo, version: SERVER_PRODUCT_VERSION };
        case 'ServerFeatureInfo':
          return { type: 'ServerFeatureInfo', additionalInfo, features: this.#features() };
        case 'ServerLicensorCertificate':
          return { type: 'ServerLicensorCertificate', additionalInfo, chain: this.getLicensorCertificate() };
        case 'ServiceLocations':
          return { type: 'ServiceLocations', additionalInfo, locations: this.findServiceLocations([...SERVER_TO_SERVER_TYPES], 'server') };
        default:
          throw new RmsError('InvalidOperation', `unknown ServerInfoType "${r.type}"`);
      }
    });
  }

  #features(): { name: string; value: string }[] {
    const c = this.#state.cluster;
    return [
      { name: 'GroupExpansionWebService', value: 'true' },
      { name: 'ActiveDirectoryServicesRemoting', value: 'false' },
      { name: 'FederatedServicesEnabled', value: '0' },
      { name: 'CryptoMode', value: '2' },
      { name: 'ServerCertificationSharedIdentity', value: 'false' },
      { name: 'MultiForestAcquirePreLicense', value: 'false' },
      // Lets a load balancer or an operator tell members of different clusters apart.
      { name: 'OpenRMS-ClusterId', value: c.id },
      { name: 'OpenRMS-ClusterKind', value: c.kind },
    ];
  }

  /**
   * `user` mode (FindServiceLocationsForUser) answers null for unknown services; `server` mode
   * (FindServiceLocations) answers an empty string and accepts only the server-to-server types.
   */
  findServiceLocations(types: string[], mode: 'user' | 'server'): ServiceLocationAnswer[] {
    if (mode === 'server' && types.length === 0) {
      throw new RmsError('ArgumentNull', 'ServiceNames must name at least one service');
    }
    return types.map((t) => {
      if (!isServiceType(t) || (mode === 'server' && !SERVER_TO_SERVER_TYPES.includes(t))) {
        throw new RmsError('InvalidOperation', `"${t}" is not a ServiceType this operation accepts`);
      }
      const url = serviceLocation(this.#state.cluster, this.#state.certificationBase, t);
      return { type: t, url: url ?? (mode === 'server' ? '' : null) };
    });
  }

  /**
   * Where the cluster key is kept and whether it signs now (a test signature verified with the
   * public key): the HSM status of the admin overview. Never a password or PIN.
   */
  keyStatus(): KeyStatus {
    return this.#key.status();
  }

  async #probeDirectory(): Promise<void> {
    const external = this.#identities.external;
    if (!external) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        external.findGroup(DIRECTORY_PROBE_GROUP),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('the directory did not answer within 5 s')), DIRECTORY_PROBE_TIMEOUT_MS);
        }),
      ]);
    } catch (e) {
      this.#lastDirectoryErrorAt = this.clock.now().getTime();
      this.#hooks.onDirectoryError?.(`readiness probe: ${(e as Error)?.message ?? String(e)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  async readiness(): Promise<{ ok: boolean; checks: Record<string, string> }> {
    // A key in this process is always usable; a token's is asked (a test signature, about a millisecond).
    const checks: Record<string, string> = { key: this.#key.protection.kind === 'password' || this.#key.status().reachable ? 'ok' : 'unreachable' };
    try {
      await this.store.ping();
      checks.database = 'ok';
    } catch {
      checks.database = 'unreachable';
    }
    const until = this.#state.leaf.validUntil;
    checks.slc = until && until <= this.clock.now() ? 'expired' : 'ok';
    const ok = Object.values(checks).every((v) => v === 'ok');
    // Reported, not fatal: every member shares the directory, and cached people still sign on.
    if (this.#state.directory) {
      // A failure seen by a request counts for 30 s. Without one, the directory is asked (a group
      // lookup no one has): in a member of several worker processes, the request that failed may
      // have run in another process than the one answering this probe.
      if (this.clock.now().getTime() - this.#lastDirectoryErrorAt >= DIRECTORY_ERROR_WINDOW_MS) await this.#probeDirectory();
      checks.directory = this.clock.now().getTime() - this.#lastDirectoryErrorAt < DIRECTORY_ERROR_WINDOW_MS ? 'degraded' : 'ok';
    }
    return { ok, checks };
  }
}

async function loadState(store: Store, key: ClusterKey, clock: Clock, previous?: LoadedState): Promise<LoadedState> {
  const c = await store.clusters.get();
  const cluster: ClusterIdentity = { id: c.id, kind: c.kind, name: c.name, url: c.url };
  const chainRow = await store.slcChains.getActive(c.id);
  const rootPem = await store.settings.get(SETTINGS.trustedRootKeyPem);
  if (typeof rootPem !== 'string') throw new RmsError('NotProvisioned', 'the cluster has no trusted root key recorded');
  const trustedRootKeys = [createPublicKey(rootPem)];
  // Checked at every load: a chain that no longer verifies must never be served.
  const infos = verifyChain(chainRow.chain, { trustedRootKeys, now: clock.now() });
  const leaf = infos[0]!;
  if (!publicKeysEqual(leaf.principal.publicKey, key.publicKey)) {
    throw new RmsError('ChainInvalid', 'the active SLC does not certify this cluster key');
  }
  const groups = await Promise.all(
    [BUILTIN_GROUPS.authenticatedUsers, BUILTIN_GROUPS.everyone, BUILTIN_GROUPS.administrators, BUILTIN_GROUPS.serviceGroup].map((n) => store.principals.getByName(n)),
  );
  const rows = await store.dacl.list();
  const rootUrl = await store.settings.get(SETTINGS.rootClusterUrl);
  // The root's key of a licensing-only cluster, then the imported trusted user domains.
  const extraRacIssuers = await readTrustedRacIssuerKeys(store);
  const validity = (await store.settings.get(SETTINGS.validity)) as Partial<ValidityPolicy> | undefined;
  return {
    cluster,
    chain: chainRow.chain,
    leaf,
    trustedRootKeys,
    racIssuerKeys: [leaf.principal.publicKey, ...extraRacIssuers],
    policies: await readPolicies(store),
    validity: { ...DEFAULT_VALIDITY, ...(validity ?? {}) },
    dacl: rows.map((r) => ({ endpoint: r.endpoint, principalId: r.principalId, right: r.right, effect: r.effect })),
    implicitGroups: { authenticated: groups[0]!.id, everyone: groups[1]!.id },
    builtinGroups: { administrators: groups[2]!.id, serviceGroup: groups[3]!.id },
    certificationBase: typeof rootUrl === 'string' ? rootUrl : cluster.url,
    directory: await readDirectorySettings(store, key),
    directoryGeneration: await readGeneration(store),
    peers: await openPeers(store, key),
    publishingDomains: await loadPublishingDomains(store, key, previous?.publishingDomains),
    decommissioned: c.decommissioned,
    ...(await loadRevocations(store, c.id, previous)),
  };
}

/**
 * Revocations are re-read when the configuration version moved (every revoke, lift and list
 * publication moves it). The version is read before the rows: a change committed in between is
 * read now and read again at the next refresh, never missed.
 */
async function loadRevocations(store: Store, clusterId: string, previous?: LoadedState): Promise<Pick<LoadedState, 'revocations' | 'revocationList' | 'revocationsVersion'>> {
  const version = await store.settings.configVersion();
  if (previous && previous.revocationsVersion === version) {
    return { revocations: previous.revocations, revocationList: previous.revocationList, revocationsVersion: version };
  }
  return { revocations: await readRevocationSet(store, clusterId), revocationList: await readPublishedRevocationList(store), revocationsVersion: version };
}

/** Writes the rows a spool holds that the database does not have yet (by request id), then empties it. */
async function recoverRequestLog(store: Store, spool: RequestLogSpool): Promise<number> {
  const rows = spool.pending();
  if (rows.length === 0) return 0;
  const ids = rows.map((r) => r.requestId).filter((id): id is string => typeof id === 'string');
  const present = await store.requestLog.existingRequestIds(ids);
  const missing = rows.filter((r) => !r.requestId || !present.has(r.requestId));
  await store.requestLog.appendMany(missing);
  spool.settle([]);
  return missing.length;
}
