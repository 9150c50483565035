/** What the Server service answers; shared by the cluster runtime and the SOAP adapter. */
export interface ServiceLocationAnswer {
  type: string;
  url: string | null;
}

export type ServerInfoAnswer =
  | { type: 'VersionInfo'; additionalInfo: string; version: string }
  | { type: 'ServerFeatureInfo'; additionalInfo: string; features: { name: string; value: string }[] }
  | { type: 'ServerLicensorCertificate'; additionalInfo: string; chain: string[] }
  | { type: 'ServiceLocations'; additionalInfo: string; locations: ServiceLocationAnswer[] };

export interface ServerInfoRequest {
  type: string;
  additionalInfo?: string;
}
