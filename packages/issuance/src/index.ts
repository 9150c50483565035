export * from './cluster-runtime';
export * from './provision-root';
export * from './principal-admin';
export * from './show-slc';
export * from './service-locations';
export { hashPassword, verifyPassword } from './passwords';
export { SETTINGS } from './settings';
