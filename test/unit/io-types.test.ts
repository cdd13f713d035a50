/**
 * Compile-time checks (run by `npm run typecheck`): io() keeps socket.io-client's typed events, and our
 * extras are typed on `socket.resilience`.
 */
import type { Socket } from "socket.io-client";
import { expect, expectTypeOf, it } from "vitest";
import { io } from "../../src/socket-io.js";

interface Listen {
  chat: (from: string, text: string) => void;
}
interface Emit {
  say: (text: string, ack: (n: number) => void) => void;
}

it("returns socket.io-client's Socket with its ListenEvents and EmitEvents, plus a typed resilience", async () => {
  const socket = io<Listen, Emit>("http://127.0.0.1:9", { autoConnect: false, queue: { maxMessages: 5 } });
  expectTypeOf(socket).toExtend<Socket<Listen, Emit>>();
  socket.on("chat", (from, text) => {
    expectTypeOf(from).toEqualTypeOf<string>();
    expectTypeOf(text).toEqualTypeOf<string>();
  });
  socket.emit("say", "hi", (n) => expectTypeOf(n).toEqualTypeOf<number>());
  // @ts-expect-error an event the EmitEvents map does not have
  socket.emit("shout", "hi");
  socket.resilience.on("retry", (event) => expectTypeOf(event.delayMs).toEqualTypeOf<number>());
  expectTypeOf(socket.resilience.stats().queue.messages).toEqualTypeOf<number>();
  // Not connected: both emits (the untyped one too, at run time) wait in the bounded buffer.
  expect(socket.resilience.stats().queue.messages).toBe(2);
  await socket.resilience.close();
  expect(socket.resilience.state).toBe("closed");
});
