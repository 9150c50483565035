import { createHash } from 'node:crypto';
import { buildRac, type RacFields } from './build-rac';
import { buildSpc } from './build-spc';
import { parseXrml } from './parse-xrml';
import { readCertificate } from './read-certificate';
import { readRac } from './read-rac';
import { readSpc } from './read-spc';
import { blob, childNames, errorCode, newKeyPair, signAndVerify, T0, T1, verifiedSlc, xmlsecVerify } from './test-fixtures';
import { requiredPath } from './xrml-dom';
import { publicKeysEqual } from './xrml-public-key';

const server = newKeyPair();
const machine = newKeyPair();
const user = newKeyPair();
const slc = verifiedSlc(server);

const spc = readSpc(
  signAndVerify(
    buildSpc({
      descriptorGuid: '{0b0b0b0b-1111-4222-8333-444444444444}',
      issuedTime: T0,
      machineGuid: '{5e5e5e5e-6666-4777-8888-999999999999}',
      publicKey: machine.publicKey,
      platform: 'Windows 10.0',
      manufacturer: 'OpenRMS',
      repositoryVersion: '1.0.0.0',
      hardwareDigest: createHash('sha256').update('hw').digest(),
    }),
    machine,
  ).doc,
);

const created = new Date('2024-12-31T23:45:00Z');

function fields(overrides: Partial<RacFields> = {}): RacFields {
  return {
    descriptorGuid: '{c1c1c1c1-2222-4333-8444-555555555555}',
    issuedTime: T0,
    validFrom: new Date('2024-12-31T23:45:00Z'),
    validUntil: T1,
    issuer: slc.issuer,
    activationUrl: 'https://rms.example.test/_wmcs/certification',
    extranetActivationUrl: 'https://rms.example.com/_wmcs/certification',
    identity: { idType: 'Windows', id: 'S-1-5-21-1-2-3-1104', email: 'alice@example.test', aliases: ['a@example.test', 'alice@old.example'] },
    publicKey: user.publicKey,
    credentialType: 'Persistent',
    credentialCreationTime: created,
    machine: {
      objectXml: spc.principalXml,
      enablingBits: blob(300, 0x11),
      securityLevels: { platform: spc.platform, manufacturer: spc.manufacturer, repository: spc.repositoryVersion },
    },
    ...overrides,
  };
}

