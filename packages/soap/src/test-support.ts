/* Test helpers shared by the *.test.ts files of this package; not exported from index.ts. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { XMLSerializer } from '@xmldom/xmldom';
import { loadService, WSDL_DIR, type ServiceDescription } from './load-service';
import { NS, type SoapVersion } from './namespaces';
import { parseXmlSecurely } from './parse-xml-securely';
import type { SoapHttpInput } from './parse-soap-request';

export const NS_SERVER = 'http://microsoft.com/DRM/ServerService';
export const NS_LICENSING = 'http://microsoft.com/DRM/LicensingService';
export const NS_CERTIFICATION = 'http://microsoft.com/DRM/CertificationService';
export const NS_SUBENROLL = 'http://microsoft.com/DRM/SubEnrollmentService';

export function service(file: string): ServiceDescription {
  return loadService(path.join(WSDL_DIR, file));
}

export function versionData(ns: string, min?: string, max?: string, attrs = ''): string {
  const part = (n: string, v?: string) => (v === undefined ? '' : `<${n}>${v}</${n}>`);
  return `<VersionData xmlns="${ns}"${attrs}>${part('MinimumVersion', min)}${part('MaximumVersion', max)}</VersionData>`;
}

export function envelope(version: SoapVersion, body: string, header?: string): string {
  const ns = version === '1.1' ? NS.soap11Envelope : NS.soap12Envelope;
  const h = header === undefined ? '' : `<soap:Header>${header}</soap:Header>`;
  return `<?xml version="1.0" encoding="utf-8"?>\n<soap:Envelope xmlns:soap="${ns}">${h}<soap:Body>${body}</soap:Body></soap:Envelope>`;
}

/** A SOAP 1.1 (default) or 1.2 HTTP request as a client like MSIPC would send it. */
export function httpRequest(
  version: SoapVersion,
  xml: string,
  action: string | undefined,
  extra: { contentType?: string; soapActionHeader?: string } = {},
): SoapHttpInput {
  if (version === '1.1') {
    return {
      body: Buffer.from(xml, 'utf8'),
      contentType: extra.contentType ?? 'text/xml; charset=utf-8',
      soapActionHeader: extra.soapActionHeader ?? (action === undefined ? undefined : `"${action}"`),
    };
  }
  return {
    body: Buffer.from(xml, 'utf8'),
    contentType: extra.contentType ?? `application/soap+xml; charset=utf-8${action === undefined ? '' : `; action="${action}"`}`,
    soapActionHeader: extra.soapActionHeader,
  };
}

export interface ParsedFault {
  version: SoapVersion;
  code: string;
  text: string;
  headerChildren: string[];
  hasDetail: boolean;
}

/** Parses a fault envelope with the same strict parser we use for requests and reads its parts. */
export function readFault(body: string): ParsedFault {
  const doc = parseXmlSecurely(body);
  const env = doc.documentElement!;
  const version: SoapVersion = env.namespaceURI === NS.soap11Envelope ? '1.1' : '1.2';
  const envNs = env.namespaceURI!;
  expectLocal(env, envNs, 'Envelope');
  const kids = elementChildren(env);
  const header = kids.length === 2 ? kids[0] : undefined;
  const bodyEl = kids[kids.length - 1]!;
  expectLocal(bodyEl, envNs, 'Body');
  const bodyKids = elementChildren(bodyEl);
  if (bodyKids.length !== 1) throw new Error('fault Body must have one child');
  const fault = bodyKids[0]!;
  expectLocal(fault, envNs, 'Fault');
  const headerChildren = header ? elementChildren(header).map((e) => `{${e.namespaceURI}}${e.localName}`) : [];
  if (version === '1.1') {
    const [code, text, detail, ...rest] = elementChildren(fault);
    if (!code || code.localName !== 'faultcode' || code.namespaceURI) throw new Error('no faultcode');
    if (!text || text.localName !== 'faultstring' || text.namespaceURI) throw new Error('no faultstring');
    if (rest.length) throw new Error('unexpected fault children');
    return { version, code: resolveQName(code, code.textContent ?? ''), text: text.textContent ?? '', headerChildren, hasDetail: detail?.localName === 'detail' };
  }
  const [codeEl, reason, ...rest] = elementChildren(fault);
  expectLocal(codeEl!, envNs, 'Code');
  expectLocal(reason!, envNs, 'Reason');
  const value = elementChildren(codeEl!)[0]!;
  expectLocal(value, envNs, 'Value');
  const textEl = elementChildren(reason!)[0]!;
  expectLocal(textEl, envNs, 'Text');
  if (textEl.getAttributeNS('http://www.w3.org/XML/1998/namespace', 'lang') !== 'en') throw new Error('Text without xml:lang="en"');
  return { version, code: resolveQName(value, value.textContent ?? ''), text: textEl.textContent ?? '', headerChildren, hasDetail: rest.length > 0 };
}

