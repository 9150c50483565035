/**
 * CPU per request of the licence path without HTTP: the SOAP endpoint (parse, dispatch, handler,
 * response) over a real ClusterRuntime on a temporary SQLite database, driven in this process.
 * Prints milliseconds of CPU (user + system) per request for AcquireLicense warm (the same RAC and
 * PL again and again), AcquireLicense cold (a PL the member has not seen each time) and Certify.
 *
 *   npx tsx scripts/bench/in-process.ts [--seconds 5] [--only warm|cold|certify] [--cache-entries 0]
 *   npx tsx scripts/bench/in-process.ts --only warm --profile /tmp/warm.cpuprofile   (the measured phase only;
 *   summarise with scripts/bench/profile-summary.ts)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildRequestEnvelope, CLIENT_SERVICES, VERSION_1_0 } from '@openrms/client';
import { parseGrantSpec, systemClock } from '@openrms/domain';
import { addUser, ClusterRuntime, provisionRootCluster } from '@openrms/issuance';
import { callerNamed, certifiedClient } from '../../packages/issuance/src/testing/fake-client';
import {
  certificationServiceHandlers,
  createSoapEndpoint,
  licenseServiceHandlers,
  loadService,
  SERVICE_WSDL_FILES,
  WSDL_DIR,
  XmlWriter,
  type CallerContext,
  type SoapEndpoint,
} from '@openrms/soap';
import { openStore } from '@openrms/store';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, only: { type: 'string' }, profile: { type: 'string' }, 'cache-entries': { type: 'string' } } });
const seconds = Number(values.seconds);

function acquireBody(rac: string, plChain: string[]): string {
  const body = new XmlWriter().element('RequestParams', (r) =>
    r.element('AcquireLicenseParams', (p) => p.certificateArray('LicenseeCerts', [rac]).certificateArray('IssuanceLicense', plChain).empty('ApplicationData')),
  );
  return buildRequestEnvelope(CLIENT_SERVICES.license.ns, 'AcquireLicense', body, VERSION_1_0);
}

function certifyBody(spc: string): string {
  const body = new XmlWriter().element('requestParams', (p) => p.certificateArray('MachineCertificateChain', [spc]).leaf('Persistent', true));
  return buildRequestEnvelope(CLIENT_SERVICES.certification.ns, 'Certify', body, VERSION_1_0);
}

async function measure(
  label: string,
  endpoint: SoapEndpoint<CallerContext>,
  ctx: CallerContext,
  action: string,
  bodies: () => string,
): Promise<void> {
  const run = async () => {
    const body = bodies();
    const r = await endpoint({ body: Buffer.from(body, 'utf8'), contentType: 'text/xml; charset=utf-8', soapActionHeader: `"${action}"` }, ctx);
    if (r.status !== 200) throw new Error(`${label}: HTTP ${r.status}: ${r.body.slice(0, 400)}`);
  };
  for (let i = 0; i < 20; i++) await run();
  const session = values.profile ? new Session() : undefined;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(seconds * 1e9);
  let n = 0;
  while (process.hrtime.bigint() < end) {
    await run();
    n++;
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  if (session) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(values.profile!, JSON.stringify(profile));
    session.disconnect();
  }
  const cpuMs = (cpu.user + cpu.system) / 1000;
  console.log(`${label.padEnd(34)} ${n.toString().padStart(6)} requests  ${(cpuMs / n).toFixed(2).padStart(6)} ms CPU each  ${(n / wall).toFixed(0).padStart(5)} /s on one core`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'openrms-inproc-'));
  const url = `sqlite:${path.join(dir, 'rms.db')}`;
  try {
    await provisionRootCluster({
      databaseUrl: url,
      clusterUrl: 'https://rms.example.test',
      serviceAccount: 'rms-svc',
      admin: { name: 'admin', password: 'admin-password-1' },
      keyPassword: 'bench-key-password',
      revocation: { kind: 'standard' },
    });
    await addUser(url, { name: 'bob', email: 'bob@example.test', password: 'bob-password-1', groups: [] });
    const store = await openStore(url);
    const cacheEntries = values['cache-entries'] === undefined ? {} : { verifiedDocumentCacheEntries: Number(values['cache-entries']) };
    const rt = await ClusterRuntime.open({ store, keyPassword: 'bench-key-password', serverName: 'm1', clock: systemClock, refreshMs: 0, ...cacheEntries });
    try {
      const caller = await callerNamed(store, 'bob');
      const client = await certifiedClient(rt.licensing, caller, systemClock.now());
      const [clc] = await rt.licensing.getClientLicensorCert(caller, [client.racChain]);
      const publish = () => {
        const out = client.publishOffline(clc!.chain, 'bob@example.test', parseGrantSpec('bob@example.test:VIEW'), { now: systemClock.now() });
        return [out.pl, ...clc!.chain];
      };
      const rac = client.racChain[0]!;
      const warmBody = acquireBody(rac, publish());
      const licenseService = loadService(path.join(WSDL_DIR, SERVICE_WSDL_FILES.license));
      const certService = loadService(path.join(WSDL_DIR, SERVICE_WSDL_FILES.certification));
      const license = createSoapEndpoint(licenseService, licenseServiceHandlers(rt.licensing), { maxBytes: 4 * 1024 * 1024 });
      const certify = createSoapEndpoint(certService, certificationServiceHandlers(rt.licensing), { maxBytes: 4 * 1024 * 1024 });
      const licenseAction = `${CLIENT_SERVICES.license.ns}/AcquireLicense`;
      const certifyAction = `${CLIENT_SERVICES.certification.ns}/Certify`;
      console.log(`AcquireLicense request ${Buffer.byteLength(warmBody)} bytes; node ${process.version}`);
      const only = values.only;
      if (!only || only === 'warm') await measure('AcquireLicense warm', license, caller, licenseAction, () => warmBody);
      if (!only || only === 'cold') {
        // Publishing costs the client an RSA signature and more; make the PLs before measuring.
        const bodies = Array.from({ length: Math.max(200, seconds * 250) }, () => acquireBody(rac, publish()));
        let i = 0;
        await measure('AcquireLicense cold (new PL)', license, caller, licenseAction, () => bodies[i++ % bodies.length]!);
      }
      if (!only || only === 'certify') {
        const body = certifyBody(client.spc);
        await measure('Certify warm', certify, caller, certifyAction, () => body);
      }
          console.log('verified-document cache:', JSON.stringify(rt.verifiedDocuments.stats()));
    } finally {
      await rt.close();
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
