/**
 * The at-least-once delivery envelope on the wire, shared by the client (`atLeastOnce`, which sends
 * messages in it and reads acknowledgements) and the server (`Deduplicator`, which reads messages and sends
 * acknowledgements). Wire format: docs/reliability.md.
 */

/** Marks a delivery envelope (`"$rr"` is short for resilient-reconnect). */
export const DELIVERY_TAG = "$rr";

/** A message as it travels from client to server: `{"$rr":"msg","sid":…,"seq":…,"data":…}`. */
export interface DeliveryMessage {
  readonly $rr: "msg";
  /** The sending socket's session id (1–128 characters), the same for its whole life, unique to it. */
  readonly sid: string;
  /** 1, 2, 3, … in send order, per session. */
  readonly seq: number;
  /** What the app passed to `send()`. */
  readonly data: unknown;
}

/** The server's acknowledgement: every message of session `sid` up to and including `seq` was processed. */
export interface DeliveryAck {
  readonly $rr: "ack";
  readonly sid: string;
  readonly seq: number;
}
