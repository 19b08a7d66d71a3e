// The response parser on its own, fed the exact bytes Node's http.Server emits: a real server and
// ServerResponse write into an in-memory socket (socket.ts) whose peer only records them. Every
// response is also fed byte by byte and in every split into two pieces, which must not change
// what comes out. Malformed input must end in an error event with a stable code, never a throw.

import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, test } from 'node:test';
import { ResponseParser, type ResponseEvent, type ResponseHead } from './response-parser.ts';
import { ServerSocket } from './socket.ts';

/**
 * What Node's server writes when `requests` (raw bytes) arrive on one connection: waits for
 * `responses` responses to finish, or for the server to end the connection.
 */
async function nodeBytes(handler: http.RequestListener, requests: string, responses = 1): Promise<Buffer> {
  const server = http.createServer(handler);
  const written: Buffer[] = [];
  let finished = 0;
  let done!: () => void;
  const over = new Promise<void>((r) => (done = r));
  server.on('request', (_req, res: http.ServerResponse) => {
    res.on('finish', () => {
      if (++finished === responses) setImmediate(done);
    });
  });
  const socket = new ServerSocket(
    {
      serverWantsMore: () => {},
      fromServer: (chunk, callback) => {
        written.push(Buffer.from(chunk));
        callback?.();
      },
      serverEnded: () => setImmediate(done),
      responseFinished: () => {},
    },
    80,
    40_000,
  );
  server.emit('connection', socket);
  socket.feed(Buffer.from(requests, 'latin1'));
  await over;
  socket.destroy();
  server.close();
  return Buffer.concat(written);
}

interface Outcome {
  interim: ResponseHead[];
  responses: { head: ResponseHead; closeAfter: boolean; body: string; trailers: string[] | null }[];
  errors: string[];
  ends: number;
}

/** Events folded into what does not depend on how the input was split. */
function fold(events: ResponseEvent[]): Outcome {
  const out: Outcome = { interim: [], responses: [], errors: [], ends: 0 };
  for (const ev of events) {
    const last = out.responses[out.responses.length - 1];
    if (ev.kind === 'interim') out.interim.push(ev.head);
    else if (ev.kind === 'head') out.responses.push({ head: ev.head, closeAfter: ev.closeAfter, body: '', trailers: null });
    else if (ev.kind === 'body') last!.body += ev.data.toString('latin1');
    else if (ev.kind === 'trailers') last!.trailers = ev.rawTrailers;
    else if (ev.kind === 'end') out.ends++;
    else out.errors.push(ev.error.code);
  }
  // One error is reported once however many pushes meet it.
  out.errors = [...new Set(out.errors)];
  return out;
}

function parse(pieces: Buffer[], methods: string[], eof = false): Outcome {
  const p = new ResponseParser();
  for (const m of methods) p.expect(m);
  const events: ResponseEvent[] = [];
  for (const piece of pieces) events.push(...p.push(piece));
  if (eof) events.push(...p.end());
  return fold(events);
}

/** Parses `bytes` whole, byte by byte and in every 2-piece split; all must agree. Returns the outcome. */
function parseEveryWay(bytes: Buffer, methods: string[], eof = false): Outcome {
  const whole = parse([bytes], methods, eof);
  const single: Buffer[] = [];
  for (let i = 0; i < bytes.length; i++) single.push(bytes.subarray(i, i + 1));
  assert.deepEqual(parse(single, methods, eof), whole, 'byte by byte');
  for (let i = 1; i < bytes.length; i++) {
    assert.deepEqual(parse([bytes.subarray(0, i), bytes.subarray(i)], methods, eof), whole, `split at ${i}`);
  }
  return whole;
}

function header(head: ResponseHead, name: string): string | undefined {
  for (let i = 0; i < head.rawHeaders.length; i += 2) if (head.rawHeaders[i]!.toLowerCase() === name) return head.rawHeaders[i + 1];
  return undefined;
}

const GET = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';

