/**
 * A URL that can never connect is a misconfiguration: thrown when the transport or socket is created, naming
 * the option and the value, instead of an attempt that fails for ever. A url() function's bad result fails its
 * attempt with the reason in the error's message.
 */
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { ResilientSocket } from "../../src/index.js";
import { io, socketIoTransport } from "../../src/socket-io.js";
import { ResilientWebSocket, type WebSocketConstructor, webSocketTransport } from "../../src/websocket.js";

const Ws = WebSocket as unknown as WebSocketConstructor;
const sockets: { close(): unknown }[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});

describe("URL options are checked when created", () => {
  it("webSocketTransport throws a TypeError naming url and quoting the value", () => {
    expect(() => webSocketTransport({ url: "not a url", WebSocket: Ws })).toThrow(
      new TypeError(
        'webSocketTransport: url must be an absolute ws:, wss:, http: or https: URL (a relative URL needs a page to resolve against); got "not a url"',
      ),
    );
    for (const url of ["ftp://127.0.0.1/", "/relative", "127.0.0.1:9", "", new URL("file:///x")]) {
      expect(() => webSocketTransport({ url, WebSocket: Ws })).toThrow(TypeError);
    }
    for (const url of [
      "ws://127.0.0.1:9",
      "wss://127.0.0.1/x?t=1",
      "http://127.0.0.1:9",
      new URL("ws://[::1]:9"),
    ]) {
      expect(() => webSocketTransport({ url, WebSocket: Ws })).not.toThrow();
    }
  });

  it("ResilientWebSocket throws the same TypeError under its own name", () => {
    expect(
      () => new ResilientWebSocket("not a url", undefined, { WebSocket: Ws, autoConnect: false }),
    ).toThrow(
      /^ResilientWebSocket: url must be an absolute ws:, wss:, http: or https: URL .*; got "not a url"$/,
    );
  });

  it("socketIoTransport and io() throw naming url, and accept what socket.io-client resolves to a host", () => {
    expect(() => socketIoTransport({ url: "not a url" })).toThrow(
      new TypeError(
        'socketIoTransport: url must be an absolute ws:, wss:, http: or https: URL, or host:port/path; got "not a url"',
      ),
    );
    expect(() => io("not a url", { autoConnect: false })).toThrow(/^io: url must be .*; got "not a url"$/);
    for (const url of ["ftp://127.0.0.1/", "/chat", "//127.0.0.1/chat", "http://", ""]) {
      expect(() => socketIoTransport({ url })).toThrow(TypeError);
    }
    for (const url of [
      "http://127.0.0.1:9",
      "ws://127.0.0.1:9/admin",
      "127.0.0.1:9/chat",
      "localhost:3000",
    ]) {
      expect(() => socketIoTransport({ url })).not.toThrow();
    }
  });

  it("quotes at most 100 characters of a long bad value", () => {
    let message = "";
    try {
      webSocketTransport({ url: `x${" ".repeat(100_000)}`, WebSocket: Ws });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^webSocketTransport: url must be/);
    expect(message.length).toBeLessThan(300);
  });
});

describe("a url() function's bad result", () => {
  /** The first error of a socket whose url() returns `bad`. */
  function firstError(
    transport: ConstructorParameters<typeof ResilientSocket>[0]["transport"],
  ): Promise<Error> {
    const socket = new ResilientSocket({ transport, autoConnect: false, circuitBreaker: false });
    sockets.push(socket);
    const error = new Promise<Error>((resolve) => socket.on("error", resolve));
    socket.connect();
    return error;
  }

  it("fails the attempt over WebSocket with the reason in the message", async () => {
    const error = await firstError(webSocketTransport({ url: () => "not a url", WebSocket: Ws }));
    expect(error.message).toBe(
      'transport websocket threw while connecting: webSocketTransport: url()\'s result must be an absolute ws:, wss:, http: or https: URL (a relative URL needs a page to resolve against); got "not a url"',
    );
    expect(error.cause).toBeInstanceOf(TypeError);
  });

  it("fails the attempt over Socket.IO with the reason in the message", async () => {
    const error = await firstError(socketIoTransport({ url: () => "not a url" }));
    expect(error.message).toBe(
      'transport socket.io threw while connecting: socketIoTransport: url()\'s result must be an absolute ws:, wss:, http: or https: URL, or host:port/path; got "not a url"',
    );
  });

  it("says what a url() that returns no string returned", async () => {
    const error = await firstError(webSocketTransport({ url: () => 42 as unknown as string, WebSocket: Ws }));
    expect(error.message).toBe(
      "transport websocket threw while connecting: webSocketTransport: url() must return a string or URL; got number",
    );
  });
});
