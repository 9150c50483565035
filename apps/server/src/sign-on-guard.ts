import type { Request } from 'express';
import { RmsError } from '@openrms/domain';
import { type ClusterRuntime, parseBasicAuthorization, type SignOnResult } from '@openrms/issuance';
import type { SignOnThrottle } from '@openrms/jobs';

/** Refused before any credential check: too many failed sign-ons from this user or address. */
export class SignOnThrottledError extends RmsError {
  constructor(
    readonly retryAfterSeconds: number,
    readonly scope: 'user' | 'address',
  ) {
    super('TooManyRequests', `too many failed sign-ons from this ${scope === 'user' ? 'account' : 'address'}; try again in ${retryAfterSeconds} s`);
  }
}

export interface SignOnGuard {
  /** Signs the request on (every scheme), counting failures; throws SignOnThrottledError when blocked. */
  signOn(req: Request): Promise<SignOnResult>;
}

/**
 * Sign-on with throttling, shared by the .asmx endpoints and every admin surface: failed attempts
 * are counted per account and per client address (in Redis for the whole cluster, in memory when
 * there is no Redis or it is down), and a blocked caller is refused before its password is checked.
 */
export function createSignOnGuard(runtime: ClusterRuntime, throttle: SignOnThrottle | undefined, onThrottled?: (scope: 'user' | 'address') => void): SignOnGuard {
  return {
    async signOn(req) {
      const authorization = req.get('authorization');
      if (!throttle || !authorization) return runtime.signOn(authorization);
      const address = req.socket.remoteAddress ?? 'unknown';
      // Only Basic names its account before the check; a Negotiate ticket is counted by address.
      const claimed = parseBasicAuthorization(authorization)?.name ?? null;
      const blocked = await throttle.blockedFor(claimed, address).catch(() => ({ seconds: 0, scope: null }));
      if (blocked.seconds > 0 && blocked.scope) {
        onThrottled?.(blocked.scope);
        throw new SignOnThrottledError(blocked.seconds, blocked.scope);
      }
      const result = await runtime.signOn(authorization);
      if (result.principal) await throttle.succeeded(result.principal.name, address).catch(() => undefined);
      else if (result.scheme !== null) await throttle.failed(result.claimed ?? claimed, address).catch(() => undefined);
      return result;
    },
  };
}

/** The guard the app registered (app.locals), or plain sign-on. */
export function signOnGuardOf(req: Request, runtime: ClusterRuntime): SignOnGuard {
  return (req.app.locals.signOnGuard as SignOnGuard | undefined) ?? createSignOnGuard(runtime, undefined);
}
