// Channel liveness: a WebSocket ping on every channel each LAMBDA_DISPATCH_PingIntervalMs; one
// that has not answered (a pong, or any frame) since the last ping is dead, and is cut. A cut
// channel is marked `silent`: its host stopped answering, which is not the app's fault, so its
// request may be sent again (replays.ts). A paused channel (its client is slow) is not pinged:
// the peer's pong would wait behind the frames it cannot send.

import type { Instance } from './state.ts';

export function pingChannels(instances: Iterable<Instance>, log: (msg: string) => void): void {
  for (const inst of instances) {
    for (const ch of inst.channels) {
      if (ch.paused) continue;
      if (!ch.alive) {
        log(`channel ${inst.id}/${ch.index} stopped answering pings`);
        ch.silent = true;
        ch.ws.terminate();
        continue;
      }
      ch.alive = false;
      ch.ws.ping();
    }
  }
}
