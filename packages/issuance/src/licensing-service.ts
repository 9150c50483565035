import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import {
  addYears,
  type Clock,
  compareVersions,
  DEFAULT_ISSUED_VALIDITY_YEARS,
  evaluateRights,
  isRmsError,
  MINUTE_MS,
  newBracedGuid,
  newId,
  normalizeGuid,
  parseVersion,
  clusterBaseUrl,
  SLC_VALIDITY_YEARS,
  RmsError,
  type RightsPolicy,
  type TimeRange,
} from '@openrms/domain';
import { ContentKey, RsaKeyPair, type ClusterKey } from '@openrms/keys';
import type { Store } from '@openrms/store';
import {
  buildClc,
  buildRac,
  buildSlc,
  publicKeyFromPkcs1Base64,
  buildUseLicense,
  type CertificateInfo,
  issuerFromCertificate,
  parseXrml,
  pkcs1PublicKeyBase64,
  publicKeysEqual,
  readClc,
  readPublishingLicense,
  readRac,
  readRightsData,
  readSpc,
  readTemplate,
  signXrml,
  verifyChain,
  verifyXrmlSignature,
  withServerSignatureFields,
  type XrmlDocument,
  readCertificate,
  ERD_AAD,
} from '@openrms/xrml';
import type { AuthenticatedPrincipal } from './cluster-runtime';
import { SETTINGS } from './settings';
import { slcRevocationFromSetting } from './provision-root';
import { isExcluded, type Policies } from './policies';
import { isValidEmail } from './principal-admin';

/** How long what the server issues stays valid, unless policy says otherwise (settings `validity`). */
export interface ValidityPolicy {
  racYears: number;
  temporaryRacMinutes: number;
  useLicenseYears: number;
  /** RAC FROM is back-dated by this much to tolerate clock skew. */
  backdateMinutes: number;
}

export const DEFAULT_VALIDITY: ValidityPolicy = {
  racYears: DEFAULT_ISSUED_VALIDITY_YEARS,
  temporaryRacMinutes: 15,
  useLicenseYears: DEFAULT_ISSUED_VALIDITY_YEARS,
  backdateMinutes: 15,
};

/** What the use-cases read from the cluster's current state (refreshed by the runtime). */
export interface IssuingState {
  cluster: { id: string; kind: 'root' | 'licensing'; url: string };
  chain: string[];
  slc: CertificateInfo;
  /** SLC keys whose RACs this cluster accepts ("trusted user domains"). */
  racIssuerKeys: KeyObject[];
  policies: Policies;
  validity: ValidityPolicy;
}

export interface Caller {
  requestId: string;
  principal: Pick<AuthenticatedPrincipal, 'id' | 'name' | 'email'>;
}

interface VerifiedRac {
  doc: XrmlDocument;
  info: ReturnType<typeof readRac>;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function fail(code: RmsError['code'], message: string): never {
  throw new RmsError(code, message);
}

/** The ISSUER key a document names, read before its signature is checked (only to pick the trusted key). */
function claimedIssuerKey(doc: XrmlDocument, what: string, code: RmsError['code']): KeyObject {
  try {
    return readCertificate(doc).issuer.publicKey;
  } catch {
    return fail(code, `the ${what} has no readable ISSUER key`);
  }
}

/**
 * The authority's use-cases for the client protocol: Certify, CLCs, online publishing, use
 * licences and templates. The cluster key stays inside; every signature is verified with a key
 * this cluster trusts, never one taken from the document being checked.
 */
export class LicensingService {
  readonly #key: ClusterKey;

  constructor(
    key: ClusterKey,
    private readonly state: () => IssuingState,
    private readonly store: Store,
    private readonly clock: Clock,
  ) {
    this.#key = key;
  }

  // ---------------------------------------------------------------- Certify

