import { readFileSync } from 'node:fs';
import path from 'node:path';
import { RmsClient } from '@openrms/client';
import { endpointPath, isRmsError, newId, parseGrantSpec } from '@openrms/domain';
import type { RunningServer } from '@openrms/server';
import { openStore } from '@openrms/store';
import { parseXrml, readCertificate, readRac } from '@openrms/xrml';
import { sqliteDatabase, tempDir, type TestDatabase } from './support/databases';
import { xmlsecVerifies } from './support/xmlsec';
import { addPeople, freePort, person, provisionLicensing, provisionRoot, startMember } from './support/clusters';


const pem = (k: import('node:crypto').KeyObject) => k.export({ format: 'pem', type: 'spki' }).toString();

describe('a licensing-only cluster sub-enrolled with the root', () => {
  let rootDb: TestDatabase;
  let licDb: TestDatabase;
  let root: RunningServer;
  let lic: RunningServer | undefined;
  let rootBase: string;
  let licPort: number;
  const enroller = person('enroller');
  const alice = person('alice');
  const bob = person('bob');

  beforeAll(async () => {
    rootDb = sqliteDatabase();
    licDb = sqliteDatabase();
    const rootPort = await freePort();
    licPort = await freePort();
    rootBase = await provisionRoot(rootDb, rootPort);
    await addPeople(rootDb, [enroller, alice, bob]);
    root = await startMember(rootDb, rootPort, 'root-1');
  });
  afterAll(async () => {
    await lic?.close();
    await root?.close();
    rootDb.dispose();
    licDb.dispose();
  });

  it('is refused by the root until an administrator grants the account on SubEnrollService.asmx, and nothing is written', async () => {
    const refused = await provisionLicensing(licDb, licPort, rootBase, enroller).catch((e: unknown) => e);
    expect(isRmsError(refused, 'AccessDenied')).toBe(true);
    expect((refused as Error).message).toMatch(/UnauthorizedAccessException/);
    const store = await openStore(licDb.url, { migrate: true });
    expect(await store.clusters.find()).toBeUndefined();
    await store.close();
    const rootStore = await openStore(rootDb.url);
    expect(await rootStore.issued.count({ kind: 'SubSLC' })).toBe(0);
    // The grant, as `rmsctl dacl grant` writes it.
    await rootStore.dacl.add({
      id: newId(),
      endpoint: endpointPath('/certification/SubEnrollService.asmx'),
      principalId: (await rootStore.principals.getByName('enroller')).id,
      right: 'Execute',
      effect: 'allow',
      createdAt: new Date(),
      createdBy: 'test',
    });
    await rootStore.close();
    await root.runtime.refresh();
  });

  it('gets an SLC chained to the root, which every verifier accepts', async () => {
    const r = await provisionLicensing(licDb, licPort, rootBase, enroller);
    expect(r.chainLength).toBe(2);
    lic = await startMember(licDb, licPort, 'lic-1');
    const chain = lic.runtime.getLicensorCertificate();
    const [leaf, rootSlc] = chain.map((x) => readCertificate(parseXrml(x)));
    expect(chain[1]).toBe(root.runtime.getLicensorCertificate()[0]);
    expect(leaf!.issueScope).toEqual(['CLC', 'PL', 'UL']);
    expect(xmlsecVerifies(chain[0]!, pem(rootSlc!.principal.publicKey))).toBe(true);
    expect(xmlsecVerifies(chain[1]!, pem(rootSlc!.principal.publicKey))).toBe(true);
    expect(xmlsecVerifies(chain[0]!, pem(leaf!.principal.publicKey))).toBe(false);
    const ready = (await (await fetch(`${lic.url}/readyz`)).json()) as { cluster: { kind: string; id: string } };
    expect(ready.cluster.kind).toBe('licensing');
    // The root audited the sub-enrollment.
    const rootStore = await openStore(rootDb.url);
    expect((await rootStore.audit.list({ limit: 5 })).some((a) => a.action === 'slc.subenroll' && a.actor === 'enroller')).toBe(true);
    await rootStore.close();
    // A second provisioning of the same database is refused and changes nothing.
    await expect(provisionLicensing(licDb, licPort, rootBase, enroller)).rejects.toMatchObject({ code: 'AlreadyExists' });
  });

  it('forwards certification to the root and licenses content itself', async () => {
    await addPeople(licDb, [alice, bob]);
    const state = tempDir('lic-client');
    const client = (p: typeof alice) => new RmsClient({ serverUrl: lic!.url, user: p.name, password: p.password, stateDir: state });
    const file = await client(alice).protect(Buffer.from('licensing cluster content'), { grants: parseGrantSpec('bob@example.test:VIEW') });
    const opened = await client(bob).open(file);
    expect(opened.content.toString()).toBe('licensing cluster content');
    // Bob's RAC came from the root, through the licensing cluster.
    const racChain = JSON.parse(readFileSync(path.join(state, `bob@127.0.0.1_${licPort}`, 'rac-chain.json'), 'utf8')) as string[];
    expect(readRac(parseXrml(racChain[0]!)).issuerPublicKey.export({ format: 'pem', type: 'spki' })).toEqual(root.runtime.slc.principal.publicKey.export({ format: 'pem', type: 'spki' }));
    const rootKey = pem(root.runtime.slc.principal.publicKey);
    expect(xmlsecVerifies(racChain[0]!, rootKey)).toBe(true);
    // The use licence was signed by the licensing cluster, whose SLC the root signed.
    const ul = opened.useLicense;
    expect(xmlsecVerifies(ul, pem(lic!.runtime.slc.principal.publicKey))).toBe(true);
  });
});
