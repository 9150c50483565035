import { systemClock, type Clock } from '@openrms/domain';
import { openStore, type Store } from '@openrms/store';
import type { AddUserInput } from './add-user-input';
import { addGroupIn, addUserIn, changeMembershipIn, type MembershipChange } from './admin-queries';
import { listGroupsIn, listUsersIn, removeGroupIn, removeUserIn, setUserDisabledIn, setUserPasswordIn, showGroupIn } from './manage-principals';

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


/** `rmsctl users add`: addUserIn on the cluster's database, audited as the actor (rmsctl unless --actor). */
export async function addUser(databaseUrl: string, input: AddUserInput, clock: Clock = systemClock, actor = 'rmsctl') {
  return withProvisionedStore(databaseUrl, (store) => addUserIn(store, actor, input, clock));
}

/** `rmsctl groups add`. */
export async function addGroup(databaseUrl: string, input: { name: string; email?: string | undefined }, clock: Clock = systemClock, actor = 'rmsctl') {
  return withProvisionedStore(databaseUrl, (store) => addGroupIn(store, actor, input, clock));
}

/** `rmsctl users list`. */
export function listUsers(databaseUrl: string) {
  return withProvisionedStore(databaseUrl, (store) => listUsersIn(store));
}

/** `rmsctl users remove`. */
export function removeUser(databaseUrl: string, actor: string, name: string, clock: Clock = systemClock) {
  return withProvisionedStore(databaseUrl, (store) => removeUserIn(store, actor, name, clock));
}

/** `rmsctl users disable` / `enable`. */
export function setUserDisabled(databaseUrl: string, actor: string, name: string, disabled: boolean, clock: Clock = systemClock) {
  return withProvisionedStore(databaseUrl, (store) => setUserDisabledIn(store, actor, name, disabled, clock));
}

/** `rmsctl users passwd`. */
export function setUserPassword(databaseUrl: string, actor: string, name: string, password: string, clock: Clock = systemClock) {
  return withProvisionedStore(databaseUrl, (store) => setUserPasswordIn(store, actor, name, password, clock));
}

/** `rmsctl groups list`. */
export function listGroups(databaseUrl: string) {
  return withProvisionedStore(databaseUrl, (store) => listGroupsIn(store));
}

/** `rmsctl groups show`. */
export function showGroup(databaseUrl: string, name: string) {
  return withProvisionedStore(databaseUrl, (store) => showGroupIn(store, name));
}

/** `rmsctl groups add-member` / `remove-member`. */
export function changeMembership(databaseUrl: string, actor: string, change: MembershipChange, clock: Clock = systemClock) {
  return withProvisionedStore(databaseUrl, (store) => changeMembershipIn(store, actor, change, clock));
}

/** `rmsctl groups remove`. */
export function removeGroup(databaseUrl: string, actor: string, name: string, clock: Clock = systemClock) {
  return withProvisionedStore(databaseUrl, (store) => removeGroupIn(store, actor, name, clock));
}

/** The newest request-log entries, oldest first. */
export async function tailRequestLog(databaseUrl: string, n: number) {
  return withProvisionedStore(databaseUrl, (store) => store.requestLog.tail(n));
}
