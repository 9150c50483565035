import { pkcs1PublicKeyBase64 } from '@openrms/xrml';
import type { Caller, IssuingContext } from './issuing-context';

/** The published templates' GUIDs and hashes, so a client fetches only the ones it lacks. */
export async function acquireTemplateInformation(ctx: IssuingContext, _caller: Caller): Promise<{ serverPublicKey: string; templates: { guid: string; hash: string }[] }> {
  const s = ctx.state();
  const rows = await ctx.store.templates.list(s.cluster.id, 'published');
  return { serverPublicKey: pkcs1PublicKeyBase64(s.slc.principal.publicKey), templates: rows.map((r) => ({ guid: r.id, hash: r.hash })) };
}

/** The asked-for templates; one that is unknown or not published answers an empty hash and no template. */
export async function acquireTemplates(ctx: IssuingContext, _caller: Caller, guids: string[]): Promise<{ guid: string; hash: string; template: string | null }[]> {
  const s = ctx.state();
  return Promise.all(
    guids.map(async (guid) => {
      const t = await ctx.store.templates.find(s.cluster.id, guid);
      return t && t.status === 'published' ? { guid, hash: t.hash, template: t.xml } : { guid, hash: '', template: null };
    }),
  );
}
