/** Keys of the cluster-wide settings table that issuance reads and writes. */
export const SETTINGS = {
  /** PEM of the root cluster's public key: the anchor every SLC chain of this cluster must end at. */
  trustedRootKeyPem: 'trust.rootKeyPem',
  /** For a licensing-only cluster, the root cluster's _wmcs base URL (certification is forwarded there). */
  rootClusterUrl: 'root.url',
  /** SLC revocation policy written into the SLC at provisioning. */
  slcRevocation: 'slc.revocation',
  /** PEM public keys of other SLCs whose RACs this cluster accepts (a licensing cluster: the root's). */
  trustedRacIssuersPem: 'trust.racIssuersPem',
  /**
   * Trusted user domains imported by `rmsctl trust user-domain add` (trusted-user-domains.ts):
   * `[{ name, publicKeyPem, fingerprint, serverGuid?, source, addedAt, addedBy }]`. Kept apart from
   * trustedRacIssuersPem, whose root key a licensing-only cluster must never lose.
   */
  trustedUserDomains: 'trust.userDomains',
  /** Overrides of DEFAULT_VALIDITY (RAC and use-licence lifetimes). */
  validity: 'validity',
  /**
   * For a licensing-only cluster: the root account it sub-enrolls with, sealed to the cluster
   * public key (purpose 'root-credentials'), so SLC renewal can call SubEnroll unattended.
   */
  rootCredentials: 'root.credentials',
  /** `{ at, validUntil }` of the last SLC renewal (ISO strings). */
  slcLastRenewal: 'slc.lastRenewal',
  /** `{ validUntil, thresholds }`: the expiry warnings already given for the SLC ending at validUntil. */
  slcWarned: 'slc.warned',
  /**
   * Trusted publishing domains (`rmsctl key import`): other clusters' SLC chains whose PLs this
   * cluster licenses; each names the `keys` row (purpose 'publishing-domain') holding the
   * imported key sealed to this cluster's key.
   */
  trustedPublishingDomains: 'trust.publishingDomains',
  /**
   * `{ sealed, createdAt }`: the secret the admin pages sign form tokens and flash notices with,
   * sealed to the cluster public key (purpose 'admin-form-secret'), one for every member.
   */
  adminFormSecret: 'admin.formSecret',
} as const;
