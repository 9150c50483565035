import type { KeyObject } from 'node:crypto';
import { DEFAULT_ISSUED_VALIDITY_YEARS } from '@openrms/domain';
import type { CertificateInfo } from '@openrms/xrml';
import type { Policies } from './policies';
import type { PublishingDomain } from './publishing-domains';
import type { RevocationSet } from './revocations';

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
  /** Other clusters whose PLs this cluster licenses ("trusted publishing domains"); absent = none. */
  publishingDomains?: readonly PublishingDomain[];
  /** Set once by `rmsctl cluster decommission`: nothing is issued any more, AcquireContentKey answers. */
  decommissioned?: boolean;
  /** What an administrator revoked (revocations.ts), re-read at every refresh; absent = nothing. */
  revocations?: RevocationSet;
}
