// One numbering for the messages that carry a request, whichever link carries them: frames on a
// channel (router ⇄ extension, core/frames.ts) and records on the rings (ingress ⇄ dispatcher,
// core/records.ts). The same message has the same name and number on both links, so the
// dispatcher relays a head or a body without translating and a trace reads the same on each side.
// docs/PROTOCOL.md lists them; a test keeps that table true to this one.

export const MessageType = {
  REQ_HEAD: 1,
  REQ_BODY: 2,
  REQ_END: 3,
  REQ_ABORT: 4,
  RES_HEAD: 5,
  RES_BODY: 6,
  RES_END: 7,
  RES_ERROR: 8,
  /** channel only: the extension asks to leave (its deadline nears) */
  CLOSE_REQUEST: 9,
  /** channel only: the router sends no more requests on this channel */
  GOAWAY: 10,
  /**
   * Flow-control credit: [u32 bytes] of this request's body the receiver has taken. On the rings,
   * for one slot; on a channel, only on a multiplexed one (the `mux` feature), both ways.
   */
  CREDIT: 11,
  /**
   * An informational (1xx, not 101) response before the final head. Sent by an extension only to
   * a router that announced the `info` feature in its handshake answer (core/protocol.ts).
   */
  RES_INFO: 12,
  /**
   * channel only: the extension's report of its environment's load (event-loop utilisation, CPU,
   * requests served) over the last interval, from which the router learns the instance's
   * concurrency. Sent only to a router that announced the `load` feature.
   */
  LOAD: 13,
  /**
   * channel only: the router tells an instance how many channels to hold, following its learned
   * limit (more open as it rises, those numbered beyond close once idle as it falls). Sent only to
   * an extension that named the `channels` feature in its upgrade request.
   */
  CHANNELS: 14,
  /**
   * rings only: [u16 function index] the function the next REQ_HEAD of this slot is for, sent
   * before each head when several functions share the router (core/routing/route-table.ts)
   */
  ROUTE: 15,
} as const;

export type MessageTypeName = keyof typeof MessageType;
export type MessageTypeCode = (typeof MessageType)[MessageTypeName];