describe('response parser against Node’s serializer', () => {
  test('a Content-Length body', async () => {
    const bytes = await nodeBytes((_req, res) => res.writeHead(200, { 'content-length': 5, 'x-a': ' spaced ' }).end('hello'), GET);
    const r = parseEveryWay(bytes, ['GET']);
    assert.deepEqual(r.errors, []);
    assert.equal(r.ends, 1);
    const [res] = r.responses;
    assert.equal(res!.head.statusCode, 200);
    assert.equal(res!.head.statusMessage, 'OK');
    assert.equal(res!.head.httpVersion, '1.1');
    assert.equal(header(res!.head, 'content-length'), '5');
    assert.equal(header(res!.head, 'x-a'), 'spaced');
    assert.equal(res!.body, 'hello');
    assert.equal(res!.closeAfter, false);
  });

  test('a chunked body with trailers', async () => {
    const bytes = await nodeBytes((_req, res) => {
      res.writeHead(200, { trailer: 'x-checksum' });
      res.write('ab');
      res.write('cde');
      res.addTrailers({ 'x-checksum': 'abc123', 'x-more': 'yes' });
      res.end('f');
    }, GET);
    assert.match(bytes.toString('latin1'), /transfer-encoding: chunked/i);
    const r = parseEveryWay(bytes, ['GET']);
    assert.deepEqual(r.errors, []);
    assert.equal(r.ends, 1);
    assert.equal(r.responses[0]!.body, 'abcdef');
    assert.deepEqual(r.responses[0]!.trailers, ['x-checksum', 'abc123', 'x-more', 'yes']);
  });

  test('a chunked body with chunk extensions (which Node never writes, so they are added)', async () => {
    const bytes = await nodeBytes((_req, res) => {
      res.write('hello ');
      res.end('world');
    }, GET);
    const text = bytes.toString('latin1');
    const at = text.indexOf('\r\n\r\n') + 4;
    const withExt = text.slice(0, at) + text.slice(at).replace(/^([0-9a-f]+)\r\n/gim, '$1;name=value; quoted="a;b"\r\n');
    assert.notEqual(withExt, text);
    const r = parseEveryWay(Buffer.from(withExt, 'latin1'), ['GET']);
    assert.deepEqual(r.errors, []);
    assert.equal(r.responses[0]!.body, 'hello world');
    assert.equal(r.responses[0]!.trailers, null);
    assert.equal(r.ends, 1);
  });

  test('100 Continue before the final response', async () => {
    const bytes = await nodeBytes(
      (req, res) => {
        req.resume();
        req.on('end', () => res.writeHead(201, { 'content-length': 2 }).end('ok'));
      },
      'POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc',
    );
    assert.match(bytes.toString('latin1'), /^HTTP\/1\.1 100 Continue\r\n/);
    const r = parseEveryWay(bytes, ['POST']);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(
      r.interim.map((h) => h.statusCode),
      [100],
    );
    assert.equal(r.responses.length, 1);
    assert.equal(r.responses[0]!.head.statusCode, 201);
    assert.equal(r.responses[0]!.body, 'ok');
    assert.equal(r.ends, 1);
  });

  test('103 Early Hints before the final response', async () => {
    const bytes = await nodeBytes((_req, res) => {
      res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
      res.writeHead(200, { 'content-length': 3 }).end('hey');
    }, GET);
    const r = parseEveryWay(bytes, ['GET']);
    assert.deepEqual(r.errors, []);
    assert.equal(r.interim.length, 1);
    assert.equal(r.interim[0]!.statusCode, 103);
    assert.equal(header(r.interim[0]!, 'link'), '</style.css>; rel=preload; as=style');
    assert.equal(r.responses[0]!.head.statusCode, 200);
    assert.equal(r.responses[0]!.body, 'hey');
  });

  test('a HEAD response has no body despite its Content-Length', async () => {
    const bytes = await nodeBytes((_req, res) => res.writeHead(200, { 'content-length': 5 }).end('hello'), 'HEAD / HTTP/1.1\r\nHost: x\r\n\r\n');
    const r = parseEveryWay(bytes, ['HEAD']);
    assert.deepEqual(r.errors, []);
    assert.equal(header(r.responses[0]!.head, 'content-length'), '5');
    assert.equal(r.responses[0]!.body, '');
    assert.equal(r.ends, 1);
  });

  for (const status of [204, 304]) {
    test(`${status} has no body`, async () => {
      const bytes = await nodeBytes((_req, res) => res.writeHead(status, { etag: '"x"' }).end(), GET);
      const r = parseEveryWay(bytes, ['GET']);
      assert.deepEqual(r.errors, []);
      assert.equal(r.responses[0]!.head.statusCode, status);
      assert.equal(r.responses[0]!.body, '');
      assert.equal(r.ends, 1);
    });
  }

  test('a body delimited by the connection’s end (Connection: close)', async () => {
    const bytes = await nodeBytes((_req, res) => {
      res.useChunkedEncodingByDefault = false;
      res.writeHead(200, { connection: 'close' });
      res.write('until ');
      res.end('the end');
    }, GET);
    assert.doesNotMatch(bytes.toString('latin1'), /transfer-encoding|content-length/i);
    const r = parseEveryWay(bytes, ['GET'], true);
    assert.deepEqual(r.errors, []);
    assert.equal(r.responses[0]!.body, 'until the end');
    assert.equal(r.responses[0]!.closeAfter, true);
    assert.equal(r.ends, 1);
    // Without the connection's end the body is not over.
    assert.equal(parse([bytes], ['GET']).ends, 0);
  });

  test('keep-alive: two responses back to back', async () => {
    let n = 0;
    const bytes = await nodeBytes(
      (_req, res) => {
        n++;
        if (n === 1) res.writeHead(200, { 'content-length': 3 }).end('one');
        else {
          res.write('tw');
          res.end('o');
        }
      },
      GET + GET,
      2,
    );
    const r = parseEveryWay(bytes, ['GET', 'GET']);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(
      r.responses.map((x) => [x.body, x.closeAfter]),
      [
        ['one', false],
        ['two', false],
      ],
    );
    assert.equal(r.ends, 2);
  });

  test('a HEAD then a GET back to back: the framing follows each request', async () => {
    const bytes = await nodeBytes((_req, res) => res.writeHead(200, { 'content-length': 4 }).end('body'), 'HEAD / HTTP/1.1\r\nHost: x\r\n\r\n' + GET, 2);
    const r = parseEveryWay(bytes, ['HEAD', 'GET']);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(
      r.responses.map((x) => x.body),
      ['', 'body'],
    );
  });
});

