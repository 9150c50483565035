import autocannon from 'autocannon';
import { sqliteDatabase, tempDir } from '/work/main/test/support/databases';
import { builtMember, provisionForLicences, basicAuth, LIC_NS } from '/work/main/test/support/member-processes';
import { freePort } from '/work/main/test/support/root-cluster';

async function main() {
  const db = sqliteDatabase();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const fx = await provisionForLicences(db, port);
  for (const workers of ['1', '2']) {
    const m = builtMember(['--database', db.url, '--listen', `127.0.0.1:${port}`, '--state-dir', tempDir('ov'), '--workers', workers], { RMS_LOG_LEVEL: 'warn' });
    await m.waitFor(/listening on/);
    const body = fx.people.licenseBody || (await fx.protect(base));
    for (const connections of [16, 256]) {
      const r = await autocannon({ url: `${base}/_wmcs/licensing/license.asmx`, connections, duration: 10, method: 'POST', body,
        headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: `"${LIC_NS}/AcquireLicense"`, authorization: basicAuth('bob', 'bob-password-1') } });
      const s = r.statusCodeStats as Record<string, { count: number }>;
      console.log(`workers=${workers} conns=${connections}: ok/s=${((s['200']?.count ?? 0) / 10).toFixed(1)} 503=${s['503']?.count ?? 0} other=${JSON.stringify(Object.fromEntries(Object.entries(s).filter(([k]) => k !== '200' && k !== '503').map(([k, v]) => [k, v.count])))} errors=${r.errors} timeouts=${r.timeouts} p50=${r.latency.p50}ms p99=${r.latency.p99}ms max=${r.latency.max}ms`);
    }
    await m.stop();
  }
  db.dispose();
}
main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
