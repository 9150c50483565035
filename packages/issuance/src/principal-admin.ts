import { BUILTIN_GROUPS, newId, RmsError, systemClock, type Clock } from '@openrms/domain';
import { openStore, type Store } from '@openrms/store';
import { hashPassword } from './passwords';

// Deliberately plain: local part and a dotted domain, no spaces or angle brackets (RFC 822 addr-spec subset).
const EMAIL_RE = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const NAME_RE = /^[^\s:\\/<>"]{1,128}$|^[^\s:\\/<>"][^:\\/<>"]{0,126}[^\s:\\/<>"]$/;

export function isValidEmail(s: string): boolean {
  return s.length <= 254 && EMAIL_RE.test(s);
}

export function checkPrincipalName(name: string, what: string): void {
  if (!NAME_RE.test(name)) {
    throw new RmsError('InvalidInput', `"${name}" is not a valid ${what} name (1–128 characters, no : \\ / < > ")`);
  }
}

const IMPLICIT = new Set<string>([BUILTIN_GROUPS.authenticatedUsers, BUILTIN_GROUPS.everyone]);

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

export interface AddUserInput {
  name: string;
  email: string;
  password: string;
  groups: string[];
  displayName?: string | undefined;
}

export async function addUser(databaseUrl: string, input: AddUserInput, clock: Clock = systemClock) {
  checkPrincipalName(input.name, 'user');
  if (!isValidEmail(input.email)) throw new RmsError('InvalidInput', `"${input.email}" is not a valid e-mail address`);
  const passwordHash = await hashPassword(input.password);
  return withProvisionedStore(databaseUrl, (store) =>
    store.transaction(async (tx) => {
      const groups = [];
      for (const g of input.groups) {
        if (IMPLICIT.has(g)) throw new RmsError('InvalidInput', `"${g}" is implicit: every user is in it`);
        const row = await tx.principals.findByName(g);
        if (!row || row.kind !== 'group') throw new RmsError('NotFound', `group "${g}" does not exist; add it with "rmsctl groups add"`);
        groups.push(row);
      }
      // The e-mail is the identity certificates carry: two users must not share one.
      if (await tx.principals.findUserByEmail(input.email)) throw new RmsError('AlreadyExists', `another user already has the e-mail address ${input.email}`);
      const id = newId();
      const now = clock.now();
      await tx.principals.createUser({ id, name: input.name, email: input.email, displayName: input.displayName ?? null, passwordHash, builtin: false, createdAt: now });
      for (const g of groups) await tx.principals.addMember(g.id, id);
      await tx.audit.append({ at: now, actor: 'rmsctl', action: 'user.add', target: input.name, after: { email: input.email, groups: groups.map((g) => g.name) } });
      return { id, name: input.name, email: input.email, groups: groups.map((g) => g.name) };
    }),
  );
}

export async function addGroup(databaseUrl: string, input: { name: string; email?: string | undefined }, clock: Clock = systemClock) {
  checkPrincipalName(input.name, 'group');
  if (input.email !== undefined && !isValidEmail(input.email)) throw new RmsError('InvalidInput', `"${input.email}" is not a valid e-mail address`);
  return withProvisionedStore(databaseUrl, (store) =>
    store.transaction(async (tx) => {
      const id = newId();
      const now = clock.now();
      await tx.principals.createGroup({ id, name: input.name, email: input.email ?? null, builtin: false, createdAt: now });
      await tx.audit.append({ at: now, actor: 'rmsctl', action: 'group.add', target: input.name, after: { email: input.email ?? null } });
      return { id, name: input.name };
    }),
  );
}

/** The newest request-log entries, oldest first. */
export async function tailRequestLog(databaseUrl: string, n: number) {
  return withProvisionedStore(databaseUrl, (store) => store.requestLog.tail(n));
}
