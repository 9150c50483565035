import type { ClusterIdentity } from '@openrms/domain';

/** ServiceType values in the order the WSDL's enumeration lists them. */
export const SERVICE_TYPES = [
  'EnrollmentService',
  'LicensingService',
  'PublishingService',
  'CertificationService',
  'ActivationService',
  'PrecertificationService',
  'ServerService',
  'DrmRemoteDirectoryServices',
  'GroupExpansionService',
  'LicensingInternalService',
  'CertificationInternalService',
] as const;
export type ServiceType = (typeof SERVICE_TYPES)[number];

export function isServiceType(s: string): s is ServiceType {
  return (SERVICE_TYPES as readonly string[]).includes(s);
}

/** Types a server may ask for with FindServiceLocations (server-to-server). */
export const SERVER_TO_SERVER_TYPES: readonly ServiceType[] = [
  'LicensingService',
  'CertificationService',
  'DrmRemoteDirectoryServices',
  'GroupExpansionService',
  'LicensingInternalService',
  'CertificationInternalService',
];

/**
 * Where each service of this cluster lives. Certification points at the root cluster when this is a
 * licensing-only cluster; services we do not run (activation, .NET remoting directory services) have none.
 */
export function serviceLocation(cluster: ClusterIdentity, certificationBase: string, type: ServiceType): string | null {
  switch (type) {
    case 'CertificationService':
    case 'CertificationInternalService':
      return `${certificationBase}/certification`;
    case 'LicensingService':
    case 'LicensingInternalService':
    case 'PublishingService':
      return `${cluster.url}/licensing`;
    case 'PrecertificationService':
      return `${certificationBase}/certification/Precertification.asmx`;
    case 'ServerService':
      return `${cluster.url}/licensing/server.asmx`;
    case 'GroupExpansionService':
      return `${cluster.url}/groupexpansion/GroupExpansion.asmx`;
    default:
      return null;
  }
}
