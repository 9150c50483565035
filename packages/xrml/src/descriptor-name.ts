import { RmsError } from '@openrms/domain';
import { nonEmptyXmlValue, xmlValue } from './xrml-writer';

/**
 * The DESCRIPTOR NAME of a PL, ERD and template: `LCID <lcid>:NAME <name>:DESCRIPTION <desc>;`,
 * one entry per language. We write one entry; readers return the first.
 */
export interface DescriptorName {
  name: string;
  /** Written as an empty DESCRIPTION when absent; an empty DESCRIPTION reads back as absent. */
  description?: string;
  /** Windows locale ID; default 1033 (en-US), and always returned by readers. */
  lcid?: number;
}

export const DEFAULT_LCID = 1033;

const ENTRY = /^LCID (\d{1,10}):NAME ([\s\S]*?):DESCRIPTION ([\s\S]*?);(?=LCID \d|$)/;

export function formatDescriptorName(d: DescriptorName): string {
  const lcid = d.lcid ?? DEFAULT_LCID;
  if (!Number.isSafeInteger(lcid) || lcid < 0 || lcid > 0x7fffffff) throw new RmsError('InvalidInput', 'lcid must be a non-negative integer');
  const name = nonEmptyXmlValue(d.name, 'descriptor name');
  const description = d.description === undefined ? '' : xmlValue(d.description, 'descriptor description');
  // These would make the entry ambiguous to split; refusing them keeps the round trip exact.
  if (name.includes(':DESCRIPTION ')) throw new RmsError('InvalidInput', 'descriptor name must not contain ":DESCRIPTION "');
  if (/;LCID \d/.test(description)) throw new RmsError('InvalidInput', 'descriptor description must not contain ";LCID "');
  if (name !== name.trim() || description !== description.trim()) {
    throw new RmsError('InvalidInput', 'descriptor name and description must not start or end with whitespace');
  }
  return `LCID ${lcid}:NAME ${name}:DESCRIPTION ${description};`;
}

/** The first entry; a NAME not in the LCID form is InvalidInput. */
export function parseDescriptorName(text: string): DescriptorName & { lcid: number } {
  const m = ENTRY.exec(text);
  if (!m) throw new RmsError('InvalidInput', 'DESCRIPTOR NAME is not in the form "LCID n:NAME x:DESCRIPTION y;"');
  const out: DescriptorName & { lcid: number } = { lcid: Number(m[1]), name: m[2] ?? '' };
  if (out.name === '') throw new RmsError('InvalidInput', 'DESCRIPTOR NAME has an empty NAME');
  if (m[3]) out.description = m[3];
  return out;
}
