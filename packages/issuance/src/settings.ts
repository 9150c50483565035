/** Keys of the cluster-wide settings table that issuance reads and writes. */
export const SETTINGS = {
  /** PEM of the root cluster's public key: the anchor every SLC chain of this cluster must end at. */
  trustedRootKeyPem: 'trust.rootKeyPem',
  /** For a licensing-only cluster, the root cluster's _wmcs base URL (certification is forwarded there). */
  rootClusterUrl: 'root.url',
  /** SLC revocation policy written into the SLC at provisioning. */
  slcRevocation: 'slc.revocation',
} as const;
