/**
 * The load bench's server, in its own process so its memory is not counted with the clients': a plain `ws`
 * server on 127.0.0.1 that counts inbound messages and tells its parent (IPC) when a target is reached.
 * Parent → child: `{ expect: n }` (report when n more messages have arrived). Child → parent:
 * `{ port }` once listening, `{ reached: n }`.
 */
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";

const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, backlog: 4096, perMessageDeflate: false });
let received = 0;
let goal = Number.POSITIVE_INFINITY;

wss.on("connection", (ws) => {
  ws.on("error", () => {});
  ws.on("message", () => {
    received++;
    if (received >= goal) {
      goal = Number.POSITIVE_INFINITY;
      process.send?.({ reached: received });
    }
  });
});
wss.once("listening", () => process.send?.({ port: (wss.address() as AddressInfo).port }));
process.on("message", (message: { expect?: number; exit?: boolean }) => {
  if (message.exit) {
    wss.close();
    process.exit(0);
  }
  if (message.expect !== undefined) goal = received + message.expect;
});
