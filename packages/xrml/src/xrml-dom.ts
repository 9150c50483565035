import { RmsError } from '@openrms/domain';

/**
 * Small, strict accessors over the xmldom tree. XrML elements live in no namespace; an element of
 * the right local name in some namespace is a different element and is never matched.
 */

export const ELEMENT_NODE = 1;

export function childElements(parent: Element, name?: string): Element[] {
  const out: Element[] = [];
  for (let n = parent.firstChild; n; n = n.nextSibling) {
    if (n.nodeType !== ELEMENT_NODE) continue;
    const el = n as Element;
    if (name === undefined || (!el.namespaceURI && el.localName === name)) out.push(el);
  }
  return out;
}

/** Zero or one child of that name; two is ambiguous and ambiguity in signed data is an attack surface. */
export function optionalChild(parent: Element, name: string): Element | undefined {
  const found = childElements(parent, name);
  if (found.length > 1) {
    throw new RmsError('InvalidInput', `${describe(parent)} has ${found.length} <${name}> elements, expected at most one`);
  }
  return found[0];
}

export function requiredChild(parent: Element, name: string): Element {
  const found = optionalChild(parent, name);
  if (!found) throw new RmsError('InvalidInput', `${describe(parent)} lacks required <${name}>`);
  return found;
}

/** Follows a slash path of single children, e.g. `ISSUEDPRINCIPALS/PRINCIPAL/OBJECT`. */
export function optionalPath(parent: Element, path: string): Element | undefined {
  let cur: Element | undefined = parent;
  for (const step of path.split('/')) {
    if (!cur) return undefined;
    cur = optionalChild(cur, step);
  }
  return cur;
}

export function requiredPath(parent: Element, path: string): Element {
  let cur = parent;
  for (const step of path.split('/')) cur = requiredChild(cur, step);
  return cur;
}

/** Text content, trimmed: XrML values (GUIDs, times, names, base64) never carry meaningful edge whitespace. */
export function textOf(el: Element): string {
  return (el.textContent ?? '').trim();
}

export function requiredText(parent: Element, path: string): string {
  const el = requiredPath(parent, path);
  const t = textOf(el);
  if (t === '') throw new RmsError('InvalidInput', `${describe(el)} is empty`);
  return t;
}

export function optionalText(parent: Element, path: string): string | undefined {
  const el = optionalPath(parent, path);
  if (!el) return undefined;
  const t = textOf(el);
  return t === '' ? undefined : t;
}

/** Attribute in no namespace, or undefined when absent (xmldom returns '' for both otherwise). */
export function attrOf(el: Element, name: string): string | undefined {
  return el.hasAttribute(name) ? el.getAttribute(name) ?? '' : undefined;
}

export function requiredAttr(el: Element, name: string): string {
  const v = attrOf(el, name);
  if (v === undefined) throw new RmsError('InvalidInput', `${describe(el)} lacks required attribute ${name}`);
  return v;
}

function describe(el: Element): string {
  const names: string[] = [];
  for (let n: Node | null = el; n && n.nodeType === ELEMENT_NODE; n = n.parentNode) names.unshift((n as Element).nodeName);
  return `<${names.join('/')}>`;
}
