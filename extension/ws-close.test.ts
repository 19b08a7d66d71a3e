// The WebSocket framing the extension reads to close a relayed socket cleanly: frame boundaries
// found across any split of the byte stream, for every length encoding, masked or not; close
// frames that a WebSocket library reads back as the code and reason sent.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { wsFraming } from './test-router.ts';
import { FrameBoundary, closeFrame } from './ws-close.ts';

/** A frame as `ws` lays it out: `masked` as a client sends it. */
function wsFrame(payloadBytes: number, masked: boolean): Buffer {
  const parts = wsFraming.Sender.frame(Buffer.alloc(payloadBytes, 7), { fin: true, opcode: 2, mask: masked, readOnly: false, rsv1: false, ...(masked ? { maskBuffer: Buffer.from([1, 2, 3, 4]) } : {}) });
  return Buffer.concat(parts);
}

test('a boundary is seen exactly between frames, whatever the chunks and the length encoding', () => {
  for (const masked of [false, true]) {
    for (const size of [0, 1, 125, 126, 65_535, 65_536, 200_000]) {
      const two = Buffer.concat([wsFrame(size, masked), wsFrame(3, masked)]);
      const first = two.length - wsFrame(3, masked).length;
      for (const split of [1, 2, 3, 7, 1000]) {
        const b = new FrameBoundary();
        const at: boolean[] = [];
        for (let i = 0; i < two.length; i += split) {
          b.push(two.subarray(i, Math.min(two.length, i + split)));
          at.push(b.atBoundary);
          // Inside the first frame (past its first byte and before its end) there is no boundary.
          const end = Math.min(two.length, i + split);
          if (end < first) assert.equal(b.atBoundary, false, `size ${size} masked ${masked} split ${split} at ${end}`);
          if (end === first) assert.equal(b.atBoundary, true, `after the first frame (size ${size})`);
        }
        assert.equal(b.atBoundary, true, 'after both frames');
      }
    }
  }
});

test('close frames read back as the code and reason, masked toward the app and not toward the client', async () => {
  for (const [masked, isServer] of [[true, true], [false, false]] as const) {
    const got = await new Promise<{ code: number; reason: string }>((resolve, reject) => {
      const r = new wsFraming.Receiver({ isServer, maxPayload: 0 });
      r.on('conclude', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() }));
      r.on('error', reject);
      r.write(closeFrame(1012, 'service restart', masked));
    });
    assert.deepEqual(got, { code: 1012, reason: 'service restart' });
  }
});
