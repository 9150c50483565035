import { RmsError, type RmsErrorCode, SERVICE_PATHS } from '@openrms/domain';
import { childElement } from '../certificate-nodes';
import { NS } from '../namespaces';
import { parseXmlSecurely } from '../parse-xml-securely';
import { GROUP_EXPANSION_LIMITS, GROUP_EXPANSION_NS } from '../services/group-expansion-service';
import { escapeXmlText } from '../xml-writer';
import { readBoundedText } from '../read-bounded-text';

const ACTION = `${GROUP_EXPANSION_NS}/IsPrincipalMemberOf`;
// Windows servers send 1.0.0.0/1.0.0.0 on every server-to-server call (MS-RMPRS note <9>).
const VERSION_DATA = `<VersionData xmlns="${GROUP_EXPANSION_NS}"><MinimumVersion>1.0.0.0</MinimumVersion><MaximumVersion>1.0.0.0</MaximumVersion></VersionData>`;

export interface GroupExpansionCredentials {
  name: string;
  password: string;
}

export interface IsPrincipalMemberOfCall {
  /** The user's e-mail address. */
  principalName: string;
  /** Defaults to principalName, as Windows sends it. */
  principalCrossForest?: string;
  /** Group e-mail addresses. */
  targetGroups: readonly string[];
  /** The count to send: the caller's own count plus one when it forwards a question it was asked. */
  crossForestCallsSoFar: number;
}

export interface GroupExpansionClientOptions {
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** The answer is a few hundred bytes; anything much larger is not a group expansion response. */
  maxResponseBytes?: number;
}

/**
 * A fault (or refusal) from the other server. `code` is AccessDenied when it refused our credentials
 * and Unavailable otherwise: the other side's ArgumentNull is not our caller's ArgumentNull, so its
 * fault codes are reported, not re-thrown as ours. `faultName` is the exception name it sent.
 */
export class GroupExpansionFaultError extends RmsError {
  constructor(
    code: RmsErrorCode,
    message: string,
    readonly faultName: string,
    readonly faultString: string,
  ) {
    super(code, message);
  }
}

/**
 * The GroupExpansion endpoint for a target: a cluster's `_wmcs` base URL (SERVICE_PATHS.groupExpansion
 * is appended), or the full `.asmx` URL that FindServiceLocations(GroupExpansionService) returns.
 */
