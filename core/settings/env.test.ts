// The readers every component's settings go through: what each accepts, what it refuses, and that
// every refusal is the one SettingError shape that callers and start-up code rely on.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  boolean,
  decimal,
  envReader,
  host,
  integer,
  milliseconds,
  oneOf,
  option,
  parseValue,
  port,
  refine,
  secret,
  sha256Fingerprint,
  SETTING_INVALID,
  SettingError,
  statusList,
  text,
  urlPath,
  url,
  type Reader,
} from './env.ts';
import { assertSettingError } from './fixtures/assert.ts';

function accepts<T>(r: Reader<T>, cases: [string, T][]): void {
  for (const [raw, want] of cases) assert.deepEqual(r(raw, 'X'), want, JSON.stringify(raw));
}

function refuses(r: Reader<unknown>, cases: string[]): void {
  for (const raw of cases) assertSettingError(() => r(raw, 'X'), 'X');
}

describe('SettingError', () => {
  test('carries a stable code, the setting, the value and what was expected; is a RangeError', () => {
    const err = new SettingError('LAMBDA_DISPATCH_MaxConcurrentCount', 'abc', 'an integer from 1 to 10000');
    assert.equal(err.message, 'LAMBDA_DISPATCH_MaxConcurrentCount must be an integer from 1 to 10000, got "abc"');
    assert.equal(err.code, SETTING_INVALID);
    assert.equal(err.name, 'SettingError');
    assert.equal(err.value, 'abc');
    assert.equal(err.expected, 'an integer from 1 to 10000');
    assert.ok(err instanceof RangeError);
    assert.equal(new SettingError('opt', -1, 'a non-negative number').message, 'opt must be a non-negative number, got -1');
  });
});

