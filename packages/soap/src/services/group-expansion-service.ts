import * as path from 'node:path';
import { RmsError } from '@openrms/domain';
import { childElements, isNil } from '../certificate-nodes';
import { createSoapEndpoint, type SoapEndpoint, type SoapEndpointOptions, type SoapHandler } from '../create-soap-endpoint';
import { loadService, WSDL_DIR } from '../load-service';
import type { CallerContext } from './caller-context';

/** The WSDL of the GroupExpansion.asmx endpoint (SERVICE_PATHS.groupExpansion), in wsdl/. */
export const GROUP_EXPANSION_WSDL = 'group-expansion.wsdl';
export const GROUP_EXPANSION_NS = 'http://microsoft.com/DRM/GroupExpansionWebService';

/**
 * Bounds on one IsPrincipalMemberOf request. Every group named costs the directory a query, and
 * the spec calls group expansion a denial-of-service target (MS-RMPRS 5.1.4), so the adapter
 * refuses oversized requests before the port sees them.
 */
export const GROUP_EXPANSION_LIMITS = {
  /** A publishing licence names a handful of groups; a thousand is far beyond any real one. */
  maxTargetGroups: 1000,
  /** E-mail addresses (or `mail=` / DN forms) of principals and groups. */
  maxNameLength: 1024,
  /**
   * [Win] rejects once the incremented count reaches 10 (MS-RMPRS note <23>), so no Windows server
   * ever sends 10 or more. The port applies the same bound before forwarding (count + 1).
   */
  maxCrossForestCalls: 10,
} as const;

export interface IsPrincipalMemberOfRequest {
  /** The user's e-mail address as sent (trimmed); the adapter never passes null or an empty string. */
  principalName: string | null;
  /** Windows sends the same value as principalName; null when absent or nil. */
  principalCrossForest: string | null;
  /** Group e-mail addresses, trimmed, duplicates (ignoring case) removed, order kept; may be empty. */
  targetGroups: string[];
  /** Servers involved so far: an integer in [0, maxCrossForestCalls). */
  crossForestCallsSoFar: number;
}

/** What the group expansion service needs from the cluster: one membership question. */
export interface GroupExpansionPort {
  /**
   * True when the principal is a member of at least one of the groups; false when the principal
   * or all of the groups are unknown (MS-RMPRS 3.5.4.1). Throw an RmsError to fault.
   */
  isPrincipalMemberOf(caller: CallerContext, request: IsPrincipalMemberOfRequest): Promise<boolean>;
}

// xs:int after whitespace collapse; the range is checked separately.
const XS_INT = /^[+-]?[0-9]+$/;
const INT32_MAX = 2 ** 31 - 1;

/** The one child of that name; a repeated member is not something ASMX would bind either. */
function single(parent: Element, name: string): Element | undefined {
  const found = childElements(parent, name);
  if (found.length > 1) throw new RmsError('Argument', `${name} is given ${found.length} times`);
  return found[0];
}

function nameValue(el: Element | undefined, what: string): string | null {
  if (!el || isNil(el)) return null;
  const value = (el.textContent ?? '').trim();
  if (value.length > GROUP_EXPANSION_LIMITS.maxNameLength) {
    throw new RmsError('Argument', `${what} is longer than ${GROUP_EXPANSION_LIMITS.maxNameLength} characters`);
  }
  return value === '' ? null : value;
}

function crossForestCalls(body: Element): number {
  const el = single(body, 'crossForestCallsSoFar');
  if (!el || isNil(el)) throw new RmsError('Argument', 'crossForestCallsSoFar is required');
  const text = (el.textContent ?? '').trim();
  if (!XS_INT.test(text)) throw new RmsError('Argument', 'crossForestCallsSoFar is not an integer');
  const n = Number(text);
  if (n < 0 || n > INT32_MAX) throw new RmsError('Argument', `crossForestCallsSoFar ${n} is out of range`);
  if (n >= GROUP_EXPANSION_LIMITS.maxCrossForestCalls) {
    throw new RmsError('Argument', `crossForestCallsSoFar ${n} reaches the limit of ${GROUP_EXPANSION_LIMITS.maxCrossForestCalls} cross-forest calls`);
  }
  return n;
}

function targetGroups(body: Element): string[] {
  const arr = single(body, 'targetGroups');
  if (!arr || isNil(arr)) throw new RmsError('ArgumentNull', 'targetGroups is null');
  const items = childElements(arr, 'string');
  if (items.length > GROUP_EXPANSION_LIMITS.maxTargetGroups) {
    throw new RmsError('Argument', `targetGroups names ${items.length} groups; the limit is ${GROUP_EXPANSION_LIMITS.maxTargetGroups}`);
  }
  const seen = new Set<string>();
  const groups: string[] = [];
  items.forEach((item, i) => {
    if (isNil(item)) throw new RmsError('ArgumentNull', `targetGroups entry ${i} is null`);
    const group = nameValue(item, `targetGroups entry ${i}`);
    if (group === null) throw new RmsError('Argument', `targetGroups entry ${i} is empty`);
    const key = group.toLowerCase();
    if (seen.has(key)) return;
    seen.add(key);
    groups.push(group);
  });
  return groups;
}

/** Reads and checks an IsPrincipalMemberOf request wrapper; exported for the tests and the benchmarks. */
export function readIsPrincipalMemberOf(body: Element): IsPrincipalMemberOfRequest {
  const principalName = nameValue(single(body, 'principalName'), 'principalName');
  if (principalName === null) throw new RmsError('ArgumentNull', 'principalName is null');
  const principalCrossForest = nameValue(single(body, 'principalCrossForest'), 'principalCrossForest');
  return { principalName, principalCrossForest, targetGroups: targetGroups(body), crossForestCallsSoFar: crossForestCalls(body) };
}

/** IsPrincipalMemberOf (MS-RMPRS 3.5): `<IsPrincipalMemberOfResult>` is xs:boolean, written true/false. */
export function groupExpansionServiceHandlers(port: GroupExpansionPort): Record<string, SoapHandler<CallerContext>> {
  return {
    IsPrincipalMemberOf: async (req, ctx) => {
      const member = await port.isPrincipalMemberOf(ctx, readIsPrincipalMemberOf(req.bodyElement));
      // A spoofed "true" grants access (MS-RMPRS 5.1.4): anything but a real boolean is a bug, not a yes.
      if (typeof member !== 'boolean') throw new Error(`isPrincipalMemberOf answered ${typeof member}, not a boolean`);
      return member ? 'true' : 'false';
    },
  };
}

/** The endpoint for `/_wmcs/groupexpansion/GroupExpansion.asmx`, bound to its WSDL. */
export function createGroupExpansionEndpoint<Ctx extends CallerContext>(
  port: GroupExpansionPort,
  opts: SoapEndpointOptions & { wsdlDir?: string },
): SoapEndpoint<Ctx> {
  const service = loadService(path.join(opts.wsdlDir ?? WSDL_DIR, GROUP_EXPANSION_WSDL));
  return createSoapEndpoint<Ctx>(service, groupExpansionServiceHandlers(port), opts);
}
