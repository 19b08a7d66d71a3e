// Response compression through a channel (test router ⇄ extension ⇄ app on loopback), plus the
// rules on their own.

import assert from 'node:assert/strict';
import type { RequestListener } from 'node:http';
import { createGunzip, gunzipSync } from 'node:zlib';
import { after, describe, test } from 'node:test';
import { demoApp } from '../demo/app.ts';
import { acceptsGzip, isTextual, shouldCompress } from './compression.ts';
import { closeLocalServers, createHandler, type App, type ExtensionOptions } from './handler.ts';
import { contextFor, headerValues, TestRouter, type TestChannel } from './test-router.ts';

after(() => closeLocalServers());

async function withChannel(app: App, options: ExtensionOptions, fn: (ch: TestChannel) => Promise<void>): Promise<void> {
  const router = await new TestRouter().start();
  try {
    const run = createHandler(app, { log: () => {}, ...options })(router.payload(), contextFor(60_000));
    const [ch] = await router.open(1);
    await fn(ch!);
    ch!.send({ type: 'goaway' });
    assert.equal((await run).exitReason, 'goaway');
  } finally {
    await router.close();
  }
}

const GZIP = ['accept-encoding', 'gzip, deflate, br'];
const text100k = '/bytes?n=102400&type=text/plain';

/** Writes 100 KiB of text in 10 chunks with no content-length: a chunked response. */
const chunkedText: RequestListener = (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
  let i = 0;
  const next = () => {
    if (i++ === 10) return void res.end();
    res.write('0123456789'.repeat(1024), next);
  };
  next();
};

describe('compression rules', () => {
  test('Accept-Encoding: gzip, x-gzip and * accepted unless q=0', () => {
    assert.ok(acceptsGzip(['gzip']));
    assert.ok(acceptsGzip(['br;q=1.0, gzip;q=0.8']));
    assert.ok(acceptsGzip(['*']));
    assert.ok(!acceptsGzip(['br']));
    assert.ok(!acceptsGzip(['gzip;q=0']));
    assert.ok(!acceptsGzip(['*;q=0']));
    assert.ok(!acceptsGzip([]));
  });

  test('textual types', () => {
    for (const t of ['text/html; charset=utf-8', 'application/json', 'application/ld+json', 'application/javascript', 'image/svg+xml', 'application/xml']) {
      assert.ok(isTextual(t), t);
    }
    for (const t of ['image/png', 'application/octet-stream', 'text/event-stream', undefined]) assert.ok(!isTextual(t), String(t));
  });

  test('size, status, method and existing encodings', () => {
    const type = ['content-type', 'text/plain'];
    assert.ok(shouldCompress('GET', GZIP, 200, [...type, 'content-length', '1025']));
    assert.ok(shouldCompress('GET', GZIP, 200, type), 'unknown length');
    assert.ok(!shouldCompress('GET', GZIP, 200, [...type, 'content-length', '1024']));
    assert.ok(!shouldCompress('HEAD', GZIP, 200, type));
    assert.ok(!shouldCompress('GET', GZIP, 204, type));
    assert.ok(!shouldCompress('GET', GZIP, 206, [...type, 'content-range', 'bytes 0-9/100']));
    assert.ok(!shouldCompress('GET', GZIP, 200, [...type, 'content-encoding', 'br']));
    assert.ok(!shouldCompress('GET', GZIP, 200, [...type, 'cache-control', 'public, no-transform']));
    assert.ok(!shouldCompress('GET', [], 200, type));
  });
});

