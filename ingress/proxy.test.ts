// Ingress when its dispatcher is gone: nothing may hang. A real HTTP server and rings, with no
// dispatcher behind them, as after a crash of the worker.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { Rec } from '../core/records.ts';
import { RingConsumer, RingProducer, createRingBuffer } from '../core/ring.ts';
import { RingWriter } from '../core/ring-writer.ts';
import { Proxy } from './proxy.ts';

test('when the dispatcher is lost, requests in flight get 502 and new ones 503', async () => {
  const requests = createRingBuffer(1 << 16);
  const proxy = new Proxy(new RingWriter(new RingProducer(requests)), 1 << 16);
  const server = createServer((req, res) => proxy.handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const inFlight = fetch(`${base}/slow`);
    // The head reached the request ring; nobody will ever answer it.
    const seen: number[] = [];
    for (let i = 0; i < 100 && seen.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
      new RingConsumer(requests).drain((type) => seen.push(type));
    }
    assert.deepEqual(seen, [Rec.REQ_HEAD]);
    assert.equal(proxy.active, 1);

    proxy.failAll();
    const lost = await inFlight;
    assert.equal(lost.status, 502);
    assert.match(await lost.text(), /lost its dispatcher/);
    assert.equal(proxy.active, 0);

    const after = await fetch(`${base}/next`);
    assert.equal(after.status, 503);
    assert.equal(after.headers.get('retry-after'), '1');
    await after.text();
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
