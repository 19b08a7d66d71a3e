// Frames sent on a WebSocket in one tick leave in one socket write, and so one TLS record and one
// system call: the socket stays corked until the tick is over. On a multiplexed channel that is
// what batches a turn's worth of requests (router) or answers (extension) into one write.

import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

const corked = new WeakSet<Duplex>();

export function batchWrites(ws: WebSocket): void {
  // ws keeps its socket private; absent (not yet connected, or closed), there is nothing to batch.
  const socket = (ws as unknown as { _socket?: Duplex | null })._socket;
  if (socket == null || corked.has(socket)) return;
  corked.add(socket);
  socket.cork();
  process.nextTick(() => {
    corked.delete(socket);
    socket.uncork();
  });
}
