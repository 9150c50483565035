import { RmsError } from '@openrms/domain';
import { attrOf, childElements, requiredAttr, requiredChild, requiredText, textOf } from './xrml-dom';
import { trimmedXmlValue, type XrmlSink } from './xrml-writer';

/** The `Group-Identity` OBJECT of a RAC, CLC and UL principal (PROTOCOL.md §4.6 RAC). */
export const GROUP_IDENTITY_OBJECT_TYPE = 'Group-Identity';
export const GROUP_IDENTITY_ID_TYPES = ['Federation', 'Windows', 'Passport'] as const;
export type GroupIdentityIdType = (typeof GROUP_IDENTITY_ID_TYPES)[number];

export interface GroupIdentity {
  /** `Windows` (ID = SID), `Federation` (ID = stable per-e-mail GUID) or `Passport` (PUID). */
  idType: GroupIdentityIdType;
  id: string;
  /** Primary e-mail address: the OBJECT NAME. */
  email: string;
  /** `ADDRESS type="email_alias"`, in order. */
  aliases?: string[];
}

/** `<OBJECT type="Group-Identity"><ID type="…">…</ID><NAME>email</NAME><ADDRESS type="email_alias">…</ADDRESS>*</OBJECT>` */
export function writeGroupIdentityObject(parent: XrmlSink, identity: GroupIdentity): void {
  if (!(GROUP_IDENTITY_ID_TYPES as readonly string[]).includes(identity.idType)) {
    throw new RmsError('InvalidInput', `identity idType must be one of ${GROUP_IDENTITY_ID_TYPES.join(', ')}`);
  }
  const object = parent.ele('OBJECT', { type: GROUP_IDENTITY_OBJECT_TYPE });
  object.ele('ID', { type: identity.idType }).txt(trimmedXmlValue(identity.id, 'identity id'));
  object.ele('NAME').txt(trimmedXmlValue(identity.email, 'identity email'));
  for (const alias of identity.aliases ?? []) {
    object.ele('ADDRESS', { type: 'email_alias' }).txt(trimmedXmlValue(alias, 'identity alias'));
  }
}

/** Reads a `Group-Identity` OBJECT; any other object type or ADDRESS type is InvalidInput. */
export function readGroupIdentity(object: Element): GroupIdentity {
  const type = attrOf(object, 'type');
  if (type !== GROUP_IDENTITY_OBJECT_TYPE) {
    throw new RmsError('InvalidInput', `principal OBJECT type ${JSON.stringify(type ?? null)} is not ${GROUP_IDENTITY_OBJECT_TYPE}`);
  }
  const idType = requiredAttr(requiredChild(object, 'ID'), 'type');
  if (!(GROUP_IDENTITY_ID_TYPES as readonly string[]).includes(idType)) {
    throw new RmsError('InvalidInput', `Group-Identity ID type ${JSON.stringify(idType)} is not Windows, Federation or Passport`);
  }
  const identity: GroupIdentity = {
    idType: idType as GroupIdentityIdType,
    id: requiredText(object, 'ID'),
    email: requiredText(object, 'NAME'),
  };
  const aliases: string[] = [];
  for (const address of childElements(object, 'ADDRESS')) {
    if (attrOf(address, 'type') !== 'email_alias') {
      throw new RmsError('InvalidInput', `Group-Identity ADDRESS type ${JSON.stringify(attrOf(address, 'type') ?? null)} is not email_alias`);
    }
    const alias = textOf(address);
    if (alias === '') throw new RmsError('InvalidInput', 'Group-Identity email_alias is empty');
    aliases.push(alias);
  }
  if (aliases.length > 0) identity.aliases = aliases;
  return identity;
}
