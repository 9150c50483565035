import { createHash, createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import { isRmsError, newBracedGuid, normalizeGuid, RmsError, systemClock, type Clock, type RightGrant } from '@openrms/domain';
import { ContentKey, RsaKeyPair } from '@openrms/keys';
import {
  buildPublishingLicense,
  buildRightsData,
  buildSpc,
  issuerFromCertificate,
  legacyPkcs1Fingerprint,
  publicKeyFingerprint,
  publicKeysEqual,
  readCertificate,
  readClc,
  readPublishingLicense,
  readRac,
  readTemplate,
  readUseLicense,
  SERVER_OBJECT_TYPE,
  signXrml,
  verifyChain,
  verifyXrmlSignature,
  type CertificateInfo,
  type ClcInfo,
  type PublishingLicenseInfo,
  type PublishingLicenseServer,
  type RacInfo,
  type TemplateInfo,
  ERD_AAD,
} from '@openrms/xrml';
import { claimedRootKey, readVerified, verifyLeaf } from './chain-checks';
import { ClientState, STATE_FILES, stateFolderFor } from './client-state';
import {
  assembleProtectedFile,
  contentAad,
  encodeHeader,
  parseProtectedFile,
  PROTECTED_FILE_FORMAT,
  type DeclaredGrant,
  type ProtectedFileHeader,
} from './protected-file';
import { isRmsClientError, RmsClientError } from './rms-client-error';
import { RmsServiceClient } from './rms-service-client';
import { isLoopbackUrl, SoapTransport } from './soap-transport';

export { ERD_AAD };

/** What this client writes into its SPC. `Repository` is the lockbox version that `policy lockbox` compares. */
export const CLIENT_SPC = { platform: 'OpenRMS-Client', manufacturer: 'OpenRMS', repositoryVersion: '1.0.0.0' } as const;

/** The machine key is wrapped with the user's password, which may be shorter than an operator's key password. */
export const MIN_USER_PASSWORD_LENGTH = 8;

/** A RAC or CLC this close to its end is replaced before use rather than risk it expiring mid-operation. */
const RENEW_MARGIN_MS = 24 * 60 * 60 * 1000;

export interface RmsClientOptions {
  /** `http(s)://host[:port]` (then `/_wmcs` is added) or the cluster's `_wmcs` URL. */
  serverUrl: string;
  user: string;
  password: string;
  /** The state root; the client keeps `<stateDir>/<user>@<host>_<port>/`. */
  stateDir: string;
  clock?: Clock;
  /** Notes worth telling a user (state rebuilt, root key trusted on first use, plain HTTP). */
  logger?: (message: string) => void;
  /** Sign on otherwise than with HTTP Basic (Negotiate): the Authorization header of each request. */
  authorization?: () => string | Promise<string>;
  /** Injected for tests. */
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export interface ProtectOptions {
  /** Who may do what. Required unless a template decides. */
  grants: RightGrant[];
  /** Name of an official template of the server (online publishing); its rights replace `grants`. */
  template?: string;
  /** A name for the content, written into the PL's DESCRIPTOR and the file header. */
  name?: string;
}

export interface OpenResult {
  content: Buffer;
  /** The rights the use licence grants this user (e.g. `VIEW`, or `OWNER` for the publisher). */
  rights: string[];
  /** The signed use licence (XrML). */
  useLicense: string;
}

export interface ProtectedFileInfo {
  /** The owner named in the signed PL. */
  publisher: string;
  contentId: string;
  /** The License-Acquisition-URL of the signed PL (what `open` calls). */
  licensingUrl: string;
  extranetLicensingUrl?: string;
  issuedTime: Date;
  /** True when the PL was signed by the publisher's CLC, false when the server signed it (template). */
  publishedOffline: boolean;
  /** The template name the header names (informational). */
  template?: string;
  name?: string;
  createdAt: string;
  /** Who signed the PL: the publisher's CLC identity (offline) or the server (online). */
  signer: { kind: 'client-licensor-certificate' | 'server'; name?: string; id: string };
  /**
   * Grants as the PUBLISHER DECLARED them in the unsigned file header. They are informational: the
   * server decides from the rights data sealed inside the signed PL, which only it can read.
   */
  declaredGrants: DeclaredGrant[];
  /** SHA-256 fingerprint of the key the PL chain ends at; `open` requires it to be the trusted server root. */
  rootKeyFingerprint: string;
  /** The SLC principal the content is licensed by. */
  serverGuid: string;
}

interface TrustFile {
  format: 1;
  serverUrl: string;
  rootKeyPem: string;
  rootKeyFingerprint: string;
  /** The SLC chain as first seen (from the first Certify). */
  slcChain: string[];
  firstSeenAt: string;
}

interface Session {
  email: string;
  racChain: string[];
  rac: RacInfo;
  racKey: RsaKeyPair;
  rootKey: KeyObject;
}

interface UsableClc {
  chain: string[];
  info: ClcInfo;
  cert: CertificateInfo;
  /** The SLC that issued the CLC (verified). */
  slc: CertificateInfo;
  key: RsaKeyPair;
}

function fingerprint(key: KeyObject): string {
  return publicKeyFingerprint(key);
}

function inRange(now: Date, from: Date, until: Date, marginMs = 0): boolean {
  return now.getTime() >= from.getTime() && now.getTime() < until.getTime() - marginMs;
}

/** Groups grants by grantee for the header: `[{ grantee: 'bob@x', rights: ['VIEW', 'PRINT'] }]`. */
export function declaredGrantsOf(grants: readonly RightGrant[]): DeclaredGrant[] {
  const byGrantee = new Map<string, string[]>();
  for (const g of grants) {
    const who = g.grantee.kind === 'email' ? g.grantee.email : g.grantee.kind;
    const rights = byGrantee.get(who) ?? [];
    if (!rights.includes(g.right)) rights.push(g.right);
    byGrantee.set(who, rights);
  }
  return [...byGrantee].map(([grantee, rights]) => ({ grantee, rights }));
}

/**
 * The OpenRMS client: the user's own security context. It keeps a per-user state folder (machine
 * key wrapped with the user's password, SPC, RAC and CLC chains, the server root key trusted on
 * first use), protects content offline with its CLC or online with a template, and opens protected
 * content with a use licence it verifies before using.
 */
export class RmsClient {
  readonly serverUrl: string;
  readonly user: string;
  readonly stateFolder: string;
  readonly #password: string;
  readonly #clock: Clock;
  readonly #log: (message: string) => void;
  readonly #service: RmsServiceClient;
  readonly #state: ClientState;
  #session: Promise<Session> | undefined;

  constructor(o: RmsClientOptions) {
    const transport = new SoapTransport({
      serverUrl: o.serverUrl,
      user: o.user,
      password: o.password,
      ...(o.authorization ? { authorization: o.authorization } : {}),
      ...(o.fetch ? { fetch: o.fetch } : {}),
      ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
    });
    if (typeof o.password !== 'string' || o.password.length < MIN_USER_PASSWORD_LENGTH) {
      // Checked before any server contact: the password also wraps the local machine key.
      throw new RmsClientError('input', `the password must be at least ${MIN_USER_PASSWORD_LENGTH} characters to protect the local key store`);
    }
    this.serverUrl = transport.baseUrl;
    this.user = o.user;
    this.#password = o.password;
    this.#clock = o.clock ?? systemClock;
    this.#log = o.logger ?? (() => undefined);
    this.#service = new RmsServiceClient(transport);
    this.stateFolder = stateFolderFor(o.stateDir, o.user, this.serverUrl);
    this.#state = new ClientState(this.stateFolder, this.#log);
    if (!isLoopbackUrl(this.serverUrl) && this.serverUrl.startsWith('http:')) {
      this.#log(`${this.serverUrl} is plain HTTP: the password travels unencrypted; use https`);
    }
  }

  /** The e-mail address the server certified this user as (bootstraps the state folder if needed). */
  async identity(): Promise<{ email: string; rootKeyFingerprint: string }> {
    const s = await this.#sessionOnce();
    return { email: s.email, rootKeyFingerprint: fingerprint(s.rootKey) };
  }

  // ------------------------------------------------------------------ protect

  async protect(content: Buffer, opts: ProtectOptions): Promise<Buffer> {
    if (!Buffer.isBuffer(content)) throw new RmsClientError('input', 'content must be a Buffer');
    const grants = opts.grants ?? [];
    const name = opts.name?.trim() || undefined;
    if (opts.template !== undefined && grants.length > 0) {
      throw new RmsClientError('input', 'a template decides the rights: give either a template or grants, not both');
    }
    if (opts.template === undefined && grants.length === 0) throw new RmsClientError('input', 'give at least one grant (who may do what)');
    const session = await this.#sessionOnce();
    const now = this.#clock.now();
    const contentId = newBracedGuid();
    const contentKey = ContentKey.generate();

    let published: { chain: string[]; licensingUrl: string; grants: RightGrant[] };
    if (opts.template === undefined) {
      published = await local(() => this.#publishOffline(session, { contentId, contentKey, grants, now, ...(name ? { name } : {}) }));
    } else {
      const templateName = opts.template;
      published = await local(() => this.#publishOnline(session, { contentId, contentKey, templateName, now, ...(name ? { name } : {}) }));
    }
    const header: ProtectedFileHeader = {
      format: PROTECTED_FILE_FORMAT,
      plChain: published.chain,
      licensingUrl: published.licensingUrl,
      contentId,
      publisher: session.email,
      declaredGrants: declaredGrantsOf(published.grants),
      ...(opts.template !== undefined ? { template: opts.template } : {}),
      ...(name ? { name } : {}),
      createdAt: now.toISOString(),
    };
    const headerBytes = encodeHeader(header);
    return assembleProtectedFile(headerBytes, contentKey.encrypt(content, contentAad(headerBytes)));
  }

  async #publishOffline(
    session: Session,
    p: { contentId: string; contentKey: ContentKey; grants: RightGrant[]; now: Date; name?: string },
  ): Promise<{ chain: string[]; licensingUrl: string; grants: RightGrant[] }> {
    const clc = await this.#clc(session);
    if (!inRange(p.now, clc.info.issueRange.from, clc.info.issueRange.until)) {
      throw new RmsClientError('state', 'the client licensor certificate does not cover the current time; check the clock');
    }
    const erd = buildRightsData({
      issuedTime: p.now,
      descriptorGuid: newBracedGuid(),
      policy: { contentId: p.contentId, ownerEmail: session.email, grants: p.grants },
      ...(p.name ? { name: p.name } : {}),
    });
    const unsigned = buildPublishingLicense({
      issuedTime: p.now,
      ...(p.name ? { descriptor: { name: p.name } } : {}),
      issuer: issuerFromCertificate(clc.cert),
      licensingUrl: clc.info.licensingUrl,
      ...(clc.info.extranetLicensingUrl ? { extranetLicensingUrl: clc.info.extranetLicensingUrl } : {}),
      server: serverPrincipalOf(clc.slc),
      enablingBits: p.contentKey.sealTo(clc.slc.principal.publicKey),
      contentId: p.contentId,
      owner: { idType: session.rac.identity.idType, email: session.email },
      encryptedRightsData: p.contentKey.encrypt(Buffer.from(erd, 'utf8'), ERD_AAD),
    });
    const signed = signXrml(unsigned, clc.key, { verifyWith: clc.key.publicKey });
    return { chain: [signed, ...clc.chain], licensingUrl: clc.info.licensingUrl, grants: p.grants };
  }

  async #publishOnline(
    session: Session,
    p: { contentId: string; contentKey: ContentKey; templateName: string; now: Date; name?: string },
  ): Promise<{ chain: string[]; licensingUrl: string; grants: RightGrant[] }> {
    const slcChain = await this.#service.getLicensorCertificate();
    const slc = this.#verifySlcChain(slcChain, session.rootKey);
    const template = await this.#findTemplate(p.templateName, slc);
    const erdPlain = buildRightsData({
      issuedTime: p.now,
      descriptorGuid: template.guid,
      policy: {
        contentId: p.contentId,
        ownerEmail: session.email,
        grants: template.grants,
        templateGuid: template.guid,
        ...(template.validity ? { validity: template.validity } : {}),
      },
      ...(p.name ? { name: p.name } : {}),
      publishingUrl: template.publishingUrl,
    });
    const encryptedRightsData = p.contentKey.encrypt(Buffer.from(erdPlain, 'utf8'), ERD_AAD);
    const unsigned = buildPublishingLicense({
      issuedTime: p.now,
      ...(p.name ? { descriptor: { name: p.name } } : {}),
      // Replaced by the server (withServerSignatureFields); the SLC principal is what it will write.
      issuer: issuerFromCertificate(slc),
      licensingUrl: slc.principal.url ? `${slc.principal.url.replace(/\/+$/, '')}/licensing` : `${this.serverUrl}/licensing`,
      server: serverPrincipalOf(slc),
      enablingBits: p.contentKey.sealTo(slc.principal.publicKey),
      contentId: p.contentId,
      owner: { idType: session.rac.identity.idType, email: session.email },
      encryptedRightsData,
    });
    const chain = await this.#service.acquireIssuanceLicense(unsigned);
    const pl = this.#verifyPlChain(chain, session.rootKey);
    if (normalizeGuid(pl.contentId) !== normalizeGuid(p.contentId) || !pl.encryptedRightsData.equals(encryptedRightsData)) {
      throw new RmsClientError('trust', 'the server signed a publishing licence for other content than the one sent');
    }
    return { chain, licensingUrl: pl.licensingUrl, grants: template.grants };
  }

  async #findTemplate(name: string, slc: CertificateInfo): Promise<TemplateInfo> {
    const list = await this.#service.acquireTemplateInformation();
    const fetched = list.templates.length ? await this.#service.acquireTemplates(list.templates.map((t) => t.guid)) : [];
    const templates: TemplateInfo[] = [];
    for (const t of fetched) {
      if (t.template === null) continue;
      try {
        templates.push(readTemplate(verifyXrmlSignature(t.template, slc.principal.publicKey)));
      } catch (e) {
        this.#log(`ignoring template ${t.guid}: it does not verify with the server key (${(e as Error).message})`);
      }
    }
    const exact = templates.filter((t) => t.name === name);
    const folded = exact.length ? exact : templates.filter((t) => t.name.toLowerCase() === name.toLowerCase());
    if (folded.length === 1) return folded[0]!;
    const names = templates.map((t) => `"${t.name}"`).join(', ') || 'none';
    if (folded.length > 1) throw new RmsClientError('input', `several templates are named "${name}"; the server offers: ${names}`);
    throw new RmsClientError('input', `the server has no template named "${name}"; it offers: ${names}`);
  }

  // ------------------------------------------------------------------ open

  async open(fileBytes: Buffer): Promise<OpenResult> {
    const parts = parseProtectedFile(fileBytes);
    const session = await this.#sessionOnce();
    const plChain = parts.header.plChain;
    const pl = this.#verifyPlChain(plChain, session.rootKey);
    if (normalizeGuid(pl.contentId) !== normalizeGuid(parts.header.contentId)) {
      throw new RmsClientError('format', 'the file header names other content than its publishing licence');
    }
    const licenseUrl = this.#licenseEndpointFor(pl);
    const [answer] = await this.#service.acquireLicense([{ licenseeCerts: session.racChain, issuanceLicense: plChain }], licenseUrl);
    if (!answer) throw new RmsClientError('protocol', 'AcquireLicense returned no answer');
    if ('error' in answer) throw answer.error;

    const now = this.#clock.now();
    const { doc } = verifyLeaf(answer.chain, session.rootKey, now, 'use licence');
    const ul = readVerified('use licence', () => readUseLicense(doc));
    if (!inRange(now, ul.validFrom, ul.validUntil)) throw new RmsClientError('trust', 'the use licence is not valid now; check the clock');
    if (!publicKeysEqual(ul.licensee.publicKey, session.rac.publicKey)) {
      throw new RmsClientError('trust', 'the use licence was issued to another key than this user’s rights account certificate');
    }
    if (normalizeGuid(ul.contentId) !== normalizeGuid(pl.contentId)) throw new RmsClientError('trust', 'the use licence is for other content');
    const usable = ul.rights.find((r) => !r.range || inRange(now, r.range.from, r.range.until));
    if (!usable) throw new RmsClientError('fault', 'the use licence grants no right that is valid now', { shortName: 'NoRightsForRequestedPrincipal' });
    let contentKey: ContentKey;
    try {
      contentKey = session.racKey.unsealContentKey(usable.enablingBits);
    } catch (e) {
      throw new RmsClientError('trust', 'the content key in the use licence cannot be opened with this user’s key', { cause: e });
    }
    let content: Buffer;
    try {
      content = contentKey.decrypt(parts.encryptedContent, contentAad(parts.headerBytes));
    } catch (e) {
      throw new RmsClientError('format', 'the protected content was altered, or its header was changed, after it was protected', { cause: e });
    }
    return { content, rights: ul.rights.map((r) => r.right), useLicense: answer.chain[0]! };
  }

  /**
   * The license.asmx named by the signed PL. The password goes only to the server this client was
   * configured with: a publisher chooses the URL in an offline PL, and a URL elsewhere would
   * collect the recipients' passwords.
   */
  #licenseEndpointFor(pl: PublishingLicenseInfo): string {
    const mine = new URL(this.serverUrl).origin;
    const url = pl.licensingUrls.find((u) => {
      try {
        return new URL(u).origin === mine;
      } catch {
        return false;
      }
    });
    if (!url) {
      throw new RmsClientError(
        'input',
        `this content is licensed by ${pl.licensingUrl}, not by ${this.serverUrl}; open it with --server ${new URL(pl.licensingUrl).origin}`,
      );
    }
    return `${url.replace(/\/+$/, '')}/license.asmx`;
  }

  /** What a protected file says about itself; verifies the PL chain's own signatures, contacts nobody. */
  info(fileBytes: Buffer): ProtectedFileInfo {
    return inspectProtectedFile(fileBytes, this.#clock);
  }

  // ------------------------------------------------------------------ chains

  #verifySlcChain(chain: string[], rootKey: KeyObject): CertificateInfo {
    try {
      return verifyChain(chain, { trustedRootKeys: [rootKey], now: this.#clock.now() })[0]!;
    } catch (e) {
      throw new RmsClientError('trust', `the server licensor certificate chain does not end at the key this client trusts: ${(e as Error).message}`, { cause: e });
    }
  }

  #verifyPlChain(chain: string[], rootKey: KeyObject): PublishingLicenseInfo {
    const { doc } = verifyLeaf(chain, rootKey, this.#clock.now(), 'publishing licence');
    return readVerified('publishing licence', () => readPublishingLicense(doc));
  }

  // ------------------------------------------------------------------ state

  #sessionOnce(): Promise<Session> {
    this.#session ??= this.#bootstrap().catch((e) => {
      this.#session = undefined;
      throw e;
    });
    return this.#session;
  }

  /**
   * Opens or creates the state folder. A machine key that no longer opens with the password (the
   * password changed) or a RAC that no longer verifies is replaced, but only after the server has
   * issued the new RAC: a wrong password cannot destroy a working state folder.
   */
  async #bootstrap(): Promise<Session> {
    this.#state.ensure();
    const now = this.#clock.now();
    const trust = this.#readTrust();

    let machineKey: RsaKeyPair | undefined;
    const wrapped = this.#state.read(STATE_FILES.machineKey);
    if (wrapped !== undefined) {
      try {
        machineKey = RsaKeyPair.unwrap(wrapped, this.#password, 'machine key');
      } catch (e) {
        this.#log(
          isRmsError(e, 'KeyPasswordInvalid')
            ? `the local key store in ${this.stateFolder} does not open with this password (was it changed?); it will be rebuilt`
            : `the local key store in ${this.stateFolder} is unreadable (${(e as Error).message}); it will be rebuilt`,
        );
      }
    }
    let spc = machineKey ? this.#state.read(STATE_FILES.spc) : undefined;
    if (machineKey && spc !== undefined && !this.#spcMatches(spc, machineKey)) {
      // E.g. two first runs raced and each wrote some of the files: start over with a matching pair.
      this.#log(`the stored machine certificate does not belong to the stored machine key; the local key store will be rebuilt`);
      spc = undefined;
    }

    if (machineKey && trust) {
      const cached = this.#state.readJson<unknown>(STATE_FILES.racChain);
      if (Array.isArray(cached) && cached.every((c) => typeof c === 'string')) {
        try {
          return this.#openRac(cached as string[], machineKey, trust.rootKey, now, true);
        } catch (e) {
          this.#log(`the stored rights account certificate cannot be used (${(e as Error).message}); asking the server for a new one`);
        }
      }
    }

    const fresh = !machineKey || !spc;
    const key = machineKey && spc ? machineKey : RsaKeyPair.generate(2048);
    const spcXml = machineKey && spc ? spc : this.#selfIssuedSpc(key, now);
    const racChain = await this.#service.certify([spcXml], true);

    let rootKey = trust?.rootKey;
    if (!rootKey) {
      rootKey = claimedRootKey(racChain, 'rights account certificate');
      verifyLeaf(racChain, rootKey, now, 'rights account certificate');
    }
    const session = this.#openRac(racChain, key, rootKey, now, false);
    if (fresh) {
      this.#writeMachineKey(key);
      this.#state.write(STATE_FILES.spc, spcXml);
      this.#state.remove(STATE_FILES.clcChain);
    }
    this.#state.writeJson(STATE_FILES.racChain, racChain);
    if (!trust) {
      const t: TrustFile = {
        format: 1,
        serverUrl: this.serverUrl,
        rootKeyPem: rootKey.export({ format: 'pem', type: 'spki' }).toString(),
        rootKeyFingerprint: fingerprint(rootKey),
        slcChain: racChain.slice(1),
        firstSeenAt: now.toISOString(),
      };
      this.#state.writeJson(STATE_FILES.trust, t);
      this.#log(`trusting the server key ${t.rootKeyFingerprint} of ${this.serverUrl} from now on (first use)`);
    }
    this.#state.writeJson(STATE_FILES.profile, { format: 1, user: this.user, serverUrl: this.serverUrl, email: session.email, updatedAt: now.toISOString() });
    return session;
  }

  #spcMatches(spc: string, machineKey: RsaKeyPair): boolean {
    try {
      verifyXrmlSignature(spc, machineKey.publicKey);
      return true;
    } catch {
      return false;
    }
  }

  #writeMachineKey(key: RsaKeyPair): void {
    let wrapped: string;
    try {
      wrapped = key.wrap(this.#password, MIN_USER_PASSWORD_LENGTH);
    } catch (e) {
      if (isRmsError(e, 'InvalidInput')) {
        throw new RmsClientError('input', `the password must be at least ${MIN_USER_PASSWORD_LENGTH} characters to protect the local key store`);
      }
      throw e;
    }
    this.#state.write(STATE_FILES.machineKey, wrapped);
  }

  #selfIssuedSpc(key: RsaKeyPair, now: Date): string {
    const machineGuid = newBracedGuid();
    const unsigned = buildSpc({
      descriptorGuid: newBracedGuid(),
      issuedTime: now,
      machineGuid,
      publicKey: key.publicKey,
      platform: CLIENT_SPC.platform,
      manufacturer: CLIENT_SPC.manufacturer,
      repositoryVersion: CLIENT_SPC.repositoryVersion,
      // Not a hardware fingerprint: a per-installation value that identifies nothing about the machine.
      hardwareDigest: createHash('sha256').update(`openrms-client:${machineGuid}:${randomUUID()}`).digest(),
    });
    return signXrml(unsigned, key, { verifyWith: key.publicKey });
  }

  /** Verifies a RAC chain against the root key, checks its time, unseals its private key with the machine key. */
  #openRac(racChain: string[], machineKey: RsaKeyPair, rootKey: KeyObject, now: Date, cached: boolean): Session {
    const { doc } = verifyLeaf(racChain, rootKey, now, 'rights account certificate');
    const rac = readVerified('rights account certificate', () => readRac(doc));
    if (!inRange(now, rac.validFrom, rac.validUntil, cached ? RENEW_MARGIN_MS : 0)) {
      throw new RmsClientError('trust', `the rights account certificate is valid ${rac.validFrom.toISOString()} to ${rac.validUntil.toISOString()}, not now`);
    }
    if (!rac.enablingBits) throw new RmsClientError('trust', 'the rights account certificate carries no private key for this machine');
    let racKey: RsaKeyPair;
    try {
      racKey = machineKey.unsealKeyPair(rac.enablingBits, 'rac-private-key');
    } catch (e) {
      throw new RmsClientError('trust', 'the rights account certificate’s private key is not sealed to this machine', { cause: e });
    }
    if (!publicKeysEqual(racKey.publicKey, rac.publicKey)) {
      throw new RmsClientError('trust', 'the private key sealed in the rights account certificate does not match its public key');
    }
    return { email: rac.identity.email, racChain, rac, racKey, rootKey };
  }

  #readTrust(): { rootKey: KeyObject } | undefined {
    const t = this.#state.readJson<Partial<TrustFile>>(STATE_FILES.trust);
    if (!t) return undefined;
    try {
      if (t.format !== 1 || typeof t.rootKeyPem !== 'string') throw new Error('unknown format');
      const rootKey = createPublicKey(t.rootKeyPem);
      if (t.rootKeyFingerprint === fingerprint(rootKey)) return { rootKey };
      if (t.rootKeyFingerprint !== legacyPkcs1Fingerprint(rootKey)) throw new Error('fingerprint does not match the key');
      // Written before fingerprints were SHA-256 of the SPKI: the same key, so rewrite the file in
      // today's form (what `rms`, `rmsctl slc show` and the admin pages print).
      this.#state.writeJson(STATE_FILES.trust, { ...t, rootKeyFingerprint: fingerprint(rootKey) });
      return { rootKey };
    } catch (e) {
      // Never silently re-trust: a broken trust file could be an attempt to swap the root key.
      throw new RmsClientError(
        'state',
        `${this.#state.file(STATE_FILES.trust)} is damaged (${(e as Error).message}); remove it only if you trust ${this.serverUrl} anew`,
      );
    }
  }

  /** The cached CLC if it is still usable, else a new one from the server. */
  async #clc(session: Session): Promise<UsableClc> {
    const now = this.#clock.now();
    const cached = this.#state.readJson<unknown>(STATE_FILES.clcChain);
    if (Array.isArray(cached) && cached.every((c) => typeof c === 'string')) {
      try {
        return this.#openClc(cached as string[], session, now, true);
      } catch (e) {
        this.#log(`the stored client licensor certificate cannot be used (${(e as Error).message}); asking the server for a new one`);
      }
    }
    const chain = await this.#service.getClientLicensorCert(session.racChain);
    const clc = this.#openClc(chain, session, now, false);
    this.#state.writeJson(STATE_FILES.clcChain, chain);
    return clc;
  }

  #openClc(chain: string[], session: Session, now: Date, cached: boolean): UsableClc {
    const { doc, issuers } = verifyLeaf(chain, session.rootKey, now, 'client licensor certificate');
    const info = readVerified('client licensor certificate', () => readClc(doc));
    const cert = readVerified('client licensor certificate', () => readCertificate(doc));
    if (!inRange(now, info.issueRange.from, info.issueRange.until, cached ? RENEW_MARGIN_MS : 0)) {
      throw new RmsClientError('trust', 'the client licensor certificate does not cover the current time');
    }
    if (info.identity.email.toLowerCase() !== session.email.toLowerCase()) {
      throw new RmsClientError('trust', `the client licensor certificate is for ${info.identity.email}, not ${session.email}`);
    }
    let key: RsaKeyPair;
    try {
      key = session.racKey.unsealKeyPair(info.enablingBits, 'clc-private-key');
    } catch (e) {
      throw new RmsClientError('trust', 'the client licensor certificate’s private key is not sealed to this user', { cause: e });
    }
    if (!publicKeysEqual(key.publicKey, info.publicKey)) throw new RmsClientError('trust', 'the CLC’s sealed private key does not match its public key');
    return { chain, info, cert, slc: issuers[0]!, key };
  }
}

