import { RmsError, isRmsError } from '@openrms/domain';

export type DbErrorKind = 'unique' | 'foreign-key' | 'too-long';

interface DriverError {
  code?: unknown;
  number?: unknown;
  originalError?: { number?: unknown; info?: { number?: unknown } };
}

/** Recognises constraint failures across better-sqlite3, node-postgres and tedious. */
export function classifyDbError(e: unknown): DbErrorKind | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const err = e as DriverError;
  const code = typeof err.code === 'string' ? err.code : undefined;
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505') return 'unique';
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || code === '23503') return 'foreign-key';
  if (code === '22001') return 'too-long';
  const n = err.number ?? err.originalError?.number ?? err.originalError?.info?.number;
  if (n === 2627 || n === 2601) return 'unique';
  if (n === 547) return 'foreign-key';
  if (n === 8152 || n === 2628) return 'too-long';
  return undefined;
}

export function isUniqueViolation(e: unknown): boolean {
  return classifyDbError(e) === 'unique';
}

export interface ErrorMessages {
  /** Message for a unique or primary-key violation. */
  exists?: string;
  /** Message for a foreign-key violation (a referenced row is missing, or a row is still referenced). */
  reference?: string;
}

/**
 * Turns driver constraint errors into RmsErrors with messages callers can show; others pass
 * through. The driver error is not kept as `cause`: some drivers' messages carry the bound
 * values (password hashes, wrapped keys), and RmsErrors travel to logs and API answers.
 */
export function translateDbError(e: unknown, messages: ErrorMessages): unknown {
  if (isRmsError(e)) return e;
  switch (classifyDbError(e)) {
    case 'unique':
      return new RmsError('AlreadyExists', messages.exists ?? 'a row with the same key already exists');
    case 'foreign-key':
      return new RmsError('NotFound', messages.reference ?? 'a referenced row does not exist');
    case 'too-long':
      return new RmsError('InvalidInput', 'a value is longer than its column allows');
    default:
      return e;
  }
}

/** Runs one repository operation, translating constraint errors. */
export async function guarded<T>(messages: ErrorMessages, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    throw translateDbError(e, messages);
  }
}
