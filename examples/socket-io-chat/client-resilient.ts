/**
 * The chat client as a Socket.IO app is written: rooms joined through acks, `chat` and `typing` events.
 * Two copies: client-plain.ts on socket.io-client, client-resilient.ts on resilient-reconnect's io();
 * they differ in the import line and the options only (`diff` them).
 */
import { io } from "resilient-reconnect/socket.io";

export interface ChatClient {
  say(text: string): Promise<number>;
  typing(): void;
  leave(): void;
}

export function chatClient(url: string, name: string, room: string, log: (line: string) => void): ChatClient {
  const socket = io(url, { auth: { name }, transports: ["websocket"], queue: { maxMessages: 100 } });
  socket.on("connect", () => {
    socket.emit("join", room, (members: number) =>
      log(`${name} joined ${room} (${members} here, recovered: ${socket.recovered})`),
    );
  });
  socket.on("chat", (from: string, text: string) => log(`${name} sees ${from}: ${text}`));
  socket.on("typing", (from: string) => log(`${name} sees ${from} typing…`));
  socket.on("disconnect", (reason) => log(`${name} disconnected (${reason})`));
  return {
    say: (text) => socket.timeout(5_000).emitWithAck("chat", room, text),
    typing: () => socket.volatile.emit("typing", room),
    leave: () => socket.disconnect(),
  };
}
