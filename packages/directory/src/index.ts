export {};
export * from './negotiate-acceptor';
export * from './ldap-directory';
