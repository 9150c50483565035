export * from './server-config';
export * from './embedded-credentials';
export * from './client-config';