export function groupExpansionUrl(target: string): string {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new RmsError('Argument', `not a URL: ${target}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RmsError('Argument', `group expansion URL must be http(s): ${target}`);
  if (url.username || url.password) throw new RmsError('Argument', 'group expansion URL must not carry credentials');
  url.hash = '';
  if (/\.asmx$/i.test(url.pathname)) return url.toString();
  url.search = '';
  return `${url.toString().replace(/\/+$/, '')}${SERVICE_PATHS.groupExpansion}`;
}

function checkName(value: string, what: string): string {
  const v = value.trim();
  if (v === '') throw new RmsError('Argument', `${what} is empty`);
  if (v.length > GROUP_EXPANSION_LIMITS.maxNameLength) throw new RmsError('Argument', `${what} is longer than ${GROUP_EXPANSION_LIMITS.maxNameLength} characters`);
  return v;
}

/** The request body, checked against the same bounds the responding side enforces. */
export function isPrincipalMemberOfBody(call: IsPrincipalMemberOfCall): string {
  const principal = checkName(call.principalName, 'principalName');
  const crossForest = checkName(call.principalCrossForest ?? principal, 'principalCrossForest');
  if (call.targetGroups.length > GROUP_EXPANSION_LIMITS.maxTargetGroups) {
    throw new RmsError('Argument', `${call.targetGroups.length} target groups; the limit is ${GROUP_EXPANSION_LIMITS.maxTargetGroups}`);
  }
  const n = call.crossForestCallsSoFar;
  if (!Number.isInteger(n) || n < 0 || n >= GROUP_EXPANSION_LIMITS.maxCrossForestCalls) {
    throw new RmsError('Argument', `crossForestCallsSoFar ${n} is not an integer in [0, ${GROUP_EXPANSION_LIMITS.maxCrossForestCalls})`);
  }
  const groups = call.targetGroups.map((g, i) => `<string>${escapeXmlText(checkName(g, `target group ${i}`))}</string>`).join('');
  return (
    `<IsPrincipalMemberOf xmlns="${GROUP_EXPANSION_NS}"><principalName>${escapeXmlText(principal)}</principalName>` +
    `<principalCrossForest>${escapeXmlText(crossForest)}</principalCrossForest><targetGroups>${groups}</targetGroups>` +
    `<crossForestCallsSoFar>${n}</crossForestCallsSoFar></IsPrincipalMemberOf>`
  );
}

/**
 * Asks another cluster (MS-RMPRS 3.5) whether a user is a member of at least one of the groups.
 * SOAP 1.1, which every RMS server speaks, with HTTP Basic as ClusterClient does; use an https URL,
 * since both the credentials and the answer are sensitive (MS-RMPRS 5.1.4).
 */
export async function isPrincipalMemberOf(
  target: string,
  credentials: GroupExpansionCredentials,
  call: IsPrincipalMemberOfCall,
  options: GroupExpansionClientOptions = {},
): Promise<boolean> {
  const url = groupExpansionUrl(target);
  const envelope =
    `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="${NS.soap11Envelope}">` +
    `<soap:Header>${VERSION_DATA}</soap:Header><soap:Body>${isPrincipalMemberOfBody(call)}</soap:Body></soap:Envelope>`;
  const auth = Buffer.from(`${credentials.name}:${credentials.password}`).toString('base64');
  let res: Response;
  try {
    res = await (options.fetch ?? fetch)(url, {
      method: 'POST',
      headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: `"${ACTION}"`, authorization: `Basic ${auth}` },
      body: envelope,
      redirect: 'error',
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
  } catch (e) {
    const err = e as Error;
    throw new RmsError('Unavailable', `cannot reach ${url}: ${err.cause instanceof Error ? err.cause.message : err.message}`);
  }
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel().catch(() => undefined);
    throw new GroupExpansionFaultError('AccessDenied', `${url} refused the credentials of ${credentials.name} (HTTP ${res.status})`, '', '');
  }
  const maxBytes = options.maxResponseBytes ?? 64 * 1024;
  const text = await readBoundedText(res, maxBytes, (why) =>
    new RmsError(
      'Unavailable',
      why.kind === 'not-utf8'
        ? `${url} answered with a body that is not UTF-8`
        : why.declared !== undefined
          ? `${url} answered with ${why.declared} bytes; the limit is ${maxBytes}`
          : `${url} answered with more than ${maxBytes} bytes`,
    ),
  );
  let doc: Document;
  try {
    doc = parseXmlSecurely(text);
  } catch {
    throw new RmsError('Unavailable', `${url} answered HTTP ${res.status} without a SOAP envelope`);
  }
  const env = doc.documentElement!;
  const envNs = env.namespaceURI;
  if (env.localName !== 'Envelope' || (envNs !== NS.soap11Envelope && envNs !== NS.soap12Envelope)) {
    throw new RmsError('Unavailable', `${url} answered without a SOAP envelope`);
  }
  const body = childElement(env, 'Body', envNs);
  if (!body) throw new RmsError('Unavailable', `${url} answered without a SOAP body`);
  const fault = childElement(body, 'Fault', envNs);
  if (fault) throw faultError(url, fault, envNs);
  if (!res.ok) throw new RmsError('Unavailable', `${url} answered HTTP ${res.status}`);
  const response = childElement(body, 'IsPrincipalMemberOfResponse', GROUP_EXPANSION_NS);
  const result = response ? childElement(response, 'IsPrincipalMemberOfResult', GROUP_EXPANSION_NS) : undefined;
  // xs:boolean; anything else is not a "yes": a wrong answer here would grant access.
  switch ((result?.textContent ?? '').trim()) {
    case 'true':
    case '1':
      return true;
    case 'false':
    case '0':
      return false;
    default:
      throw new RmsError('Unavailable', `${url} answered IsPrincipalMemberOf without a boolean result`);
  }
}

function faultError(url: string, fault: Element, envNs: string): GroupExpansionFaultError {
  let faultString: string;
  if (envNs === NS.soap11Envelope) {
    faultString = childElement(fault, 'faultstring', null)?.textContent ?? '';
  } else {
    const reason = childElement(fault, 'Reason', envNs);
    faultString = (reason && childElement(reason, 'Text', envNs)?.textContent) ?? '';
  }
  faultString = faultString.trim().slice(0, 2000);
  // PROTOCOL.md 3.1: the faultstring starts with the .NET exception name.
  const faultName = /^[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*/.exec(faultString)?.[0] ?? '';
  const code: RmsErrorCode = /(^|\.)UnauthorizedAccessException$/.test(faultName) ? 'AccessDenied' : 'Unavailable';
  return new GroupExpansionFaultError(code, `${url} refused IsPrincipalMemberOf: ${faultString || 'fault without a faultstring'}`, faultName, faultString);
}

