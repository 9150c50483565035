import { createHash, createPublicKey } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, chmodSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fixedClock, newBracedGuid } from '@openrms/domain';
import { RsaKeyPair } from '@openrms/keys';
import { certificateNodes, childElement, parseXmlSecurely, XmlWriter } from '@openrms/soap';
import { buildRac, buildSlc, issuerFromCertificate, parseXrml, readCertificate, readSpc, signXrml, verifyXrmlSignature } from '@openrms/xrml';
import { ClientState, modeOf, STATE_FILES, stateFolderFor, writeFileAtomically } from './client-state';
import { RmsClient } from './rms-client';
import { CLIENT_SERVICES } from './soap-transport';

const NOW = new Date('2026-11-25T10:00:00Z');
const YEAR = 365 * 24 * 3600 * 1000;

function tmp(): string {
  return mkdtempSync(path.join(tmpdir(), 'openrms-client-state-'));
}

/**
 * A minimal certification server: Certify answers a RAC for the SPC it receives, signed by a
 * self-signed SLC, when the Basic credentials match; 401 otherwise. Enough to exercise the state
 * folder without the real server (the e2e test covers that).
 */
function fakeCertificationServer(accounts: Record<string, string>) {
  const clusterKey = RsaKeyPair.generate(2048);
  const userKeys = new Map<string, RsaKeyPair>();
  const slcGuid = newBracedGuid();
  const slc = signXrml(
    buildSlc({
      descriptorGuid: newBracedGuid(),
      issuedTime: NOW,
      validFrom: new Date(NOW.getTime() - YEAR),
      validUntil: new Date(NOW.getTime() + YEAR),
      issuer: { id: slcGuid, name: 'Test Self Enrollment', publicKey: clusterKey.publicKey },
      subject: { serverGuid: slcGuid, url: 'http://127.0.0.1:8080/_wmcs', publicKey: clusterKey.publicKey, version: '6.1.0.0', sku: 'OpenRMS' },
    }),
    clusterKey,
  );
  const slcInfo = readCertificate(verifyXrmlSignature(slc, clusterKey.publicKey));
  let certifyCalls = 0;
  const f = (async (_url: string | URL | Request, init?: RequestInit) => {
    const auth = Buffer.from(String((init?.headers as Record<string, string>).authorization).replace(/^Basic /, ''), 'base64').toString();
    const [user, password] = [auth.slice(0, auth.indexOf(':')), auth.slice(auth.indexOf(':') + 1)];
    if (accounts[user] !== password) return new Response('authentication required', { status: 401 });
    certifyCalls++;
    const doc = parseXmlSecurely(String(init?.body));
    const ns = CLIENT_SERVICES.certification.ns;
    const certify = doc.getElementsByTagNameNS(ns, 'Certify')[0]!;
    const spcXml = certificateNodes(childElement(childElement(certify, 'requestParams')!, 'MachineCertificateChain'))[0]!;
    const spc = readSpc(parseXrml(spcXml));
    const userKey = userKeys.get(user) ?? RsaKeyPair.generate(2048);
    userKeys.set(user, userKey);
    const rac = signXrml(
      buildRac({
        descriptorGuid: newBracedGuid(),
        issuedTime: NOW,
        validFrom: new Date(NOW.getTime() - 15 * 60_000),
        validUntil: new Date(NOW.getTime() + YEAR),
        issuer: issuerFromCertificate(slcInfo),
        activationUrl: 'http://127.0.0.1:8080/_wmcs/certification',
        identity: { idType: 'Federation', id: `{${user}}`, email: `${user}@example.test` },
        publicKey: userKey.publicKey,
        credentialType: 'Persistent',
        credentialCreationTime: NOW,
        machine: {
          objectXml: spc.principalXml,
          enablingBits: userKey.sealPrivateKeyTo(spc.publicKey, 'rac-private-key'),
          securityLevels: { platform: spc.platform, manufacturer: spc.manufacturer, repository: spc.repositoryVersion },
        },
      }),
      clusterKey,
    );
    const result = new XmlWriter()
      .certificateArray('CertificateChain', [rac, slc])
      .element('Quota', (w) => w.leaf('Verified', true).leaf('CurrentConsumption', 5).leaf('Maximum', 10))
      .toXml();
    const body = `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><CertifyResponse xmlns="${ns}"><CertifyResult>${result}</CertifyResult></CertifyResponse></soap:Body></soap:Envelope>`;
    return new Response(body, { status: 200, headers: { 'content-type': 'text/xml; charset=utf-8' } });
  }) as typeof fetch;
  return { fetch: f, clusterKey, calls: () => certifyCalls };
}