/** The PL's ISSUEDPRINCIPALS server: the SLC principal, with the Server-Version and Server-SKU it states. */
function serverPrincipalOf(slc: CertificateInfo): PublishingLicenseServer {
  const p = slc.principal;
  const version = p.securityLevels['Server-Version'];
  const sku = p.securityLevels['Server-SKU'];
  if (!version || !sku) throw new RmsClientError('trust', 'the server licensor certificate lacks Server-Version or Server-SKU');
  return {
    serverGuid: p.id,
    publicKey: p.publicKey,
    version,
    sku,
    ...(p.name === undefined ? {} : { name: p.name }),
    ...(p.url === undefined ? {} : { url: p.url }),
  };
}

/** Library errors raised while building documents locally become input errors with their message. */
async function local<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isRmsClientError(e)) throw e;
    if (e instanceof RmsError) throw new RmsClientError('input', e.message, { cause: e });
    throw e;
  }
}

/**
 * Reads what a protected file says about itself without any server: the header, and the signed
 * PL after checking that the PL chain's signatures are consistent (each member signed by the
 * next, the last by the key it names). Whether that last key is a server you trust is for `open`.
 */
export function inspectProtectedFile(fileBytes: Buffer, clock: Clock = systemClock): ProtectedFileInfo {
  const { header } = parseProtectedFile(fileBytes);
  const rootKey = claimedRootKey(header.plChain, 'publishing licence');
  const { doc } = verifyLeaf(header.plChain, rootKey, clock.now(), 'publishing licence', 'in this file does not verify (its signatures are inconsistent or expired)');
  const pl = readVerified('publishing licence', () => readPublishingLicense(doc));
  const offline = pl.issuer.objectType !== SERVER_OBJECT_TYPE;
  return {
    publisher: pl.owner.email,
    contentId: pl.contentId,
    licensingUrl: pl.licensingUrl,
    ...(pl.extranetLicensingUrl ? { extranetLicensingUrl: pl.extranetLicensingUrl } : {}),
    issuedTime: pl.issuedTime,
    publishedOffline: offline,
    ...(header.template !== undefined ? { template: header.template } : {}),
    ...(header.name !== undefined ? { name: header.name } : {}),
    createdAt: header.createdAt,
    signer: { kind: offline ? 'client-licensor-certificate' : 'server', id: pl.issuer.id, ...(pl.issuer.name ? { name: pl.issuer.name } : {}) },
    declaredGrants: header.declaredGrants,
    rootKeyFingerprint: fingerprint(rootKey),
    serverGuid: pl.server.serverGuid,
  };
}