describe('buildRac / readRac', () => {
  it('round-trips a RAC with a machine through sign, verify (SLC key) and read', () => {
    const f = fields();
    const { doc } = signAndVerify(buildRac(f), server);
    const rac = readRac(doc);
    expect(rac).toMatchObject({
      descriptorGuid: f.descriptorGuid,
      issuedTime: f.issuedTime,
      validFrom: f.validFrom,
      validUntil: f.validUntil,
      activationUrl: f.activationUrl,
      extranetActivationUrl: f.extranetActivationUrl,
      identity: f.identity,
      credentialType: 'Persistent',
      credentialCreationTime: created,
      enablingBits: f.machine!.enablingBits,
      machine: { objectXml: spc.principalXml, securityLevels: f.machine!.securityLevels },
    });
    expect(publicKeysEqual(rac.publicKey, user.publicKey)).toBe(true);
    expect(publicKeysEqual(rac.issuerPublicKey, server.publicKey)).toBe(true);
    expect(rac.issuer.id).toBe(slc.info.principal.id);
  });

  it('keeps the element order of PROTOCOL.md §4.6 RAC', () => {
    const doc = parseXrml(buildRac(fields()));
    expect(childNames(doc.body)).toEqual([
      'ISSUEDTIME',
      'VALIDITYTIME',
      'DESCRIPTOR',
      'ISSUER',
      'DISTRIBUTIONPOINT',
      'DISTRIBUTIONPOINT',
      'ISSUEDPRINCIPALS',
      'FEDERATIONPRINCIPALS',
    ]);
    const principal = requiredPath(doc.body, 'ISSUEDPRINCIPALS/PRINCIPAL');
    expect(principal.getAttribute('internal-id')).toBe('1');
    expect(childNames(principal)).toEqual(['OBJECT', 'PUBLICKEY', 'SECURITYLEVEL', 'SECURITYLEVEL', 'SECURITYLEVEL', 'SECURITYLEVEL']);
    expect(childNames(requiredPath(principal, 'OBJECT'))).toEqual(['ID', 'NAME', 'ADDRESS', 'ADDRESS']);
    const levels = Array.from(principal.getElementsByTagName('SECURITYLEVEL')).map((l) => `${l.getAttribute('name')}=${l.getAttribute('value')}`);
    expect(levels).toEqual([
      'Group-Identity-Credential-Type=Persistent',
      'Group-Identity-Type=Group',
      'Group-Identity-Policy=Group-Identity-Credential',
      'Credential-Creation-Time=2024-12-31T23:45',
    ]);
    const dps = Array.from(doc.body.getElementsByTagName('DISTRIBUTIONPOINT')).map((d) => requiredPath(d, 'OBJECT'));
    expect(dps.map((o) => o.getAttribute('type'))).toEqual(['Activation', 'Extranet-Activation']);
    expect(dps.map((o) => requiredPath(o, 'NAME').textContent)).toEqual(['Microsoft Identity Certification Server', 'Microsoft Identity Certification Server']);
    expect(childNames(requiredPath(doc.body, 'FEDERATIONPRINCIPALS/PRINCIPAL'))).toEqual([
      'OBJECT',
      'ENABLINGBITS',
      'SECURITYLEVEL',
      'SECURITYLEVEL',
      'SECURITYLEVEL',
    ]);
  });

  it('copies the SPC machine OBJECT byte for byte', () => {
    const { signed } = signAndVerify(buildRac(fields()), server);
    expect(signed).toContain(`<FEDERATIONPRINCIPALS><PRINCIPAL>${spc.principalXml}<ENABLINGBITS type="sealed-key-v2">`);
  });

  it('a precertify RAC has no FEDERATIONPRINCIPALS and reads without machine data', () => {
    const f = fields({ machine: undefined, extranetActivationUrl: undefined, credentialCreationTime: undefined, credentialType: 'Temporary' });
    const { doc } = signAndVerify(buildRac(f), server);
    expect(childNames(doc.body)).toEqual(['ISSUEDTIME', 'VALIDITYTIME', 'DESCRIPTOR', 'ISSUER', 'DISTRIBUTIONPOINT', 'ISSUEDPRINCIPALS']);
    const rac = readRac(doc);
    expect(rac.enablingBits).toBeUndefined();
    expect(rac.machine).toBeUndefined();
    expect(rac.extranetActivationUrl).toBeUndefined();
    expect(rac.credentialCreationTime).toBeUndefined();
    expect(rac.credentialType).toBe('Temporary');
    // Both RACs carry the same principal shape apart from the creation-time level.
    expect(rac.principalXml).toContain('<OBJECT type="Group-Identity"><ID type="Windows">S-1-5-21-1-2-3-1104</ID>');
  });

  it('principalXml is a verbatim substring of the signed RAC', () => {
    const { signed, doc } = signAndVerify(buildRac(fields()), server);
    const rac = readRac(doc);
    expect(rac.principalXml.startsWith('<PRINCIPAL internal-id="1"><OBJECT type="Group-Identity">')).toBe(true);
    expect(signed).toContain(rac.principalXml);
  });

  it('is an ordinary certificate to readCertificate and xmlsec1', () => {
    const { signed } = signAndVerify(buildRac(fields()), server);
    const info = readCertificate(signed);
    expect(info.descriptorType).toBe('Group-Identity-Credential');
    expect(info.principal.objectType).toBe('Group-Identity');
    expect(xmlsecVerify(signed, server.publicKey).status).toBe(0);
    expect(xmlsecVerify(signed, user.publicKey).status).not.toBe(0);
  });

  it.each([
    ['a DOCTYPE', '<!DOCTYPE OBJECT [<!ENTITY x "y">]><OBJECT type="M"><ID type="MS-GUID">&x;</ID></OBJECT>'],
    ['another element', '<PRINCIPAL><OBJECT type="M"><ID type="MS-GUID">x</ID></OBJECT></PRINCIPAL>'],
    ['two elements', '<OBJECT type="M"><ID type="x">1</ID></OBJECT><OBJECT/>'],
    ['a comment', '<OBJECT type="M"><!-- c --><ID type="x">1</ID></OBJECT>'],
    ['an element without ID', '<OBJECT type="M"><NAME>x</NAME></OBJECT>'],
    ['a duplicate-ID attack', '<OBJECT type="M" Id="a"><ID type="x" Id="a">1</ID></OBJECT>'],
    ['text, not XML', 'Machine</NAME></OBJECT><OBJECT>'],
  ])('refuses machine.objectXml with %s', (_label, objectXml) => {
    const f = fields();
    expect(errorCode(() => buildRac({ ...f, machine: { ...f.machine!, objectXml } }))).toBe('InvalidInput');
  });

  it('escapes markup in identity values and reads them back', () => {
    const email = `a<b>&"c'@example.test`;
    const { signed, doc } = signAndVerify(buildRac(fields({ identity: { idType: 'Federation', id: '</ID><ID>x', email } })), server);
    expect(signed).not.toContain('<b>');
    expect(readRac(doc).identity).toEqual({ idType: 'Federation', id: '</ID><ID>x', email });
  });

  it('refuses bad input', () => {
    expect(errorCode(() => buildRac(fields({ activationUrl: 'ftp://x' })))).toBe('InvalidInput');
    expect(errorCode(() => buildRac(fields({ credentialType: 'Forever' as 'Persistent' })))).toBe('InvalidInput');
    expect(errorCode(() => buildRac(fields({ identity: { idType: 'Kerberos' as 'Windows', id: 'x', email: 'e@x' } })))).toBe('InvalidInput');
    expect(errorCode(() => buildRac(fields({ identity: { idType: 'Windows', id: 'x', email: ' e@x' } })))).toBe('InvalidInput');
    expect(errorCode(() => buildRac(fields({ identity: { idType: 'Windows', id: '', email: 'e@x' } })))).toBe('InvalidInput');
    expect(errorCode(() => buildRac(fields({ descriptorGuid: 'nope' })))).toBe('InvalidInput');
    expect(errorCode(() => buildRac(fields({ validFrom: T1, validUntil: T0 })))).toBe('InvalidInput');
    const f = fields();
    expect(errorCode(() => buildRac({ ...f, machine: { ...f.machine!, enablingBits: Buffer.alloc(0) } }))).toBe('InvalidInput');
  });

  it('reader refuses a CLC-shaped or tampered RAC', () => {
    const xml = buildRac(fields());
    const read = (x: string) => readRac(parseXrml(x, { allowUnsigned: true }));
    expect(() => read(xml.replace('Group-Identity-Credential"', 'Client-Licensor-Certificate"'))).toThrow(/DESCRIPTOR OBJECT type/);
    expect(() => read(xml.replace('value="Persistent"', 'value="Forever"'))).toThrow(/Persistent or Temporary/);
    expect(() => read(xml.replace(/<VALIDITYTIME>.*?<\/VALIDITYTIME>/, ''))).toThrow(/lacks required <VALIDITYTIME>/);
    expect(() => read(xml.replace('</BODY>', '<CONDITIONLIST/></BODY>'))).toThrow(/unexpected <CONDITIONLIST>/);
    expect(() => read(xml.replace('type="sealed-key-v2"', 'type="sealed-key"'))).toThrow(/sealed-key/);
    expect(errorCode(() => readRac(parseXrml(xml)))).toBe('InvalidInput');
  });
});