describe('state folder', () => {
  it('is named <user>@<host>_<port>, with anything unusual %-encoded', () => {
    expect(stateFolderFor('/s', 'alice', 'http://rms.example.test/_wmcs')).toBe('/s/alice@rms.example.test_80');
    expect(stateFolderFor('/s', 'alice', 'https://rms.example.test:8443/_wmcs')).toBe('/s/alice@rms.example.test_8443');
    expect(stateFolderFor('/s', 'CORP\\bob', 'http://[::1]:8080/_wmcs')).toBe('/s/CORP%5Cbob@%3A%3A1_8080');
    expect(stateFolderFor('/s', '..', 'http://h/_wmcs')).toBe('/s/%2E.@h_80');
    expect(stateFolderFor('/s', '../x/y', 'http://h/_wmcs')).toBe('/s/%2E.%2Fx%2Fy@h_80');
  });

  it('is created 0700, files are written 0600 atomically, and wider modes are tightened', () => {
    const root = tmp();
    const notes: string[] = [];
    const s = new ClientState(path.join(root, 'alice@h_80'), (m) => notes.push(m));
    s.ensure();
    expect(modeOf(s.dir)).toBe(0o700);
    s.write(STATE_FILES.spc, '<XrML/>');
    expect(modeOf(s.file(STATE_FILES.spc))).toBe(0o600);
    expect(readdirSync(s.dir)).toEqual(['spc.xml']);
    chmodSync(s.dir, 0o755);
    chmodSync(s.file(STATE_FILES.spc), 0o644);
    s.ensure();
    expect(s.read(STATE_FILES.spc)).toBe('<XrML/>');
    expect(modeOf(s.dir)).toBe(0o700);
    expect(modeOf(s.file(STATE_FILES.spc))).toBe(0o600);
    expect(notes.join('\n')).toMatch(/tightened the permissions/);
  });

  it('an atomic write that fails leaves the old file and no temporary file', () => {
    const dir = tmp();
    const file = path.join(dir, 'out.bin');
    writeFileAtomically(file, 'old');
    mkdirSync(path.join(dir, 'sub'));
    expect(() => writeFileAtomically(path.join(dir, 'sub'), 'x')).toThrow(/cannot write/);
    expect(readFileSync(file, 'utf8')).toBe('old');
    expect(readdirSync(dir).sort()).toEqual(['out.bin', 'sub']);
  });
});

