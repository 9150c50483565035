import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { NS } from './namespaces';
import { parseXmlSecurely } from './parse-xml-securely';

/** One operation of a service, as the WSDL's portType and bindings describe it. */
export interface OperationDef {
  readonly name: string;
  readonly soapAction: string;
  /** Local name of the request wrapper element (in the service namespace). */
  readonly requestElement: string;
  /** Local name of the response wrapper element, e.g. GetLicensorCertificateResponse. */
  readonly responseElement: string;
  /** Local name of the single child of the response wrapper, e.g. GetLicensorCertificateResult. */
  readonly resultElement: string;
  /** Whether both bindings declare the VersionData SOAP header on this operation. */
  readonly hasVersionData: boolean;
}

export interface ServiceDescription {
  /** wsdl:service name, e.g. "License". */
  readonly name: string;
  readonly portTypeName: string;
  readonly targetNamespace: string;
  readonly wsdlPath: string;
  /** The WSDL text exactly as on disk (served at ?wsdl after the address rewrite). */
  readonly wsdlXml: string;
  readonly soap11: boolean;
  readonly soap12: boolean;
  readonly operations: ReadonlyMap<string, OperationDef>;
}

/**
 * The wsdl/ folder at the repository root: the nearest one above this code, which is
 * packages/soap/src under tsx and apps/<app>/dist once bundled into a release build.
 */
export const WSDL_DIR = findWsdlDir(__dirname);

export function findWsdlDir(from: string): string {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'wsdl');
    if (existsSync(path.join(candidate, 'server.wsdl'))) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`no wsdl/ folder above ${from}`);
  }
}

/** Which WSDL describes each endpoint of domain's SERVICE_PATHS. */
export const SERVICE_WSDL_FILES = {
  certificationServer: 'server.wsdl',
  licensingServer: 'server.wsdl',
  certification: 'certification.wsdl',
  serverCertification: 'server-certification.wsdl',
  subEnroll: 'sub-enroll.wsdl',
  precertification: 'precertification.wsdl',
  license: 'license.wsdl',
  publish: 'publish.wsdl',
  templateDistribution: 'template-distribution.wsdl',
  groupExpansion: 'group-expansion.wsdl',
  decommission: 'decommission.wsdl',
  editIssuanceLicense: 'edit-issuance-license.wsdl',
} as const;

const cache = new Map<string, ServiceDescription>();

/**
 * Reads a WSDL 1.1 document/literal-wrapped service description into the operation table the SOAP
 * layer dispatches on. The result is cached per resolved path: WSDLs are part of the build, not data.
 * Throws a plain Error on a WSDL this layer cannot serve, since that is a start-up bug.
 */
export function loadService(wsdlPath: string): ServiceDescription {
  const resolved = path.resolve(wsdlPath);
  const cached = cache.get(resolved);
  if (cached) return cached;
  const wsdlXml = readFileSync(resolved, 'utf8');
  const service = describeService(wsdlXml, resolved);
  cache.set(resolved, service);
  return service;
}

interface QName {
  ns: string | null;
  local: string;
}

