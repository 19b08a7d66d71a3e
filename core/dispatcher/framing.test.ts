// The response framing rules on their own: what length a head promises, and when a body breaks it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkInformational, checkResponseHead, overrun, shortfall } from './framing.ts';

test('statuses that cannot end a response are violations', () => {
  assert.deepEqual(checkResponseHead('GET', 99, []), { ok: false, violation: 'bad-status' });
  assert.deepEqual(checkResponseHead('GET', 600, []), { ok: false, violation: 'bad-status' });
  assert.deepEqual(checkResponseHead('GET', 999, []), { ok: false, violation: 'bad-status' });
  assert.deepEqual(checkResponseHead('GET', 100, []), { ok: false, violation: 'interim-status' });
  assert.deepEqual(checkResponseHead('GET', 101, ['upgrade', 'websocket']), { ok: false, violation: 'interim-status' });
  assert.deepEqual(checkResponseHead('GET', 103, []), { ok: false, violation: 'interim-status' });
  assert.equal(checkResponseHead('GET', 200, []).ok, true);
  assert.equal(checkResponseHead('GET', 599, []).ok, true);
});

test('content-length promises an exact body; repeated equal values are one length', () => {
  assert.deepEqual(checkResponseHead('GET', 200, ['Content-Length', '12']), { ok: true, body: { kind: 'exact', bytes: 12 } });
  assert.deepEqual(checkResponseHead('GET', 200, ['content-length', '5, 5']), { ok: true, body: { kind: 'exact', bytes: 5 } });
  assert.deepEqual(checkResponseHead('GET', 200, ['content-length', '5', 'content-length', '5']), { ok: true, body: { kind: 'exact', bytes: 5 } });
  for (const bad of ['5, 6', '-1', 'abc', '', '1e3', '0x10']) {
    assert.deepEqual(checkResponseHead('GET', 200, ['content-length', bad]), { ok: false, violation: 'bad-length' }, bad);
  }
  assert.deepEqual(checkResponseHead('GET', 200, ['content-length', '5', 'content-length', '6']), { ok: false, violation: 'bad-length' });
});

test('no length, or transfer-encoding, allows any body', () => {
  assert.deepEqual(checkResponseHead('GET', 200, ['content-type', 'text/plain']), { ok: true, body: { kind: 'any' } });
  assert.deepEqual(checkResponseHead('POST', 200, ['transfer-encoding', 'chunked', 'content-length', '3']), { ok: true, body: { kind: 'any' } });
});

test('HEAD, 204 and 304 carry no body whatever their content-length says', () => {
  for (const [method, status] of [['HEAD', 200], ['GET', 204], ['GET', 304]] as const) {
    assert.deepEqual(checkResponseHead(method, status, ['content-length', '100']), { ok: true, body: { kind: 'exact', bytes: 0 } });
  }
});

test('overrun and shortfall against the promised length', () => {
  const exact = { kind: 'exact', bytes: 10 } as const;
  assert.equal(overrun(exact, 10), false);
  assert.equal(overrun(exact, 11), true);
  assert.equal(shortfall(exact, 9), true);
  assert.equal(shortfall(exact, 10), false);
  assert.equal(overrun({ kind: 'any' }, 1e12), false);
  assert.equal(shortfall({ kind: 'any' }, 0), false);
});

test('an informational head (RES_INFO) is a 1xx other than 101', () => {
  for (const status of [100, 102, 103, 150, 199]) assert.equal(checkInformational(status), null, String(status));
  for (const status of [101, 200, 204, 299, 404, 99, 600]) assert.equal(checkInformational(status), 'bad-status', String(status));
});
