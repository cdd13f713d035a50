/**
 * Compile-time checks (run by `npm run typecheck`): the constructors users pass must fit without casts.
 */
import { expect, it } from "vitest";
import { WebSocket as NodeWebSocket } from "ws";
import type { WebSocketConstructor } from "../../src/websocket.js";

it("accepts the ws package's and the DOM's WebSocket constructors without a cast", () => {
  const fromWs: WebSocketConstructor = NodeWebSocket;
  const fromDom: WebSocketConstructor | undefined = (
    globalThis as { WebSocket?: typeof globalThis.WebSocket }
  ).WebSocket;
  expect(typeof fromWs).toBe("function");
  expect(fromDom === undefined || typeof fromDom === "function").toBe(true);
});
