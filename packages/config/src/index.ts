export * from './server-config';
export * from './embedded-credentials';
