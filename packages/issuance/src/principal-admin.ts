import { systemClock, type Clock } from '@openrms/domain';
import { openStore, type Store } from '@openrms/store';
import type { AddUserInput } from './add-user-input';
import { addGroupIn, addUserIn } from './admin-queries';

export type { AddUserInput } from './add-user-input';
export { checkPrincipalName, isValidEmail } from './principal-rules';

/** Opens the configuration database of a provisioned cluster for one administrative action. */
export async function withProvisionedStore<T>(databaseUrl: string, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(databaseUrl, { migrate: false });
  try {
    await store.clusters.get();
    return await fn(store);
  } finally {
    await store.close();
  }
}


/** `rmsctl users add`: addUserIn on the cluster's database, audited as rmsctl. */
export async function addUser(databaseUrl: string, input: AddUserInput, clock: Clock = systemClock) {
  return withProvisionedStore(databaseUrl, (store) => addUserIn(store, 'rmsctl', input, clock));
}

/** `rmsctl groups add`. */
export async function addGroup(databaseUrl: string, input: { name: string; email?: string | undefined }, clock: Clock = systemClock) {
  return withProvisionedStore(databaseUrl, (store) => addGroupIn(store, 'rmsctl', input, clock));
}

/** The newest request-log entries, oldest first. */
export async function tailRequestLog(databaseUrl: string, n: number) {
  return withProvisionedStore(databaseUrl, (store) => store.requestLog.tail(n));
}