describe('readers', () => {
  test('integer: decimal digits within bounds only', () => {
    const r = integer({ min: 1, max: 10_000 });
    accepts(r, [['1', 1], [' 42 ', 42], ['10000', 10_000], ['+7', 7]]);
    refuses(r, ['abc', '0', '10001', '1.5', '5.0', '1e3', '0x10', 'Infinity', '-1', '']);
    assertSettingError(() => r('abc', 'LAMBDA_DISPATCH_MaxConcurrentCount'), 'LAMBDA_DISPATCH_MaxConcurrentCount', /^LAMBDA_DISPATCH_MaxConcurrentCount must be an integer from 1 to 10000, got "abc"$/);
    assertSettingError(() => integer({ min: 1 })('0', 'N'), 'N', /must be an integer ≥ 1, got "0"/);
    assertSettingError(() => integer({ min: 0 })('-1', 'N'), 'N', /must be a non-negative integer/);
  });

  test('decimal: plain decimal notation within bounds', () => {
    accepts(decimal({ min: 0.001, max: 3600 }), [['0.5', 0.5], ['60', 60], ['.25', 0.25], ['3600', 3600]]);
    refuses(decimal({ min: 0.001, max: 3600 }), ['0', '3600.5', 'NaN', '1e2', 'x', '1,5']);
    assertSettingError(() => decimal({ positive: true })('0', 'N'), 'N', /must be a positive number/);
    assertSettingError(() => decimal({ min: 0 })('-0.5', 'N'), 'N', /must be a non-negative number/);
  });

  test('milliseconds: never negative; whole when asked', () => {
    accepts(milliseconds(), [['0', 0], ['1500', 1500], ['2.5', 2.5]]);
    refuses(milliseconds(), ['-1', 'abc', '1s']);
    assertSettingError(() => milliseconds()('-1', 'T'), 'T', /^T must be a non-negative number of milliseconds, got "-1"$/);
    const whole = milliseconds({ whole: true, min: 50, max: 60_000 });
    accepts(whole, [['50', 50], ['60000', 60_000]]);
    refuses(whole, ['49', '60001', '100.5']);
    assertSettingError(() => whole('10', 'P'), 'P', /must be a whole number of milliseconds from 50 to 60000/);
  });

  test('port: 1..65535, or 0..65535 where an ephemeral port makes sense', () => {
    accepts(port(), [['1', 1], ['65535', 65_535]]);
    refuses(port(), ['0', '65536', 'http', '80.0']);
    accepts(port({ allowZero: true }), [['0', 0]]);
    assertSettingError(() => port()('x', 'P'), 'P', /must be a port number \(1\.\.65535\), got "x"/);
  });

  test('boolean: true/false, 1/0, yes/no in any case', () => {
    accepts(boolean, [['true', true], ['TRUE', true], ['1', true], ['yes', true], [' Yes ', true], ['false', false], ['0', false], ['no', false], ['NO', false]]);
    refuses(boolean, ['on', 'off', 'y', '2', 'truthy']);
    assertSettingError(() => boolean('maybe', 'B'), 'B', /^B must be true or false .*got "maybe"$/);
  });

  test('oneOf: case-insensitive, answers in the allowed spelling', () => {
    const r = oneOf(['simple', 'ewma']);
    accepts(r, [['simple', 'simple'], ['EWMA', 'ewma'], [' ewma ', 'ewma']]);
    assertSettingError(() => r('fast', 'A'), 'A', /^A must be one of simple, ewma, got "fast"$/);
  });

  test('oneOf checks a value given in code too', () => {
    const r = oneOf(['http', 'tcp']);
    assert.equal(r.check('TCP', 'O'), 'tcp');
    assertSettingError(() => r.check(1, 'O'), 'O', /^O must be one of http, tcp, got 1$/);
  });

  test('urlPath: starts with /, no spaces, query or fragment', () => {
    accepts(urlPath, [['/events', '/events'], [' /a/b/ ', '/a/b/'], ['/', '/']]);
    for (const bad of ['events', '/a b', '/a?b', '/a#b', 'http://x/a']) assertSettingError(() => urlPath(bad, 'P'), 'P', /a path starting with \//);
    assertSettingError(() => urlPath.check(7, 'P'), 'P');
  });

  test('statusList: statuses and ranges, as text or (in code) a list of statuses', () => {
    accepts(statusList, [['200-399,404', [[200, 399], [404, 404]]], ['100-599', [[100, 599]]], [' 204 ', [[204, 204]]]]);
    for (const bad of ['2xx', '600', '099', '300-200', '200-', '-200', ',', '200 404']) assertSettingError(() => statusList(bad, 'S'), 'S');
    assert.deepEqual(statusList.check([200, 404], 'S'), [[200, 200], [404, 404]]);
    assert.deepEqual(statusList.check('200-299', 'S'), [[200, 299]]);
    for (const bad of [[], [99], [200.5], 200, null]) assertSettingError(() => statusList.check(bad, 'S'), 'S');
  });

  test('text: trimmed', () => {
    accepts(text, [['  a b  ', 'a b']]);
  });

  test('host: an IP address or a host name, without port or scheme', () => {
    accepts(host, [['127.0.0.1', '127.0.0.1'], ['0.0.0.0', '0.0.0.0'], ['::', '::'], ['::1', '::1'], ['localhost', 'localhost'], ['ip-10-0-0-1.ec2.internal', 'ip-10-0-0-1.ec2.internal'], [' example.com ', 'example.com']]);
    refuses(host, ['localhost:5001', 'http://x', '999.1.1.1', '1.2.3', 'a b', '-bad.example', 'x/y']);
  });

  test('url: the listed schemes, with a host; given back as written', () => {
    const ws = url(['ws:', 'wss:']);
    accepts(ws, [['ws://r:5003', 'ws://r:5003'], ['WS://R', 'WS://R'], ['wss://router.example/', 'wss://router.example/'], [' ws://r ', 'ws://r']]);
    refuses(ws, ['http://x', 'ws://', 'ws:/x', 'ws:x', 'r:5003', 'not a url']);
    assertSettingError(() => ws('http://x', '--router'), '--router', /must be ws:\/\/ or wss:\/\//);
    refuses(url(['http:', 'https:']), ['ws://x', 'ftp://x']);
  });

  test('sha256Fingerprint: 64 hex digits or openssl\'s colon pairs, given back as lower-case hex', () => {
    const hex = 'ab'.repeat(32);
    const pairs = Array.from({ length: 32 }, () => 'AB').join(':');
    accepts(sha256Fingerprint, [[hex, hex], [hex.toUpperCase(), hex], [` ${pairs} `, hex], [`sha256 Fingerprint=${pairs}`, hex]]);
    refuses(sha256Fingerprint, ['ab'.repeat(31), 'ab'.repeat(33), 'zz'.repeat(32), `${pairs}:`, 'ab:cd', hex.slice(0, 63) + 'g']);
  });

  test('secret: long enough, no surrounding whitespace or control characters, never echoed', () => {
    const r = secret({ minLength: 16 });
    accepts(r, [['a-secret-of-16-c', 'a-secret-of-16-c'], ['with inner spaces ok', 'with inner spaces ok']]);
    for (const bad of ['short', ' a-secret-with-a-leading-space', 'a-secret-with-a-trailing-newline\n', 'a-secret\u0000with-a-nul-in-it', '                ']) {
      const err = assertSettingError(() => r(bad, 'S'), 'S', /must be at least 16 characters/);
      if (bad.trim() === '') continue;
      assert.ok(!err.message.includes(bad.trim()), 'the secret is not in the message');
      assert.ok(!String(err.value).includes(bad.trim()), 'nor in the value');
    }
    assert.equal(r.verbatim, true);
  });

  test('refine: narrows a reader, for text and for code values', () => {
    const pow2 = refine(integer({ min: 1 }), (v) => (v & (v - 1)) === 0, 'a power of two');
    assert.equal(pow2('64', 'R'), 64);
    assertSettingError(() => pow2('100', 'R'), 'R', /^R must be a power of two, got "100"$/);
    assertSettingError(() => pow2('x', 'R'), 'R', /must be an integer/);
    assert.equal(pow2.check?.(8, 'R'), 8);
    assertSettingError(() => pow2.check?.(6, 'R'), 'R', /power of two, got 6/);
  });
});

describe('helpers', () => {
  test('envReader: unset or blank gives the fallback; a value is parsed; a bad one names the variable', () => {
    const read = envReader({ A: '5', BLANK: '  ', BAD: 'x' });
    assert.equal(read('A', integer(), 1), 5);
    assert.equal(read('UNSET', integer(), 1), 1);
    assert.equal(read('BLANK', integer(), 1), 1);
    assert.equal(read('UNSET', integer()), undefined);
    assertSettingError(() => read('BAD', integer(), 1), 'BAD');
  });

  test('envReader: a secret is taken verbatim, so only an empty one is unset', () => {
    const read = envReader({ EMPTY: '', SPACES: '                    ' });
    assert.equal(read('EMPTY', secret({ minLength: 16 })), undefined);
    assertSettingError(() => read('SPACES', secret({ minLength: 16 })), 'SPACES', /whitespace/);
  });

  test('parseValue: the same rules for text that comes from a flag', () => {
    assert.equal(parseValue('--n', undefined, integer()), undefined);
    assert.equal(parseValue('--n', '', integer()), undefined);
    assert.equal(parseValue('--n', '3', integer()), 3);
    assertSettingError(() => parseValue('--n', 'three', integer()), '--n');
  });

  test('option: a value given in code is checked by type and bounds, naming the option', () => {
    assert.equal(option('O.n', undefined, integer({ min: 1 }), 7), 7);
    assert.equal(option('O.n', 3, integer({ min: 1 }), 7), 3);
    assertSettingError(() => option('O.n', 0, integer({ min: 1 }), 7), 'O.n', /^O\.n must be an integer ≥ 1, got 0$/);
    assertSettingError(() => option('O.n', 1.5, integer({ min: 1 }), 7), 'O.n');
    assertSettingError(() => option('O.n', '3', integer({ min: 1 }), 7), 'O.n', /got "3"/);
    assertSettingError(() => option('O.n', Number.NaN, decimal({ min: 0 }), 7), 'O.n');
    assert.equal(option('O.b', false, boolean, true), false);
    assertSettingError(() => option('O.b', 'false', boolean, true), 'O.b', /must be true or false/);
  });
});