function errorOf(input: string, methods = ['GET'], eof = false, maxHeadBytes?: number): string[] {
  const bytes = Buffer.from(input, 'latin1');
  const run = (pieces: Buffer[]) => {
    const p = new ResponseParser(maxHeadBytes !== undefined ? { maxHeadBytes } : {});
    for (const m of methods) p.expect(m);
    const events: ResponseEvent[] = [];
    for (const piece of pieces) events.push(...p.push(piece));
    if (eof) events.push(...p.end());
    // A failed parser stays failed: more input gives the same error, no throw.
    events.push(...p.push(Buffer.from('more')));
    assert.equal(p.state, 'failed');
    return fold(events).errors;
  };
  const whole = run([bytes]);
  const single: Buffer[] = [];
  for (let i = 0; i < bytes.length; i++) single.push(bytes.subarray(i, i + 1));
  assert.deepEqual(run(single), whole);
  for (let i = 1; i < bytes.length; i++) assert.deepEqual(run([bytes.subarray(0, i), bytes.subarray(i)]), whole);
  return whole;
}

describe('response parser: malformed input', () => {
  test('a bad status line', () => {
    assert.deepEqual(errorOf('HTTP/1.1 2x0 OK\r\n\r\n'), ['ERR_RESPONSE_PARSE_STATUS_LINE']);
    assert.deepEqual(errorOf('HTTP/2 200 OK\r\n\r\n'), ['ERR_RESPONSE_PARSE_STATUS_LINE']);
    assert.deepEqual(errorOf('garbage\r\n\r\n'), ['ERR_RESPONSE_PARSE_STATUS_LINE']);
  });

  test('a header line without a name or colon', () => {
    assert.deepEqual(errorOf('HTTP/1.1 200 OK\r\nno colon here\r\n\r\n'), ['ERR_RESPONSE_PARSE_HEADER']);
    assert.deepEqual(errorOf('HTTP/1.1 200 OK\r\n: empty\r\n\r\n'), ['ERR_RESPONSE_PARSE_HEADER']);
    assert.deepEqual(errorOf('HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n'), ['ERR_RESPONSE_PARSE_HEADER']);
  });

  test('a bad or conflicting Content-Length', () => {
    assert.deepEqual(errorOf('HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n'), ['ERR_RESPONSE_PARSE_CONTENT_LENGTH']);
    assert.deepEqual(errorOf('HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'), ['ERR_RESPONSE_PARSE_CONTENT_LENGTH']);
    assert.deepEqual(errorOf('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab'), ['ERR_RESPONSE_PARSE_CONTENT_LENGTH']);
  });

  test('a bad chunk size, and a chunk longer than its size', () => {
    assert.deepEqual(errorOf('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'), ['ERR_RESPONSE_PARSE_CHUNK_SIZE']);
    assert.deepEqual(errorOf('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n'), ['ERR_RESPONSE_PARSE_CHUNK_SIZE']);
    assert.deepEqual(errorOf('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n'), ['ERR_RESPONSE_PARSE_CHUNK_END']);
  });

  test('bytes nobody asked for, and bytes after 101 Switching Protocols', () => {
    assert.deepEqual(errorOf('HTTP/1.1 200 OK\r\n\r\n', []), ['ERR_RESPONSE_PARSE_UNSOLICITED']);
    assert.deepEqual(errorOf('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n'), ['ERR_RESPONSE_PARSE_UNSOLICITED']);
    assert.deepEqual(errorOf('HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n\x00\x01'), ['ERR_RESPONSE_PARSE_AFTER_UPGRADE']);
  });

  test('the connection ends before the response is complete', () => {
    assert.deepEqual(errorOf('', ['GET'], true), ['ERR_RESPONSE_PARSE_TRUNCATED']);
    assert.deepEqual(errorOf('HTTP/1.1 200 OK\r\nContent-Le', ['GET'], true), ['ERR_RESPONSE_PARSE_TRUNCATED']);
    assert.deepEqual(errorOf('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab', ['GET'], true), ['ERR_RESPONSE_PARSE_TRUNCATED']);
    assert.deepEqual(errorOf('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n', ['GET'], true), ['ERR_RESPONSE_PARSE_TRUNCATED']);
    assert.deepEqual(errorOf('HTTP/1.1 100 Continue\r\n\r\n', ['GET'], true), ['ERR_RESPONSE_PARSE_TRUNCATED']);
  });

  test('a head over the limit', () => {
    assert.deepEqual(errorOf(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(100)}\r\n\r\n`, ['GET'], false, 64), ['ERR_RESPONSE_PARSE_HEAD_TOO_LARGE']);
  });

  test('the error carries its code and a clear message', () => {
    const p = new ResponseParser();
    p.expect('GET');
    const [ev] = p.push(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n')).filter((e) => e.kind === 'error');
    assert.ok(ev !== undefined && ev.kind === 'error');
    assert.equal(ev.error.code, 'ERR_RESPONSE_PARSE_CHUNK_SIZE');
    assert.equal(ev.error.name, 'ResponseParseError');
    assert.match(ev.error.message, /invalid chunk size from the app/);
  });
});