describe('compression through a channel', () => {
  test('on: 100 KB text/plain of known length is gzipped, without length, with vary', async () => {
    await withChannel(demoApp, { compression: true }, async (ch) => {
      ch.request(1, 'GET', text100k, GZIP);
      const r = await ch.response(1);
      assert.equal(r.status, 200);
      assert.deepEqual(headerValues(r.headers, 'content-encoding'), ['gzip']);
      assert.deepEqual(headerValues(r.headers, 'content-length'), []);
      assert.deepEqual(headerValues(r.headers, 'vary'), ['accept-encoding']);
      const plain = gunzipSync(r.body);
      assert.equal(plain.length, 102_400);
      assert.ok(r.body.length < plain.length / 10, `compressed to ${r.body.length} bytes`);
    });
  });

  test('on: a chunked text response is gzipped too', async () => {
    await withChannel(chunkedText, { compression: true }, async (ch) => {
      ch.request(1, 'GET', '/', GZIP);
      const r = await ch.response(1);
      assert.deepEqual(headerValues(r.headers, 'content-encoding'), ['gzip']);
      assert.equal(gunzipSync(r.body).toString(), '0123456789'.repeat(10 * 1024));
    });
  });

  test('on, but the client does not accept gzip: the body passes as it is', async () => {
    await withChannel(demoApp, { compression: true }, async (ch) => {
      ch.request(1, 'GET', text100k, ['accept-encoding', 'br']);
      const r = await ch.response(1);
      assert.deepEqual(headerValues(r.headers, 'content-encoding'), []);
      assert.deepEqual(headerValues(r.headers, 'content-length'), ['102400']);
      assert.equal(r.body.length, 102_400);
    });
  });

  test('off: neither the known-length nor the chunked response is compressed', async () => {
    await withChannel(demoApp, { compression: false }, async (ch) => {
      ch.request(1, 'GET', text100k, GZIP);
      const r = await ch.response(1);
      assert.deepEqual(headerValues(r.headers, 'content-encoding'), []);
      assert.equal(r.body.length, 102_400);
    });
    await withChannel(chunkedText, { compression: false }, async (ch) => {
      ch.request(1, 'GET', '/', GZIP);
      const r = await ch.response(1);
      assert.deepEqual(headerValues(r.headers, 'content-encoding'), []);
      assert.equal(r.body.length, 102_400);
    });
  });

  test('LAMBDA_DISPATCH_ENABLE_COMPRESSION=false turns it off; a bad value names the variable', async () => {
    const saved = process.env.LAMBDA_DISPATCH_ENABLE_COMPRESSION;
    try {
      process.env.LAMBDA_DISPATCH_ENABLE_COMPRESSION = 'false';
      await withChannel(demoApp, {}, async (ch) => {
        ch.request(1, 'GET', text100k, GZIP);
        assert.deepEqual(headerValues((await ch.response(1)).headers, 'content-encoding'), []);
      });
      process.env.LAMBDA_DISPATCH_ENABLE_COMPRESSION = 'maybe';
      assert.throws(() => createHandler(demoApp), /LAMBDA_DISPATCH_ENABLE_COMPRESSION must be true or false/);
    } finally {
      if (saved === undefined) delete process.env.LAMBDA_DISPATCH_ENABLE_COMPRESSION;
      else process.env.LAMBDA_DISPATCH_ENABLE_COMPRESSION = saved;
    }
  });

  test('content-encoding: br from the app passes untouched; small and binary bodies are not compressed', async () => {
    const brBody = Buffer.from('not really brotli, but the app says it is '.repeat(100));
    const app: RequestListener = (req, res) => {
      if (req.url === '/br') return void res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'br' }).end(brBody);
      demoApp(req, res);
    };
    await withChannel(app, { compression: true }, async (ch) => {
      ch.request(1, 'GET', '/br', GZIP);
      const br = await ch.response(1);
      assert.deepEqual(headerValues(br.headers, 'content-encoding'), ['br']);
      assert.ok(br.body.equals(brBody));
      ch.request(2, 'GET', '/bytes?n=1000&type=text/plain', GZIP);
      assert.deepEqual(headerValues((await ch.response(2)).headers, 'content-encoding'), []);
      ch.request(3, 'GET', '/bytes?n=100000&type=image/png', GZIP);
      const png = await ch.response(3);
      assert.deepEqual(headerValues(png.headers, 'content-encoding'), []);
      assert.equal(png.body.length, 100_000);
    });
  });

  test('a compressed response streams: the first part reaches the router before the app has finished', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const app: RequestListener = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.write('<p>first part</p>'.repeat(100));
      void released.then(() => res.end('<p>last part</p>'));
    };
    await withChannel(app, { compression: true }, async (ch) => {
      ch.request(1, 'GET', '/', GZIP);
      const head = await ch.next();
      assert.equal(head.type, 'res-head');
      const gunzip = createGunzip();
      let text = '';
      gunzip.on('data', (c: Buffer) => (text += c.toString()));
      // Body frames arrive while the app is still holding its response open.
      while (!text.includes('first part')) {
        const f = await ch.next();
        assert.equal(f.type, 'res-body');
        if (f.type === 'res-body') await new Promise<void>((r) => gunzip.write(f.body, () => setImmediate(r)));
      }
      release();
      for (let f = await ch.next(); f.type !== 'res-end'; f = await ch.next()) {
        if (f.type === 'res-body') gunzip.write(f.body);
      }
      await new Promise<void>((r) => gunzip.end(r));
      assert.ok(text.endsWith('<p>last part</p>'));
    });
  });
});
