export {};
export * from './negotiate-acceptor';
