export * from './rms-error';
export * from './clock';
export * from './version-data';
export * from './ids';
export * from './cluster';
export * from './access';
export * from './server-info';
export * from './rights';
