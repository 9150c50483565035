/**
 * The queues OpenRMS runs and what their jobs carry. One place, so the worker, the server's
 * dashboard and metrics, and `rmsctl queues` agree.
 */
export const QUEUES = {
  /** Renews the cluster's SLC when it enters its renewal window. */
  slcRenewal: 'slc-renewal',
  /** Marks expired certificates and licences, warns before the SLC ends, purges the request log. */
  expiry: 'certificate-expiry',
  /** Signs the cluster's revocation list again when it changed or is a day old (docs/adr/0015-revocation.md). */
  revocationList: 'revocation-list',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/** Every job names its cluster, so one Redis can serve several clusters (with distinct prefixes too). */
export interface SlcRenewalJob {
  clusterId: string;
}

export interface ExpiryJob {
  clusterId: string;
}

export interface RevocationListJob {
  clusterId: string;
}

/** Default key prefix in Redis; tests use a unique prefix each. */
export const DEFAULT_PREFIX = 'openrms';
