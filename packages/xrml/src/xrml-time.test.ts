import { isRmsError } from '@openrms/domain';
import { floorToXrmlMinute, formatXrmlTime, parseXrmlTime } from './xrml-time';

describe('XrML times', () => {
  it('emits minute-precision UTC, the form every protocol example uses', () => {
    expect(formatXrmlTime(new Date('2010-06-11T20:50:00Z'))).toBe('2010-06-11T20:50');
    expect(formatXrmlTime(new Date('2024-02-29T03:04:05.678Z'))).toBe('2024-02-29T03:04');
  });

  it('rounds down to the minute', () => {
    const d = new Date('2025-05-05T10:20:59.999Z');
    expect(formatXrmlTime(d)).toBe('2025-05-05T10:20');
    expect(floorToXrmlMinute(d).toISOString()).toBe('2025-05-05T10:20:00.000Z');
  });

  it('round-trips through parse', () => {
    for (const iso of ['2010-06-11T20:50:00.000Z', '1999-12-31T23:59:00.000Z', '2038-01-19T03:14:00.000Z']) {
      expect(parseXrmlTime(formatXrmlTime(new Date(iso))).toISOString()).toBe(iso);
    }
  });

  it('accepts seconds, fractions and Z from other writers', () => {
    expect(parseXrmlTime('2010-06-11T20:50').toISOString()).toBe('2010-06-11T20:50:00.000Z');
    expect(parseXrmlTime('2010-06-11T20:50Z').toISOString()).toBe('2010-06-11T20:50:00.000Z');
    expect(parseXrmlTime('2010-06-11T20:50:07').toISOString()).toBe('2010-06-11T20:50:07.000Z');
    expect(parseXrmlTime('2010-06-11T20:50:07Z').toISOString()).toBe('2010-06-11T20:50:07.000Z');
    expect(parseXrmlTime(' 2010-06-11T20:50:07.1234567Z ').toISOString()).toBe('2010-06-11T20:50:07.123Z');
  });

  it.each([
    '',
    'yesterday',
    '2010-06-11',
    '2010-06-11 20:50',
    '2010-06-11T20:50+02:00',
    '2010-13-01T00:00',
    '2023-02-29T00:00',
    '2010-06-11T24:00',
    '2010-06-11T20:60',
    '0050-01-01T00:00',
  ])('rejects %j with InvalidInput', (s) => {
    let err: unknown;
    try {
      parseXrmlTime(s);
    } catch (e) {
      err = e;
    }
    expect(isRmsError(err, 'InvalidInput')).toBe(true);
  });

  it('refuses to format an invalid date', () => {
    expect(() => formatXrmlTime(new Date(NaN))).toThrow(expect.objectContaining({ code: 'InvalidInput' }));
  });
});
