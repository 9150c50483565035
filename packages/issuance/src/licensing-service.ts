import type { Clock, TimeRange } from '@openrms/domain';
import type { ClusterKey } from '@openrms/keys';
import type { Store } from '@openrms/store';
import { acquireContentKey, type ContentKeyRelease } from './acquire-content-key';
import { acquireIssuanceLicense } from './acquire-issuance-license';
import { acquireLicense, type LicenseRequest } from './acquire-license';
import { acquirePreLicense, type PreLicenseRequest, type PreLicenseResult } from './acquire-pre-license';
import { certify } from './certify';
import { editIssuanceLicense, type EditIssuanceLicenseRequest } from './edit-issuance-license';
import { getClientLicensorCert } from './get-client-licensor-cert';
import { type Caller, type IssuingContext, notDecommissioned } from './issuing-context';
import { isPrincipalMemberOf, type IsPrincipalMemberOfInput } from './group-expansion';
import type { Identities } from './identities';
import type { IssuingState } from './issuing-state';
import { precertify } from './precertify';
import { subEnroll, type SubEnrollRequest } from './sub-enroll';
import { acquireTemplateInformation, acquireTemplates } from './template-distribution';

export { DEFAULT_VALIDITY, type IssuingState, type ValidityPolicy } from './issuing-state';
export type { Caller, IssuingContext } from './issuing-context';

/**
 * The authority's use-cases for the client protocol: Certify, CLCs, online publishing, use
 * licences and templates, one per file; this facade binds them to one cluster member. The cluster
 * key stays inside; every signature is verified with a key this cluster trusts, never one taken
 * from the document being checked.
 */
export class LicensingService {
  readonly #ctx: IssuingContext;

  constructor(
    key: ClusterKey,
    state: () => IssuingState,
    store: Store,
    clock: Clock,
    identities: () => Identities,
    extras: Pick<IssuingContext, 'peerMembership' | 'peers' | 'onPeerError' | 'verifiedDocuments' | 'issuedRecorder' | 'userKeys'> = {},
  ) {
    this.#ctx = { key, state, store, clock, identities, ...extras };
  }

  /** On a decommissioned cluster every certificate and licence operation faults (PROTOCOL.md §6.7). */
  async #live<T>(op: () => Promise<T>): Promise<T> {
    notDecommissioned(this.#ctx.state());
    return op();
  }

  /** [MS-RMSI] the raw content key of one of our PLs; only once the cluster is decommissioned. */
  acquireContentKey(caller: Caller, plChain: string[]): Promise<ContentKeyRelease> {
    return acquireContentKey(this.#ctx, caller, plChain);
  }

  /** [MS-RMPRS] group expansion: is this person in one of these groups (here or at a peer)? */
  isPrincipalMemberOf(caller: Caller, req: IsPrincipalMemberOfInput): Promise<boolean> {
    return isPrincipalMemberOf(this.#ctx, caller, req);
  }

  certify(caller: Caller, request: { machineChain: string[]; persistent: boolean }): Promise<{ chain: string[] }> {
    return this.#live(() => certify(this.#ctx, caller, request));
  }

  precertify(caller: Caller, req: { userName?: string; id?: string }): Promise<{ certificate: string }> {
    return this.#live(() => precertify(this.#ctx, caller, req));
  }

  getClientLicensorCert(caller: Caller, personaChains: string[][]): Promise<{ chain: string[] }[]> {
    return this.#live(() => getClientLicensorCert(this.#ctx, caller, personaChains));
  }

  acquireIssuanceLicense(caller: Caller, unsignedLicenses: string[]): Promise<{ chain: string[] }[]> {
    return this.#live(() => acquireIssuanceLicense(this.#ctx, caller, unsignedLicenses));
  }

  /** [MS-RMSI] republishing: a new PL with new rights for the signed PL's content key (owner or super user only). */
  editIssuanceLicense(caller: Caller, req: EditIssuanceLicenseRequest): Promise<{ chain: string[] }> {
    return this.#live(() => editIssuanceLicense(this.#ctx, caller, req));
  }

  acquireLicense(caller: Caller, items: LicenseRequest[]): Promise<({ chain: string[] } | { error: unknown })[]> {
    return this.#live(() => acquireLicense(this.#ctx, caller, items));
  }

  /** [MS-RMSI] use licences for named people, bound to their RAC keys, before they ask. */
  acquirePreLicense(caller: Caller, items: PreLicenseRequest[]): Promise<PreLicenseResult[]> {
    return this.#live(() => acquirePreLicense(this.#ctx, caller, items));
  }

  templateInformation(caller: Caller): Promise<{ serverPublicKey: string; templates: { guid: string; hash: string }[] }> {
    return this.#live(() => acquireTemplateInformation(this.#ctx, caller));
  }

  templates(caller: Caller, guids: string[]): Promise<{ guid: string; hash: string; template: string | null }[]> {
    return this.#live(() => acquireTemplates(this.#ctx, caller, guids));
  }

  subEnroll(caller: Caller, req: SubEnrollRequest): Promise<{ chain: string[] }> {
    return this.#live(() => subEnroll(this.#ctx, caller, req));
  }
}

export type { TimeRange };
