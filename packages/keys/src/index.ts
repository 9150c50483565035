export { ClusterKey, MIN_KEY_PASSWORD_LENGTH } from './cluster-key';
export type { Signer } from './cluster-key';
