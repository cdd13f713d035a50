/**
 * The chat server: rooms joined with an ack, `chat` relayed to the room (acknowledged with the server's
 * message number), `typing` relayed as volatile. Connection-state recovery on, so a client whose network
 * blipped comes back in its rooms with the messages it missed.
 */
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";

export interface ChatServer {
  readonly url: string;
  /** Closes every client's connection without a goodbye (a network blip; recoverable). */
  blip(): void;
  /** Stops and starts again on the same port (a deploy; sessions are lost). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function chatServer(port = 0): Promise<ChatServer> {
  let messages = 0;
  let http: HttpServer;
  let io: Server;
  const listen = async (at: number) => {
    http = createServer();
    io = new Server(http, { connectionStateRecovery: { maxDisconnectionDuration: 30_000 } });
    io.on("connection", (socket) => {
      const name = String((socket.handshake.auth as { name?: unknown }).name ?? "anonymous");
      socket.on("join", (room: string, ack: (members: number) => void) => {
        void socket.join(room);
        ack(io.sockets.adapter.rooms.get(room)?.size ?? 1);
      });
      socket.on("chat", (room: string, text: string, ack: (n: number) => void) => {
        socket.to(room).emit("chat", name, text);
        ack(++messages);
      });
      socket.on("typing", (room: string) => socket.to(room).volatile.emit("typing", name));
    });
    await new Promise<void>((resolve) => http.listen(at, "127.0.0.1", resolve));
    return (http.address() as AddressInfo).port;
  };
  const bound = await listen(port);
  const close = async () => {
    const closing = io.close();
    http.closeAllConnections();
    await closing;
  };
  return {
    url: `http://127.0.0.1:${bound}`,
    blip: () => {
      for (const socket of io.sockets.sockets.values()) socket.conn.close();
    },
    restart: async () => {
      await close();
      await listen(bound);
    },
    close,
  };
}
