/** Writing to a connection: never throws, and knows when the connection is not reading. */
import type { PresenceConnection } from "./hub-options.js";

/** True when the connection reports more than `highWaterBytes` unsent (one that cannot tell is trusted). */
export function isSlow(connection: PresenceConnection, highWaterBytes: number): boolean {
  try {
    const buffered = connection.buffered?.();
    return typeof buffered === "number" && buffered > highWaterBytes;
  } catch {
    return false;
  }
}

/** Sends `text`; a socket closing under the hub is ignored (its disconnect starts the grace period). */
export function deliver(connection: PresenceConnection, text: string): void {
  try {
    connection.send(text);
  } catch {
    // Nothing to do: the adapter's close handler calls disconnect.
  }
}
