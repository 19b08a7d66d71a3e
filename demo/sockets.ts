// The demo's WebSocket routes, on the demo app's own http.Server (what createHandler is given, so
// its 'upgrade' listener takes the sockets the router relays):
//   /ws/echo   every message back to its sender, text as text and binary as binary
//   /ws/room   every message to every member of the room, the sender included; the room is
//              this server's, so it spans the sockets one environment holds
//   /ws/flood?mb=N  N MiB (default 1) of 64 KiB binary messages as fast as the socket takes them,
//              then a close with 1000: a fast app for a slow client (the bench's memory bound)
// Any other path is refused with 404.

import http from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import { demoApp } from './app.ts';

/** Messages up to this size (the whole-stack test sends 1 MB). */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** The demo app's server with its WebSocket routes; not listening (createHandler or serveDemo does that). */
export function demoServer(): http.Server {
  const server = http.createServer(demoApp);
  const echo = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  // A client's protocol error (a message over the maximum: ws closes it with 1009) is ws's to
  // answer; unheard, the 'error' event would end the process.
  echo.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
  });
  const room = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  room.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => {
      for (const peer of room.clients) if (peer.readyState === WebSocket.OPEN) peer.send(data as Buffer, { binary: isBinary });
    });
  });
  const flood = new WebSocketServer({ noServer: true });
  flood.on('connection', (ws, req: http.IncomingMessage) => {
    ws.on('error', () => {});
    const mb = Math.min(100_000, Math.max(0, Number(new URL(req.url ?? '/', 'http://x').searchParams.get('mb') ?? 1) || 0));
    const chunk = Buffer.alloc(64 * 1024, 0x5a);
    let left = Math.round(mb * 16);
    // The next message once the socket has taken this one: as fast as the path to the client allows.
    const next = (err?: Error) => {
      if (err !== undefined || ws.readyState !== WebSocket.OPEN) return;
      if (left-- <= 0) return ws.close(1000, 'done');
      ws.send(chunk, { binary: true }, next);
    };
    next();
  });
  server.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '/').split('?')[0];
    const wss = path === '/ws/echo' ? echo : path === '/ws/room' ? room : path === '/ws/flood' ? flood : null;
    if (wss === null) return void socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  return server;
}
