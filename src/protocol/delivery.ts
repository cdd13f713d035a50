/**
 * The at-least-once delivery envelope on the wire, shared by the client (`atLeastOnce`, which sends
 * messages in it and reads acknowledgements) and the server (`Deduplicator`, which reads messages and sends
 * acknowledgements). Wire format: docs/reliability.md.
 */

/** Marks a delivery envelope (`"$rr"` is short for resilient-reconnect). */
export const DELIVERY_TAG = "$rr";

/** A message as it travels from client to server: `{"$rr":"msg","sid":…,"seq":…,"data":…}`. */
export interface DeliveryMessage {
  /** The {@link DELIVERY_TAG} field: `"msg"` marks an app message. */
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
  /** The {@link DELIVERY_TAG} field: `"ack"` marks an acknowledgement. */
  readonly $rr: "ack";
  /** The session acknowledged. */
  readonly sid: string;
  /** The highest sequence number processed (every one up to it was). */
  readonly seq: number;
}
