/**
 * In a page, a relative URL is legal where the WebSocket constructor itself resolves it (against the page's
 * address), and socket.io-client's path forms are too; what resolves to no WebSocket address still throws.
 */
import { describe, expect, it } from "vitest";
import { io, socketIoTransport } from "../../src/socket-io.js";
import { ResilientWebSocket, webSocketTransport } from "../../src/websocket.js";

describe("URL options in a page", () => {
  it("accepts relative URLs the page resolves, and still rejects other schemes", () => {
    expect(location.protocol).toMatch(/^https?:$/);
    expect(() => webSocketTransport({ url: "/ws" })).not.toThrow();
    expect(() => webSocketTransport({ url: "not a url" })).not.toThrow();
    expect(() => new ResilientWebSocket("/ws", undefined, { autoConnect: false }).close()).not.toThrow();
    expect(() => webSocketTransport({ url: "ftp://127.0.0.1/" })).toThrow(
      new TypeError(
        'webSocketTransport: url must be an absolute ws:, wss:, http: or https: URL; got "ftp://127.0.0.1/"',
      ),
    );
    expect(() => socketIoTransport({ url: "/chat" })).not.toThrow();
    expect(() => socketIoTransport({ url: "//127.0.0.1:9/chat" })).not.toThrow();
    expect(() => io("ftp://127.0.0.1/", { autoConnect: false })).toThrow(
      'io: url must be an absolute ws:, wss:, http: or https: URL, host:port/path, or a path on this page; got "ftp://127.0.0.1/"',
    );
  });
});
