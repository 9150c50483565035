import { newBracedGuid, type RightGrant, RmsError, systemClock, type Clock } from '@openrms/domain';
import { ClusterKey } from '@openrms/keys';
import { buildTemplate, issuerFromCertificate, parseXrml, readCertificate, signXrml } from '@openrms/xrml';
import type { TemplateRow } from '@openrms/store';
import { archiveTemplateIn, listTemplatesIn } from './admin-queries';
import { withProvisionedStore } from './principal-admin';

export interface AddTemplateInput {
  name: string;
  description: string;
  grants: RightGrant[];
  /** How long content published with the template stays licensable, from publication. */
  validityDays?: number | undefined;
}

/** The template hash clients compare (AcquireTemplateInformation): the signature's digest value. */
export function templateHash(signedXml: string): string {
  const m = /<(?:[A-Za-z_][\w.-]*:)?DigestValue>([^<]+)<\/(?:[A-Za-z_][\w.-]*:)?DigestValue>/.exec(signedXml);
  if (!m) throw new RmsError('InvalidInput', 'the template has no signature digest');
  return m[1]!;
}

/** Creates and signs a rights policy template; it needs the cluster key, so the key password. */
export async function addTemplate(databaseUrl: string, keyPassword: string, input: AddTemplateInput, actor = 'rmsctl', clock: Clock = systemClock): Promise<TemplateRow> {
  const name = input.name.trim();
  if (!name || name.length > 255) throw new RmsError('InvalidInput', 'a template name is 1 to 255 characters');
  if (input.grants.length === 0) throw new RmsError('InvalidInput', 'a template needs at least one --grant');
  if (input.validityDays !== undefined && !(Number.isInteger(input.validityDays) && input.validityDays > 0 && input.validityDays <= 36500)) {
    throw new RmsError('InvalidInput', '--validity-days must be a whole number of days, 1 to 36500');
  }
  return withProvisionedStore(databaseUrl, async (store) => {
    const cluster = await store.clusters.get();
    const key = ClusterKey.unwrap((await store.keys.getActive(cluster.id, 'cluster')).wrappedPrivateKey, keyPassword);
    const slc = readCertificate(parseXrml((await store.slcChains.getActive(cluster.id)).chain[0]!));
    const now = clock.now();
    const guid = newBracedGuid();
    const intervalDays = input.validityDays;
    const xml = signXrml(
      buildTemplate({
        guid,
        issuedTime: now,
        issuer: issuerFromCertificate(slc),
        publishingUrl: `${cluster.url}/licensing`,
        name,
        description: input.description,
        policy: { grants: input.grants.map((g) => (intervalDays ? { ...g, intervalDays } : g)) },
      }),
      key,
    );
    return store.transaction(async (tx) => {
      const row = await tx.templates.insert({ id: guid, clusterId: cluster.id, name, description: input.description, xml, hash: templateHash(xml), status: 'published', createdAt: now });
      await tx.settings.bumpConfigVersion();
      await tx.audit.append({ at: now, actor, action: 'template.add', target: guid, after: { name, grants: input.grants.length, validityDays: input.validityDays ?? null } });
      return row;
    });
  });
}

export async function listTemplates(databaseUrl: string): Promise<TemplateRow[]> {
  return withProvisionedStore(databaseUrl, listTemplatesIn);
}

/** Archived templates are no longer distributed, but content published with them stays licensable. */
export async function archiveTemplate(databaseUrl: string, nameOrGuid: string, actor = 'rmsctl', clock: Clock = systemClock): Promise<TemplateRow> {
  return withProvisionedStore(databaseUrl, (store) => archiveTemplateIn(store, actor, nameOrGuid, clock));
}