  async certify(caller: Caller, request: { machineChain: string[]; persistent: boolean }): Promise<{ chain: string[] }> {
    const s = this.state();
    if (s.cluster.kind !== 'root') fail('InvalidOperation', 'this licensing-only cluster does not issue rights account certificates');
    const email = caller.principal.email;
    if (!email) fail('AdEntrySearchFailed', `the account ${caller.principal.name} has no e-mail address`);
    if (!isValidEmail(email)) fail('VerifyEmailAddressFailed', `the e-mail address of ${caller.principal.name} is not valid`);
    const spc = this.#verifyMachineChain(request.machineChain, s.policies);
    const userKey = await this.#userKeyPair(caller.principal.id);
    const rac = await this.#issueRac(s, { id: caller.principal.id, email }, userKey, {
      temporary: !request.persistent,
      machine: {
        objectXml: spc.objectXml,
        enablingBits: userKey.sealPrivateKeyTo(spc.publicKey, 'rac-private-key'),
        securityLevels: { platform: spc.platform, manufacturer: spc.manufacturer, repository: spc.repositoryVersion },
      },
    });
    return { chain: [rac, ...s.chain] };
  }

  /**
   * Precertify: the public-key certificate of another user (a RAC without FEDERATIONPRINCIPALS), so
   * a server can license content for someone who is not calling. UserName and Id must agree.
   */
  async precertify(_caller: Caller, req: { userName?: string; id?: string }): Promise<{ certificate: string }> {
    const s = this.state();
    if (s.cluster.kind !== 'root') fail('InvalidOperation', 'this licensing-only cluster does not issue rights account certificates');
    const byName = req.userName ? await this.store.principals.findUserByEmail(req.userName) : undefined;
    const byId = req.id ? await this.store.principals.find(req.id.replace(/[{}]/g, '')) : undefined;
    if (req.userName && !byName) fail('AdEntrySearchFailed', `no user has the e-mail address ${req.userName}`);
    if (req.id && (!byId || byId.kind !== 'user')) fail('AdEntrySearchFailed', `no user has the id ${req.id}`);
    if (byName && byId && byName.id !== byId.id) fail('UnauthorizedAccess', 'UserName and Identification name different users');
    const user = (byName ?? byId)!;
    if (!user.email || !isValidEmail(user.email)) fail('VerifyEmailAddressFailed', `the account ${user.name} has no valid e-mail address`);
    const key = await this.#userKeyPair(user.id);
    const rac = await this.#issueRac(s, { id: user.id, email: user.email }, key, { temporary: false });
    return { certificate: rac };
  }

  /** Builds, signs and records a RAC for a user; with `machine`, its private key travels sealed to that machine. */
  async #issueRac(
    s: IssuingState,
    user: { id: string; email: string },
    key: RsaKeyPair,
    opts: { temporary: boolean; machine?: Parameters<typeof buildRac>[0]['machine'] },
  ): Promise<string> {
    const now = this.clock.now();
    const validUntil = opts.temporary ? new Date(now.getTime() + s.validity.temporaryRacMinutes * MINUTE_MS) : addYears(now, s.validity.racYears);
    const descriptorGuid = newBracedGuid();
    const rac = signXrml(
      buildRac({
        descriptorGuid,
        issuedTime: now,
        validFrom: new Date(now.getTime() - s.validity.backdateMinutes * MINUTE_MS),
        validUntil,
        issuer: issuerFromCertificate(s.slc),
        activationUrl: `${s.cluster.url}/certification`,
        identity: { idType: 'Federation', id: `{${user.id}}`, email: user.email },
        publicKey: key.publicKey,
        credentialType: opts.temporary ? 'Temporary' : 'Persistent',
        credentialCreationTime: now,
        ...(opts.machine ? { machine: opts.machine } : {}),
      }),
      this.#key,
    );
    await this.#record('RAC', user.email, descriptorGuid, rac, now, validUntil);
    return rac;
  }

  #verifyMachineChain(chain: string[], p: Policies) {
    const bad = (why: string): never => fail('VerifyMachineCertificateChainFailed', `the machine certificate chain is not acceptable: ${why}`);
    let spc: ReturnType<typeof readSpc>;
    try {
      const leaf = parseXrml(chain[0]!);
      const claimed = claimedIssuerKey(leaf, 'machine certificate', 'VerifyMachineCertificateChainFailed');
      if (chain.length === 1) {
        const self = readSpc(leaf).publicKey;
        if (!p.spcTrust.allowSelfIssued) bad('self-issued machine certificates are not accepted here');
        if (!publicKeysEqual(claimed, self)) bad('a single machine certificate must be issued by its own key');
        spc = readSpc(verifyXrmlSignature(leaf, self));
      } else {
        const trusted = p.spcTrust.caKeysPem.map((pem) => createPublicKey(pem));
        verifyChain(chain, { trustedRootKeys: trusted, now: this.clock.now() });
        spc = readSpc(parseXrml(chain[0]!));
      }
    } catch (e) {
      if (isRmsError(e, 'VerifyMachineCertificateChainFailed')) throw e;
      return bad(e instanceof RmsError ? e.message : 'unreadable');
    }
    if (p.lockboxMinVersion) {
      const have = parseVersion(spc.repositoryVersion);
      const need = parseVersion(p.lockboxMinVersion)!;
      if (!have || compareVersions(have, need) < 0) {
        fail('BlackBoxIsInvalid', `the client's lockbox version ${spc.repositoryVersion} is below ${p.lockboxMinVersion}; activate the client again`);
      }
    }
    return { publicKey: spc.publicKey, objectXml: spc.principalXml, platform: spc.platform, manufacturer: spc.manufacturer, repositoryVersion: spc.repositoryVersion };
  }

  /** A user's RAC key pair is kept sealed to the cluster key, so every RAC of a user carries the same key. */
  async #userKeyPair(principalId: string): Promise<RsaKeyPair> {
    const existing = await this.store.userKeys.find(principalId);
    if (existing) return this.#key.unsealKeyPair(Buffer.from(existing.wrappedPrivateKey, 'base64'), 'user-key-at-rest');
    const pair = RsaKeyPair.generate(2048);
    try {
      await this.store.userKeys.insert({
        principalId,
        publicKeyPem: pair.publicKeyPem,
        wrappedPrivateKey: pair.sealPrivateKeyTo(this.#key.publicKey, 'user-key-at-rest').toString('base64'),
        createdAt: this.clock.now(),
      });
      return pair;
    } catch (e) {
      // Another member created it at the same moment: use theirs, so both RACs match.
      if (!isRmsError(e, 'AlreadyExists')) throw e;
      const row = await this.store.userKeys.find(principalId);
      return this.#key.unsealKeyPair(Buffer.from(row!.wrappedPrivateKey, 'base64'), 'user-key-at-rest');
    }
  }

  // ---------------------------------------------------------------- RAC checks

  /** Signature with a trusted issuer key, then time, then exclusion (PROTOCOL.md §3.3 order). */
  #verifyRac(licenseeCerts: string[], s: IssuingState): VerifiedRac {
    let doc: XrmlDocument;
    try {
      doc = parseXrml(licenseeCerts[0]!);
    } catch (e) {
      return fail('UnexpectedPersonaCert', `the rights account certificate cannot be read: ${(e as Error).message}`);
    }
    const claimed = claimedIssuerKey(doc, 'rights account certificate', 'UnexpectedPersonaCert');
    const trusted = s.racIssuerKeys.find((k) => publicKeysEqual(k, claimed));
    if (!trusted) fail('UntrustedPersonaCert', 'the rights account certificate was not issued by a cluster this server trusts');
    let verified: XrmlDocument;
    try {
      verified = verifyXrmlSignature(doc, trusted);
    } catch {
      return fail('InvalidPersonaCertSignature', 'the signature of the rights account certificate does not verify');
    }
    let info: ReturnType<typeof readRac>;
    try {
      info = readRac(verified);
    } catch (e) {
      return fail('UnexpectedPersonaCert', `the rights account certificate is not well formed: ${(e as Error).message}`);
    }
    const now = this.clock.now();
    if (now < info.validFrom || now >= info.validUntil) fail('InvalidPersonaCertTime', 'the rights account certificate is expired or not yet valid');
    if (isExcluded(s.policies, info.identity.email, info.publicKey)) fail('DrmacIsExcluded', `${info.identity.email} is excluded by policy`);
    return { doc: verified, info };
  }

  // ---------------------------------------------------------------- CLC

  async getClientLicensorCert(_caller: Caller, personaChains: string[][]): Promise<{ chain: string[] }[]> {
    const s = this.state();
    const out: { chain: string[] }[] = [];
    for (const persona of personaChains) {
      const rac = this.#verifyRac(persona, s);
      const now = this.clock.now();
      const clcKey = RsaKeyPair.generate(2048);
      const descriptorGuid = newBracedGuid();
      const unsigned = buildClc({
        descriptorGuid,
        issuedTime: now,
        issuer: issuerFromCertificate(s.slc),
        licensingUrl: `${s.cluster.url}/licensing`,
        identity: rac.info.identity,
        publicKey: clcKey.publicKey,
        issueRange: { from: rac.info.validFrom, until: rac.info.validUntil },
        enablingBits: clcKey.sealPrivateKeyTo(rac.info.publicKey, 'clc-private-key'),
      });
      const clc = signXrml(unsigned, this.#key);
      await this.#record('CLC', rac.info.identity.email, descriptorGuid, clc, now, rac.info.validUntil);
      out.push({ chain: [clc, ...s.chain] });
    }
    return out;
  }

  // ---------------------------------------------------------------- online publishing

  async acquireIssuanceLicense(caller: Caller, unsignedLicenses: string[]): Promise<{ chain: string[] }[]> {
    const s = this.state();
    const out: { chain: string[] }[] = [];
    for (const xml of unsignedLicenses) {
      let pl: ReturnType<typeof readPublishingLicense>;
      try {
        pl = readPublishingLicense(parseXrml(xml, { allowUnsigned: true }));
      } catch (e) {
        return fail('UnspecifiedError', `the unsigned issuance licence is malformed: ${(e as Error).message}`);
      }
      if (!this.#isOwnServer(pl.server, s)) {
        fail('UnsignedIssuanceLicenseNoMatchingIssuedPrincipal', 'the issuance licence is addressed to another server');
      }
      const policy = await this.#openPolicy(pl.enablingBits, pl.encryptedRightsData);
      if (policy.ownerEmail.toLowerCase() !== caller.principal.email.toLowerCase()) {
        fail('Argument', 'the owner named in the rights data must be the publisher');
      }
      if (policy.templateGuid) {
        const t = await this.store.templates.find(s.cluster.id, policy.templateGuid);
        if (!t || t.status !== 'published') fail('InvalidOfficialRightsTemplate', `template ${policy.templateGuid} is not an official template of this cluster`);
      }
      const now = this.clock.now();
      const rebuilt = withServerSignatureFields(xml, { issuedTime: now, issuer: issuerFromCertificate(s.slc), licensingUrl: `${s.cluster.url}/licensing` });
      const signed = signXrml(rebuilt, this.#key);
      await this.#record('PL', caller.principal.email, pl.contentId, signed, now, pl.validity?.until ?? addYears(now, DEFAULT_ISSUED_VALIDITY_YEARS));
      out.push({ chain: [signed, ...s.chain] });
    }
    return out;
  }

  #isOwnServer(server: { serverGuid: string; publicKey: KeyObject }, s: IssuingState): boolean {
    return server.serverGuid.toLowerCase() === s.slc.principal.id.toLowerCase() && publicKeysEqual(server.publicKey, s.slc.principal.publicKey);
  }

  async #openPolicy(enablingBits: Buffer, encryptedRightsData: Buffer): Promise<RightsPolicy & { contentKey: ContentKey }> {
    let contentKey: ContentKey;
    try {
      contentKey = this.#key.unsealContentKey(enablingBits);
    } catch {
      return fail('EnablingBitsHashDoesNotMatch', 'the content key in the issuance licence cannot be opened by this server');
    }
    let erd: Buffer;
    try {
      erd = contentKey.decrypt(encryptedRightsData, ERD_AAD);
    } catch {
      return fail('EnablingBitsHashDoesNotMatch', 'the rights data does not match the content key');
    }
    return { ...readRightsData(erd.toString('utf8')), contentKey };
  }

  // ---------------------------------------------------------------- use licences

  async acquireLicense(caller: Caller, items: { licenseeCerts: string[]; issuanceLicense: string[] }[]): Promise<({ chain: string[] } | { error: unknown })[]> {
    const out: ({ chain: string[] } | { error: unknown })[] = [];
    for (const item of items) {
      try {
        out.push(await this.#oneLicense(caller, item));
      } catch (error) {
        out.push({ error });
      }
    }
    return out;
  }

  async #oneLicense(_caller: Caller, item: { licenseeCerts: string[]; issuanceLicense: string[] }): Promise<{ chain: string[] }> {
    const s = this.state();
    const rac = this.#verifyRac(item.licenseeCerts, s);
    const pl = this.#verifyPublishingLicense(item.issuanceLicense, s);
    const now = this.clock.now();
    if (pl.validity && (now < pl.validity.from || now >= pl.validity.until)) {
      fail('IssuanceLicenseIsNotWithinValidTimeRange', 'the issuance licence is outside its validity period');
    }
    if (!this.#isOwnServer(pl.server, s)) fail('RightsLabelNoMatchingIssuedPrincipal', 'the issuance licence was published for another cluster');
    const opened = await this.#openPolicy(pl.enablingBits, pl.encryptedRightsData);
    const policy = await this.#effectivePolicy(opened, s);
    const subject = await this.#subject(rac.info.identity.email, s.policies);
    const decision = evaluateRights(policy, subject, now);
    if (decision.rights.length === 0) fail('NoRightsForRequestedPrincipal', `${rac.info.identity.email} has no rights in this issuance licence`);

    const racKey = rac.info.publicKey;
    let validUntil = addYears(now, s.validity.useLicenseYears);
    if (policy.validity && policy.validity.until < validUntil) validUntil = policy.validity.until;
    const descriptorGuid = newBracedGuid();
    const unsigned = buildUseLicense({
      descriptorGuid,
      issuedTime: now,
      validFrom: now,
      validUntil,
      issuer: issuerFromCertificate(s.slc),
      licenseePrincipalXml: rac.info.principalXml,
      contentId: pl.contentId,
      owner: pl.owner,
      rights: decision.rights.map((r) => ({
        right: r.right,
        enablingBits: opened.contentKey.sealTo(racKey),
        ...(r.range ? { range: r.range } : {}),
        ...(r.intervalDays !== undefined ? { intervalDays: r.intervalDays } : {}),
      })),
      ...(pl.referral ? { referral: pl.referral } : {}),
      applicationExclusions: s.policies.excludedApplications,
    });
    const ul = signXrml(unsigned, this.#key);
    await this.#record('UL', rac.info.identity.email, descriptorGuid, ul, now, validUntil);
    return { chain: [ul, ...s.chain] };
  }

  /**
   * The PL chain: online, the PL is signed by our SLC; offline, by a CLC that our SLC issued and
   * whose ISSUE right covers the PL's issue time. Any failure is InvalidRightsLabelSignature.
   */
  #verifyPublishingLicense(chain: string[], s: IssuingState): ReturnType<typeof readPublishingLicense> {
    const bad = (why: string): never => fail('InvalidRightsLabelSignature', `the issuance licence does not verify: ${why}`);
    try {
      const plDoc = parseXrml(chain[0]!);
      const plIssuer = claimedIssuerKey(plDoc, 'issuance licence', 'InvalidRightsLabelSignature');
      const slcKey = s.slc.principal.publicKey;
      if (publicKeysEqual(plIssuer, slcKey)) return readPublishingLicense(verifyXrmlSignature(plDoc, slcKey));
      if (chain.length < 2) return bad('an offline issuance licence must be followed by its client licensor certificate');
      const clcDoc = parseXrml(chain[1]!);
      if (!publicKeysEqual(claimedIssuerKey(clcDoc, 'client licensor certificate', 'InvalidRightsLabelSignature'), slcKey)) {
        return bad('its client licensor certificate was not issued by this cluster');
      }
      const clc = readClc(verifyXrmlSignature(clcDoc, slcKey));
      if (!publicKeysEqual(clc.publicKey, plIssuer)) return bad('it was not signed by the key its client licensor certificate certifies');
      const pl = readPublishingLicense(verifyXrmlSignature(plDoc, clc.publicKey));
      if (pl.issuedTime < clc.issueRange.from || pl.issuedTime >= clc.issueRange.until) return bad('it was issued outside its client licensor certificate’s range');
      return pl;
    } catch (e) {
      if (isRmsError(e, 'InvalidRightsLabelSignature')) throw e;
      return bad(e instanceof Error ? e.message : 'unreadable');
    }
  }

  /** A PL made from one of our templates is governed by the server's copy of the template. */
  async #effectivePolicy(p: RightsPolicy, s: IssuingState): Promise<RightsPolicy> {
    if (!p.templateGuid) return p;
    const t = await this.store.templates.find(s.cluster.id, p.templateGuid);
    if (!t) return p;
    const tpl = readTemplate(parseXrml(t.xml));
    return { ...p, grants: tpl.grants, ...(tpl.validity ? { validity: tpl.validity } : {}) };
  }

  async #subject(email: string, p: Policies) {
    const user = await this.store.principals.findUserByEmail(email);
    const groups = user && !user.disabled ? await this.store.principals.groupsOf(user.id) : [];
    const superUser = p.superUsers.enabled && p.superUsers.group !== null && groups.some((g) => g.name.toLowerCase() === p.superUsers.group!.toLowerCase());
    return { email, groupEmails: groups.map((g) => g.email).filter((e): e is string => !!e), superUser };
  }

  // ---------------------------------------------------------------- templates

  async templateInformation(_caller: Caller): Promise<{ serverPublicKey: string; templates: { guid: string; hash: string }[] }> {
    const s = this.state();
    const rows = await this.store.templates.list(s.cluster.id, 'published');
    return { serverPublicKey: pkcs1PublicKeyBase64(s.slc.principal.publicKey), templates: rows.map((r) => ({ guid: r.id, hash: r.hash })) };
  }

  async templates(_caller: Caller, guids: string[]): Promise<{ guid: string; hash: string; template: string | null }[]> {
    const s = this.state();
    return Promise.all(
      guids.map(async (guid) => {
        const t = await this.store.templates.find(s.cluster.id, guid);
        return t && t.status === 'published' ? { guid, hash: t.hash, template: t.xml } : { guid, hash: '', template: null };
      }),
    );
  }

  // ---------------------------------------------------------------- sub-enrollment

  /**
   * Signs the SLC of a licensing-only cluster (root clusters only). It may issue CLCs, PLs and ULs,
   * never RACs or further SLCs; its revocation policy is the root's; it ends no later than the
   * root's own SLC. Every sub-enrollment is audited.
   */
  async subEnroll(caller: Caller, req: { publicKeyPkcs1: Buffer; guid: string; sku: string; version: string; name: string; url: string }): Promise<{ chain: string[] }> {
    const s = this.state();
    if (s.cluster.kind !== 'root') fail('InvalidOperation', 'only the root certification cluster signs licensing-only clusters');
    const guid = normalizeGuid(req.guid);
    if (!guid) fail('Argument', `"${req.guid}" is not a GUID`);
    let publicKey: KeyObject;
    try {
      publicKey = publicKeyFromPkcs1Base64(req.publicKeyPkcs1.toString('base64'));
    } catch {
      return fail('Argument', 'aPublicKeyBytes is not an RSA public key (PKCS#1)');
    }
    const bits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048 || bits > 8192) fail('UnsupportedCryptographicSet', `the requesting key is RSA-${bits}; RSA-2048 to RSA-8192 is required`);
    if (publicKeysEqual(publicKey, s.slc.principal.publicKey)) fail('Argument', 'the requesting key is this cluster’s own key');
    let url: string;
    try {
      url = clusterBaseUrl(req.url);
    } catch {
      return fail('Argument', `URL "${req.url}" is not an http(s) URL`);
    }
    if (!parseVersion(req.version)) fail('Argument', `Version "${req.version}" is not a.b.c.d`);
    if (req.name.length > 255 || req.sku.length > 64) fail('Argument', 'Name or SKU is too long');
    const now = this.clock.now();
    const rootUntil = s.slc.validUntil ?? addYears(now, SLC_VALIDITY_YEARS);
    const oneYear = addYears(now, SLC_VALIDITY_YEARS);
    const validUntil = oneYear < rootUntil ? oneYear : rootUntil;
    const revocation = await this.store.settings.get(SETTINGS.slcRevocation);
    const descriptorGuid = newBracedGuid();
    const unsigned = buildSlc({
      descriptorGuid,
      issuedTime: now,
      validFrom: now,
      validUntil,
      issuer: { ...issuerFromCertificate(s.slc), cpsUrl: `${s.cluster.url}/certification` },
      subject: { serverGuid: guid, name: req.name, url, publicKey, version: req.version, sku: req.sku },
      issueScope: ['CLC', 'PL', 'UL'],
      revocation: slcRevocationFromSetting(revocation),
    });
    const slc = signXrml(unsigned, this.#key);
    await this.store.transaction(async (tx) => {
      await tx.issued.record({ id: newId(), clusterId: s.cluster.id, kind: 'SubSLC', subject: `${req.name} ${guid}`, documentGuid: descriptorGuid, issuedAt: now, validUntil, documentSha256: sha256(slc) });
      await tx.audit.append({
        at: now,
        actor: caller.principal.name,
        action: 'slc.subenroll',
        target: guid,
        after: { name: req.name, url, sku: req.sku, version: req.version, validUntil: validUntil.toISOString(), keyBits: bits },
        correlationId: caller.requestId,
      });
    });
    return { chain: [slc, ...s.chain] };
  }

  // ---------------------------------------------------------------- bookkeeping

  async #record(kind: 'RAC' | 'CLC' | 'PL' | 'UL', subject: string, documentGuid: string, xml: string, issuedAt: Date, validUntil: Date): Promise<void> {
    await this.store.issued.record({
      id: newId(),
      clusterId: this.state().cluster.id,
      kind,
      subject,
      documentGuid,
      issuedAt,
      validUntil,
      documentSha256: sha256(xml),
    });
  }
}

export type { TimeRange };