describe('RmsClient bootstrap and its state folder', () => {
  const password = 'alice-password-1';
  const server = fakeCertificationServer({ alice: password });
  const make = (stateDir: string, pw = password, notes: string[] = []) =>
    new RmsClient({ serverUrl: 'http://127.0.0.1:8080', user: 'alice', password: pw, stateDir, clock: fixedClock(NOW), fetch: server.fetch, logger: (m) => notes.push(m) });

  it('certifies once, keeps the machine key wrapped with the password, and writes no private key in clear', async () => {
    const root = tmp();
    const notes: string[] = [];
    const client = make(root, password, notes);
    expect(client.stateFolder).toBe(path.join(root, 'alice@127.0.0.1_8080'));
    const before = server.calls();
    expect((await client.identity()).email).toBe('alice@example.test');
    expect(server.calls()).toBe(before + 1);
    expect(notes.join('\n')).toMatch(/trusting the server key [0-9a-f]{64} .* \(first use\)/);

    const dir = client.stateFolder;
    expect(modeOf(dir)).toBe(0o700);
    expect(readdirSync(dir).sort()).toEqual(['machine-key.json', 'profile.json', 'rac-chain.json', 'spc.xml', 'trust.json']);
    for (const f of readdirSync(dir)) {
      expect(modeOf(path.join(dir, f))).toBe(0o600);
      const text = readFileSync(path.join(dir, f), 'utf8');
      expect(text).not.toMatch(/PRIVATE KEY/);
      // A PKCS#8 RSA key in DER starts 30 82 ?? ?? 02 01 00; base64 of that prefix starts "MII".
      expect(text).not.toMatch(/"MII[A-Za-z0-9+/]{100,}/);
    }
    const wrapped = readFileSync(path.join(dir, STATE_FILES.machineKey), 'utf8');
    expect(JSON.parse(wrapped)).toMatchObject({ format: 'openrms-key-v1', kdf: 'scrypt', cipher: 'aes-256-gcm' });
    const machineKey = RsaKeyPair.unwrap(wrapped, password);
    expect(() => RsaKeyPair.unwrap(wrapped, 'another-password')).toThrow(/password is wrong/);
    // The SPC is self-issued by that machine key.
    const spc = readFileSync(path.join(dir, STATE_FILES.spc), 'utf8');
    expect(() => verifyXrmlSignature(spc, machineKey.publicKey)).not.toThrow();
    const trust = JSON.parse(readFileSync(path.join(dir, STATE_FILES.trust), 'utf8'));
    expect(trust.rootKeyPem).toBe(server.clusterKey.publicKeyPem);

    // A second client on the same folder uses the stored state without asking the server.
    const again = make(root);
    expect((await again.identity()).email).toBe('alice@example.test');
    expect(server.calls()).toBe(before + 1);
  });

  it('rebuilds a state folder whose key no longer opens with the password, keeping the trusted root', async () => {
    const root = tmp();
    await make(root).identity();
    const dir = path.join(root, 'alice@127.0.0.1_8080');
    const oldSpc = readFileSync(path.join(dir, STATE_FILES.spc), 'utf8');
    const oldTrust = readFileSync(path.join(dir, STATE_FILES.trust), 'utf8');
    // The password changed since: the stored key was wrapped with the old one.
    writeFileSync(path.join(dir, STATE_FILES.machineKey), RsaKeyPair.generate(2048).wrap('the-old-password', 8), { mode: 0o600 });
    const notes: string[] = [];
    expect((await make(root, password, notes).identity()).email).toBe('alice@example.test');
    expect(notes.join('\n')).toMatch(/does not open with this password .* rebuilt/);
    expect(readFileSync(path.join(dir, STATE_FILES.spc), 'utf8')).not.toBe(oldSpc);
    expect(readFileSync(path.join(dir, STATE_FILES.trust), 'utf8')).toBe(oldTrust);
    expect(() => RsaKeyPair.unwrap(readFileSync(path.join(dir, STATE_FILES.machineKey), 'utf8'), password)).not.toThrow();
  });

  it('a wrong password does not destroy a working state folder', async () => {
    const root = tmp();
    await make(root).identity();
    const dir = path.join(root, 'alice@127.0.0.1_8080');
    const files = Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(path.join(dir, f), 'utf8')]));
    await expect(make(root, 'a-wrong-password').identity()).rejects.toMatchObject({ kind: 'unauthorized' });
    for (const [f, text] of Object.entries(files)) expect(readFileSync(path.join(dir, f), 'utf8')).toBe(text);
    rmSync(root, { recursive: true, force: true });
  });

  it('refuses a password too short to protect the key store, before contacting the server', () => {
    expect(() => make(tmp(), 'short')).toThrow(/at least 8 characters/);
  });

  it('prints and stores the one key fingerprint: SHA-256 of the server key\'s SPKI DER', async () => {
    const root = tmp();
    const notes: string[] = [];
    const client = make(root, password, notes);
    const expected = createHash('sha256').update(createPublicKey(server.clusterKey.publicKeyPem).export({ type: 'spki', format: 'der' })).digest('hex');
    expect((await client.identity()).rootKeyFingerprint).toBe(expected);
    expect(notes.join('\n')).toContain(`trusting the server key ${expected} `);
    expect(JSON.parse(readFileSync(path.join(client.stateFolder, STATE_FILES.trust), 'utf8')).rootKeyFingerprint).toBe(expected);
  });

  it('accepts a trust file written with the legacy PKCS#1 fingerprint and rewrites it in today\'s form', async () => {
    const root = tmp();
    await make(root).identity();
    const file = path.join(root, 'alice@127.0.0.1_8080', STATE_FILES.trust);
    const key = createPublicKey(server.clusterKey.publicKeyPem);
    const legacy = createHash('sha256').update(key.export({ type: 'pkcs1', format: 'der' })).digest('hex');
    const current = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify({ ...current, rootKeyFingerprint: legacy }), { mode: 0o600 });
    const before = server.calls();
    expect((await make(root).identity()).rootKeyFingerprint).toBe(current.rootKeyFingerprint);
    expect(server.calls()).toBe(before);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(current);
    // A fingerprint of neither form is still a damaged file, never silently re-trusted.
    writeFileSync(file, JSON.stringify({ ...current, rootKeyFingerprint: 'ab'.repeat(32) }), { mode: 0o600 });
    await expect(make(root).identity()).rejects.toMatchObject({ kind: 'state', message: expect.stringMatching(/damaged \(fingerprint does not match the key\)/) });
  });

  it('refuses a RAC chain that does not end at the root key trusted on first use', async () => {
    const root = tmp();
    await make(root).identity();
    const dir = path.join(root, 'alice@127.0.0.1_8080');
    // Another server (another key) answers for the same URL later.
    const impostor = fakeCertificationServer({ alice: password });
    rmSync(path.join(dir, STATE_FILES.racChain));
    const c = new RmsClient({ serverUrl: 'http://127.0.0.1:8080', user: 'alice', password, stateDir: root, clock: fixedClock(NOW), fetch: impostor.fetch });
    await expect(c.identity()).rejects.toMatchObject({ kind: 'trust', message: expect.stringMatching(/does not verify against the server key this client trusts/) });
  });
});
