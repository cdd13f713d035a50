/**
 * A hostile WebSocket server written on bare TCP: it completes the RFC 6455 handshake itself and then
 * writes whatever bytes a test gives it — frames no well-behaved server library would send (oversized
 * close reasons, reserved opcodes, invalid UTF-8). Listens on 127.0.0.1, port 0.
 * @see https://www.rfc-editor.org/rfc/rfc6455#section-5.2 (base framing)
 */
import { createHash } from "node:crypto";
import type { AddressInfo } from "node:net";
import { createServer, type Server, type Socket } from "node:net";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** One unmasked server frame: FIN set, the given opcode (and reserved bits), the payload. */
export function frame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  let header: Buffer;
  if (length < 126) header = Buffer.from([0x80 | opcode, length]);
  else if (length < 65_536) {
    header = Buffer.alloc(4);
    header[0] = 0x80 | opcode;
    header[1] = 126;
    header.writeUInt16BE(length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  return Buffer.concat([header, payload]);
}

/** A close frame with `code` and a reason of any length (the protocol allows 123 bytes). */
export function closeFrame(code: number, reason: string): Buffer {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2);
  return frame(0x8, payload);
}

export class RawWsServer {
  /** Handshakes completed, in order. */
  readonly sockets: Socket[] = [];
  /** What to write shortly after the handshake of the n-th connection (0-based); nothing when it returns undefined. */
  script: (index: number) => Buffer | undefined = () => undefined;
  private readonly server: Server;
  private readonly all = new Set<Socket>();

  private constructor() {
    this.server = createServer((socket) => {
      this.all.add(socket);
      socket.on("error", () => {});
      socket.once("close", () => this.all.delete(socket));
      let head = "";
      const onData = (chunk: Buffer) => {
        head += chunk.toString("latin1");
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        socket.off("data", onData);
        // Keep reading (and discarding) what the client sends after the handshake.
        socket.on("data", () => {});
        const key = /sec-websocket-key: *(.+)\r\n/i.exec(head.slice(0, end + 2))?.[1]?.trim() ?? "";
        const accept = createHash("sha1").update(`${key}${GUID}`).digest("base64");
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
        );
        const index = this.sockets.length;
        this.sockets.push(socket);
        const bytes = this.script(index);
        // A moment after the 101, so the client has opened: the frame hits an open connection.
        if (bytes !== undefined) setTimeout(() => socket.writable && socket.write(bytes), 20);
      };
      socket.on("data", onData);
    });
  }

  static async start(): Promise<RawWsServer> {
    const raw = new RawWsServer();
    await new Promise<void>((resolve) => raw.server.listen(0, "127.0.0.1", resolve));
    return raw;
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  async stop(): Promise<void> {
    for (const socket of this.all) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
