// micro, part two: CPU per message of a WebSocket over TLS on loopback, as the control channel is,
// when each message leaves in its own socket write against when 16 leave in one (the socket corked
// around them, as a multiplexed channel sends a turn's frames). Both ends run in this process, so a
// figure is the whole round trip: a small frame out, its echo back, both ends' TLS and syscalls.

import { once } from 'node:events';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect } from 'node:tls';
import { WebSocket, WebSocketServer } from 'ws';
import { generateControlTls } from '../../core/dispatcher/control-tls.ts';

export interface TlsBatching {
  /** Messages per socket write. */
  batch: number;
  /** Process CPU (user + system) per message round trip, µs. */
  usPerMessage: number;
}

const socketOf = (ws: WebSocket) => (ws as unknown as { _socket: Duplex })._socket;

export async function measureTlsBatching(quick: boolean, batches: readonly number[] = [1, 16]): Promise<TlsBatching[]> {
  const { cert, key } = await generateControlTls();
  const server = createServer({ cert, key });
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  // The echoing end batches what one read brought, as the extension does with its answers.
  wss.on('connection', (ws) => {
    let corked = false;
    ws.on('message', (data: Buffer) => {
      if (!corked) {
        corked = true;
        socketOf(ws).cork();
        process.nextTick(() => {
          corked = false;
          socketOf(ws).uncork();
        });
      }
      ws.send(data);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const ws = new WebSocket(`wss://127.0.0.1:${port}/`, {
    perMessageDeflate: false,
    createConnection: () => connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }),
  });
  await once(ws, 'open');
  const payload = Buffer.alloc(64, 1);
  const total = quick ? 16_000 : 96_000;
  const out: TlsBatching[] = [];
  try {
    for (const batch of batches) {
      const run = async (messages: number): Promise<number> => {
        const t0 = process.cpuUsage();
        let got = 0;
        let sent = 0;
        await new Promise<void>((resolve) => {
          const send = () => {
            socketOf(ws).cork();
            for (let i = 0; i < batch; i++) ws.send(payload);
            socketOf(ws).uncork();
            sent += batch;
          };
          const onMessage = () => {
            if (++got < messages && got % batch === 0 && sent < messages) send();
            if (got >= messages) {
              ws.off('message', onMessage);
              resolve();
            }
          };
          ws.on('message', onMessage);
          send();
        });
        const c = process.cpuUsage(t0);
        return (c.user + c.system) / got;
      };
      await run(Math.max(batch * 50, total / 10)); // warm-up
      out.push({ batch, usPerMessage: Math.round((await run(total)) * 100) / 100 });
    }
  } finally {
    ws.terminate();
    for (const c of wss.clients) c.terminate();
    wss.close();
    server.close();
  }
  return out;
}
