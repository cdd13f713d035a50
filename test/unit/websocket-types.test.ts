/**
 * Compile-time checks (run by `npm run typecheck`): a ResilientWebSocket and a governed instance fit where
 * TypeScript code expects the DOM's `WebSocket`, without a cast, as a drop-in must.
 */
import { expect, it } from "vitest";
import { governedWebSocket, ResilientWebSocket } from "../../src/websocket.js";

it("fits the DOM's WebSocket type: instances and the constructor's constants", () => {
  const take = (socket: WebSocket) => socket.readyState;
  const socket = new ResilientWebSocket("ws://127.0.0.1:9/", undefined, {
    autoConnect: false,
    WebSocket: class {} as never,
  });
  expect(take(socket)).toBe(3);
  const Governed = governedWebSocket();
  const constants: Pick<typeof WebSocket, "CONNECTING" | "OPEN" | "CLOSING" | "CLOSED"> = Governed;
  expect(constants.OPEN).toBe(1);
  const asDom: (url: string) => WebSocket = (url) => new Governed(url);
  expect(typeof asDom).toBe("function");
  socket.close();
});
