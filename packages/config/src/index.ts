export * from './server-config';
export * from './embedded-credentials';
export * from './client-config';
export * from './metrics-config';
export * from './jobs-config';
export * from './command-line';
export * from './kerberos-environment';