function describeService(wsdlXml: string, wsdlPath: string): ServiceDescription {
  const fail = (msg: string): never => {
    throw new Error(`${wsdlPath}: ${msg}`);
  };
  const defs = parseXmlSecurely(wsdlXml).documentElement;
  if (!defs || defs.namespaceURI !== NS.wsdl || defs.localName !== 'definitions') fail('not a WSDL 1.1 document');
  const definitions = defs!;
  const tns = definitions.getAttribute('targetNamespace') || fail('no targetNamespace');

  const qname = (el: Element, attr: string): QName => {
    const value = el.getAttribute(attr) || fail(`<${el.localName}> has no ${attr}`);
    const colon = value.indexOf(':');
    const prefix = colon < 0 ? null : value.slice(0, colon);
    return { ns: el.lookupNamespaceURI(prefix), local: colon < 0 ? value : value.slice(colon + 1) };
  };
  const named = (localName: string, name: string): Element =>
    children(definitions, NS.wsdl, localName).find((e) => e.getAttribute('name') === name) ??
    fail(`no wsdl:${localName} named ${name}`);
  const inTns = (q: QName, what: string): string => (q.ns === tns ? q.local : fail(`${what} ${q.local} is not in ${tns}`));

  const messagePart = (messageRef: QName, partName?: string): QName => {
    const message = named('message', inTns(messageRef, 'message'));
    const parts = children(message, NS.wsdl, 'part');
    const part = partName ? parts.find((p) => p.getAttribute('name') === partName) : parts[0];
    if (!part || (!partName && parts.length !== 1)) fail(`message ${messageRef.local} is not a single-part literal message`);
    return qname(part!, 'element');
  };

  const serviceEl = children(definitions, NS.wsdl, 'service')[0] ?? fail('no wsdl:service');
  const serviceName = serviceEl.getAttribute('name') || fail('wsdl:service has no name');

  let portTypeName: string | undefined;
  let soap11 = false;
  let soap12 = false;
  const perBinding: Array<Map<string, { soapAction: string; hasVersionData: boolean }>> = [];
  for (const port of children(serviceEl, NS.wsdl, 'port')) {
    const binding = named('binding', inTns(qname(port, 'binding'), 'binding'));
    const type = inTns(qname(binding, 'type'), 'portType');
    if (portTypeName !== undefined && portTypeName !== type) fail('ports implement different portTypes');
    portTypeName = type;
    const soapNs = children(binding, NS.wsdlSoap11, 'binding').length > 0
      ? NS.wsdlSoap11
      : children(binding, NS.wsdlSoap12, 'binding').length > 0
        ? NS.wsdlSoap12
        : fail(`binding ${binding.getAttribute('name')} is neither SOAP 1.1 nor SOAP 1.2`);
    if (soapNs === NS.wsdlSoap11) soap11 = true;
    else soap12 = true;
    const ops = new Map<string, { soapAction: string; hasVersionData: boolean }>();
    for (const op of children(binding, NS.wsdl, 'operation')) {
      const name = op.getAttribute('name') || fail('binding operation without a name');
      const soapOp = children(op, soapNs, 'operation')[0];
      const style = soapOp?.getAttribute('style');
      if (style && style !== 'document') fail(`operation ${name} is not document style`);
      const input = children(op, NS.wsdl, 'input')[0] ?? fail(`operation ${name} has no input`);
      const hasVersionData = children(input, soapNs, 'header').some((h) => {
        const el = messagePart(qname(h, 'message'), h.getAttribute('part') ?? undefined);
        return el.ns === tns && el.local === 'VersionData';
      });
      ops.set(name, { soapAction: soapOp?.getAttribute('soapAction') ?? '', hasVersionData });
    }
    perBinding.push(ops);
  }
  if (portTypeName === undefined) fail('the service has no ports');

  const portType = named('portType', portTypeName!);
  const schema = findSchema(definitions, tns) ?? fail(`no schema for ${tns}`);
  const operations = new Map<string, OperationDef>();
  for (const op of children(portType, NS.wsdl, 'operation')) {
    const name = op.getAttribute('name') || fail('portType operation without a name');
    const input = children(op, NS.wsdl, 'input')[0] ?? fail(`operation ${name} has no input`);
    const output = children(op, NS.wsdl, 'output')[0] ?? fail(`operation ${name} has no output`);
    const requestElement = inTns(messagePart(qname(input, 'message')), 'request element');
    const responseElement = inTns(messagePart(qname(output, 'message')), 'response element');
    const resultElement = firstSequenceElement(schema, responseElement) ??
      fail(`response element ${responseElement} declares no result element`);
    const bound = perBinding.map((b) => b.get(name) ?? fail(`operation ${name} is missing from a binding`));
    const first = bound[0]!;
    // Both bindings describe one implementation; a disagreement would make dispatch depend on the SOAP version.
    if (bound.some((b) => b.soapAction !== first.soapAction || b.hasVersionData !== first.hasVersionData)) {
      fail(`operation ${name} differs between the SOAP 1.1 and SOAP 1.2 bindings`);
    }
    operations.set(name, { name, soapAction: first.soapAction, requestElement, responseElement, resultElement, hasVersionData: first.hasVersionData });
  }
  const actions = new Set<string>();
  for (const op of operations.values()) {
    if (!op.soapAction) fail(`operation ${op.name} has no soapAction`);
    if (actions.has(op.soapAction)) fail(`soapAction ${op.soapAction} is used twice`);
    actions.add(op.soapAction);
  }

  return { name: serviceName, portTypeName: portTypeName!, targetNamespace: tns, wsdlPath, wsdlXml, soap11, soap12, operations };
}

function children(parent: Element, ns: string, localName: string): Element[] {
  const out: Element[] = [];
  for (let n = parent.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === localName) out.push(n as Element);
  }
  return out;
}

function findSchema(definitions: Element, tns: string): Element | undefined {
  const types = children(definitions, NS.wsdl, 'types')[0];
  return types ? children(types, NS.xsd, 'schema').find((s) => s.getAttribute('targetNamespace') === tns) : undefined;
}

function firstSequenceElement(schema: Element, elementName: string): string | undefined {
  const decl = children(schema, NS.xsd, 'element').find((e) => e.getAttribute('name') === elementName);
  const complexType = decl && children(decl, NS.xsd, 'complexType')[0];
  const sequence = complexType && children(complexType, NS.xsd, 'sequence')[0];
  const first = sequence && children(sequence, NS.xsd, 'element')[0];
  return first?.getAttribute('name') || undefined;
}
