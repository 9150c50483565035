import type { Clock, TimeRange } from '@openrms/domain';
import type { ClusterKey } from '@openrms/keys';
import type { Store } from '@openrms/store';
import { acquireIssuanceLicense } from './acquire-issuance-license';
import { acquireLicense, type LicenseRequest } from './acquire-license';
import { acquirePreLicense, type PreLicenseRequest, type PreLicenseResult } from './acquire-pre-license';
import { certify } from './certify';
import { getClientLicensorCert } from './get-client-licensor-cert';
import type { Caller, IssuingContext } from './issuing-context';
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
    extras: Pick<IssuingContext, 'peerMembership' | 'peers' | 'onPeerError'> = {},
  ) {
    this.#ctx = { key, state, store, clock, identities, ...extras };
  }

  /** [MS-RMPRS] group expansion: is this person in one of these groups (here or at a peer)? */
  isPrincipalMemberOf(caller: Caller, req: IsPrincipalMemberOfInput): Promise<boolean> {
    return isPrincipalMemberOf(this.#ctx, caller, req);
  }

  certify(caller: Caller, request: { machineChain: string[]; persistent: boolean }): Promise<{ chain: string[] }> {
    return certify(this.#ctx, caller, request);
  }

  precertify(caller: Caller, req: { userName?: string; id?: string }): Promise<{ certificate: string }> {
    return precertify(this.#ctx, caller, req);
  }

  getClientLicensorCert(caller: Caller, personaChains: string[][]): Promise<{ chain: string[] }[]> {
    return getClientLicensorCert(this.#ctx, caller, personaChains);
  }

  acquireIssuanceLicense(caller: Caller, unsignedLicenses: string[]): Promise<{ chain: string[] }[]> {
    return acquireIssuanceLicense(this.#ctx, caller, unsignedLicenses);
  }

  acquireLicense(caller: Caller, items: LicenseRequest[]): Promise<({ chain: string[] } | { error: unknown })[]> {
    return acquireLicense(this.#ctx, caller, items);
  }

  /** [MS-RMSI] use licences for named people, bound to their RAC keys, before they ask. */
  acquirePreLicense(caller: Caller, items: PreLicenseRequest[]): Promise<PreLicenseResult[]> {
    return acquirePreLicense(this.#ctx, caller, items);
  }

  templateInformation(caller: Caller): Promise<{ serverPublicKey: string; templates: { guid: string; hash: string }[] }> {
    return acquireTemplateInformation(this.#ctx, caller);
  }

  templates(caller: Caller, guids: string[]): Promise<{ guid: string; hash: string; template: string | null }[]> {
    return acquireTemplates(this.#ctx, caller, guids);
  }

  subEnroll(caller: Caller, req: SubEnrollRequest): Promise<{ chain: string[] }> {
    return subEnroll(this.#ctx, caller, req);
  }
}

export type { TimeRange };