function resolveQName(context: Element, qname: string): string {
  const [prefix, local] = qname.includes(':') ? qname.split(':') : [null, qname];
  return `{${context.lookupNamespaceURI(prefix ?? null)}}${local}`;
}

export function elementChildren(el: Element): Element[] {
  const out: Element[] = [];
  for (let n = el.firstChild; n; n = n.nextSibling) if (n.nodeType === 1) out.push(n as Element);
  return out;
}

function expectLocal(el: Element, ns: string, local: string): void {
  if (el.namespaceURI !== ns || el.localName !== local) throw new Error(`expected {${ns}}${local}, got {${el.namespaceURI}}${el.localName}`);
}

/** Runs a Python snippet with the system interpreter (python3-zeep lives there, not in a venv). */
export function python(script: string, args: string[] = [], input?: string): string {
  return execFileSync('/usr/bin/python3', ['-W', 'ignore', '-c', script, ...args], { encoding: 'utf8', input, timeout: 60_000 });
}

/**
 * Writes every <s:schema> of a WSDL to its own .xsd in `dir`, with the WSDL's namespace
 * declarations copied on (QName values such as type="tns:X" need them) and imports pointed at the
 * sibling file, so xmllint can validate against exactly what the WSDL declares. Returns the path
 * per target namespace.
 */
export function extractSchemas(wsdlXml: string, dir: string): Map<string, string> {
  const doc = parseXmlSecurely(wsdlXml);
  const defs = doc.documentElement!;
  const schemas = Array.from(doc.getElementsByTagNameNS(NS.xsd, 'schema'));
  const files = new Map<string, string>();
  schemas.forEach((s, i) => files.set(s.getAttribute('targetNamespace') ?? '', path.join(dir, `schema-${i}.xsd`)));
  for (const s of schemas) {
    for (const imp of Array.from(s.getElementsByTagNameNS(NS.xsd, 'import'))) {
      const target = files.get(imp.getAttribute('namespace') ?? '');
      if (target) imp.setAttribute('schemaLocation', path.basename(target));
    }
    // The serializer declares the prefixes of element names itself; add the rest to the start tag.
    const text = new XMLSerializer().serializeToString(s);
    const startTag = text.slice(0, text.indexOf('>'));
    let decls = '';
    for (let i = 0; i < defs.attributes.length; i++) {
      const a = defs.attributes.item(i)!;
      if (a.name.startsWith('xmlns:') && !startTag.includes(` ${a.name}=`)) decls += ` ${a.name}="${a.value}"`;
    }
    const schemaText = text.replace(/^<([^\s>]+)/, `<$1${decls}`);
    fs.writeFileSync(files.get(s.getAttribute('targetNamespace') ?? '')!, schemaText);
  }
  return files;
}

/** xmllint --schema; returns [exit status, output]. */
export function xmllintValidate(xsd: string, xmlFile: string): [number, string] {
  try {
    const out = execFileSync('xmllint', ['--noout', '--nonet', '--schema', xsd, xmlFile], { encoding: 'utf8', stdio: 'pipe' });
    return [0, out];
  } catch (e) {
    const err = e as { status?: number; stderr?: string };
    return [err.status ?? 1, err.stderr ?? String(e)];
  }
}
