import { ContentKey } from '@openrms/keys';
import {
  assembleProtectedFile,
  contentAad,
  encodeHeader,
  MAX_HEADER_BYTES,
  parseProtectedFile,
  PROTECTED_FILE_MAGIC,
  type ProtectedFileHeader,
} from './protected-file';
import { isRmsClientError } from './rms-client-error';

const header: ProtectedFileHeader = {
  format: 1,
  plChain: ['<XrML version="1.2"><BODY/></XrML>', '<XrML version="1.2"><BODY/></XrML>', '<XrML version="1.2"><BODY/></XrML>'],
  licensingUrl: 'https://rms.example.test/_wmcs/licensing',
  contentId: '{11111111-2222-4333-8444-555555555555}',
  publisher: 'alice@example.test',
  declaredGrants: [{ grantee: 'bob@example.test', rights: ['VIEW', 'PRINT'] }],
  name: 'figures.txt',
  createdAt: '2026-11-25T10:00:00.000Z',
};

function protect(content: Buffer, h: ProtectedFileHeader = header): { file: Buffer; key: ContentKey } {
  const key = ContentKey.generate();
  const headerBytes = encodeHeader(h);
  return { file: assembleProtectedFile(headerBytes, key.encrypt(content, contentAad(headerBytes))), key };
}

function open(file: Buffer, key: ContentKey): Buffer {
  const parts = parseProtectedFile(file);
  return key.decrypt(parts.encryptedContent, contentAad(parts.headerBytes));
}

function formatError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isRmsClientError(e, 'format')) return e.message;
    throw e;
  }
  return 'no error';
}

function headerLength(file: Buffer): number {
  return file.readUInt32BE(8);
}

describe('protected file format', () => {
  const content = Buffer.from('the quarterly figures\n');

  it('round-trips: magic, big-endian header length, JSON header, content encrypted under the header', () => {
    const { file, key } = protect(content);
    expect(file.subarray(0, 8)).toEqual(PROTECTED_FILE_MAGIC);
    const parts = parseProtectedFile(file);
    expect(parts.header).toEqual(header);
    expect(headerLength(file)).toBe(parts.headerBytes.length);
    expect(JSON.parse(parts.headerBytes.toString('utf8'))).toEqual(header);
    expect(open(file, key)).toEqual(content);
  });

  it('round-trips empty content', () => {
    const { file, key } = protect(Buffer.alloc(0));
    expect(open(file, key)).toEqual(Buffer.alloc(0));
  });

  it('a changed header breaks decryption, even when it is still valid JSON of the same length', () => {
    const { file, key } = protect(content);
    const text = file.toString('latin1');
    const forged = Buffer.from(text.replace('"VIEW","PRINT"', '"VIEW","EDIT" '), 'latin1');
    expect(forged.length).toBe(file.length);
    expect(parseProtectedFile(forged).header.declaredGrants[0]!.rights).toEqual(['VIEW', 'EDIT']);
    expect(() => open(forged, key)).toThrow(/altered/);
  });

  it('a changed ciphertext byte, IV or tag breaks decryption', () => {
    const { file, key } = protect(content);
    const start = 12 + headerLength(file);
    for (const at of [start, start + 13, file.length - 1]) {
      const bad = Buffer.from(file);
      bad[at]! ^= 0x01;
      expect(() => open(bad, key)).toThrow(/altered/);
    }
  });

  it('another content key cannot open it', () => {
    const { file } = protect(content);
    expect(() => open(file, ContentKey.generate())).toThrow(/altered/);
  });

  it('rejects a wrong magic, bad lengths and truncation with clear errors', () => {
    const { file } = protect(content);
    const withLength = (n: number) => {
      const b = Buffer.from(file);
      b.writeUInt32BE(n, 8);
      return b;
    };
    expect(formatError(() => parseProtectedFile(Buffer.from('OPENRMS2rest-of-it')))).toMatch(/does not start with OPENRMS1/);
    expect(formatError(() => parseProtectedFile(Buffer.from('PK\u0003\u0004')))).toMatch(/does not start with OPENRMS1/);
    expect(formatError(() => parseProtectedFile(Buffer.alloc(0)))).toMatch(/does not start with OPENRMS1/);
    expect(formatError(() => parseProtectedFile(file.subarray(0, 10)))).toMatch(/ends before the header length/);
    expect(formatError(() => parseProtectedFile(withLength(0)))).toMatch(/header is empty/);
    expect(formatError(() => parseProtectedFile(withLength(MAX_HEADER_BYTES + 1)))).toMatch(/more than 4194304/);
    expect(formatError(() => parseProtectedFile(withLength(0xffffffff)))).toMatch(/more than 4194304/);
    expect(formatError(() => parseProtectedFile(withLength(file.length)))).toMatch(/file ends before that/);
    // One byte less: the JSON loses its closing brace.
    expect(formatError(() => parseProtectedFile(withLength(headerLength(file) - 1)))).toMatch(/not JSON/);
    expect(formatError(() => parseProtectedFile(file.subarray(0, 12 + headerLength(file) + 27)))).toMatch(/truncated/);
  });

  it('rejects headers that are not the format-1 object', () => {
    const build = (json: string) => assembleProtectedFile(Buffer.from(json, 'utf8'), Buffer.alloc(40));
    const good = JSON.parse(JSON.stringify(header)) as Record<string, unknown>;
    const variant = (patch: Record<string, unknown>) => build(JSON.stringify({ ...good, ...patch }));
    expect(formatError(() => parseProtectedFile(build('[1,2]')))).toMatch(/not a JSON object/);
    expect(formatError(() => parseProtectedFile(build('{"format":1')))).toMatch(/not JSON/);
    expect(formatError(() => parseProtectedFile(assembleProtectedFile(Buffer.from([0x7b, 0xff, 0x7d]), Buffer.alloc(40))))).toMatch(/not UTF-8/);
    expect(formatError(() => parseProtectedFile(variant({ format: 2 })))).toMatch(/format 2 is not supported/);
    expect(formatError(() => parseProtectedFile(variant({ extra: true })))).toMatch(/unknown header field "extra"/);
    expect(formatError(() => parseProtectedFile(variant({ plChain: ['<XrML/>'] })))).toMatch(/plChain/);
    expect(formatError(() => parseProtectedFile(variant({ plChain: ['<XrML/>', 42] })))).toMatch(/plChain member 1/);
    expect(formatError(() => parseProtectedFile(variant({ publisher: '' })))).toMatch(/"publisher"/);
    expect(formatError(() => parseProtectedFile(variant({ createdAt: 'yesterday' })))).toMatch(/not a date/);
    expect(formatError(() => parseProtectedFile(variant({ declaredGrants: [{ grantee: 'bob@example.test', rights: [] }] })))).toMatch(/rights/);
    const { contentId: _omitted, ...missing } = good;
    expect(formatError(() => parseProtectedFile(build(JSON.stringify(missing))))).toMatch(/lacks "contentId"/);
  });

  it('refuses to write a header it would refuse to read', () => {
    expect(() => encodeHeader({ ...header, plChain: [] })).toThrow(/plChain/);
  });
});
