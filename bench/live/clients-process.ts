/**
 * A population of real clients in one process, for the live storm.
 *
 *   --url U --clients N --kind baseline --transport socket.io
 *       socket.io-client 4.8 with its default reconnection options (reconnectionDelay 1000,
 *       reconnectionDelayMax 5000, randomizationFactor 0.5, timeout 20000)
 *   --url U --clients N --kind baseline --transport ws
 *       a plain `ws` client reconnecting on socket.io-client's own `Backoff` (build/esm/contrib/backo2.js,
 *       imported from the installed package, with the Manager's defaults: min 1000, max 5000, jitter 0.5),
 *       reset on open as `Manager.onreconnect` does — the same schedule without the Socket.IO protocol
 *   --url U --clients N --kind ours --transport socket.io|ws
 *       ResilientSocket with default options over socketIoTransport or webSocketTransport
 *   --url U --clients N --kind io --transport socket.io
 *       the governed io() from resilient-reconnect/socket.io with default options
 *
 * Over ws, a client counts itself connected when the server's first message ("welcome") arrives: a socket
 * refused with close 1013 opens before it closes.
 *
 * Every client uses the WebSocket transport only (one attempt = one upgrade request the server counts).
 * Reports { type: "progress", connected } over IPC every 100 ms; closes everything on { type: "stop" }.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { io } from "socket.io-client";
import { WebSocket } from "ws";
import { ResilientSocket } from "../../src/index.js";
import { io as governedIo, socketIoTransport } from "../../src/socket-io.js";
import { webSocketTransport } from "../../src/websocket.js";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    clients: { type: "string", default: "2000" },
    kind: { type: "string" },
    transport: { type: "string", default: "socket.io" },
  },
});
const { url, kind, transport } = values;
const count = Number(values.clients);
if (url === undefined) throw new TypeError("--url is required");
if (!Number.isInteger(count) || count < 1)
  throw new RangeError(`--clients must be an integer >= 1; got ${values.clients}`);
if (kind !== "baseline" && kind !== "ours" && kind !== "io")
  throw new RangeError(`--kind must be baseline, ours or io; got ${kind}`);
if (transport !== "socket.io" && transport !== "ws")
  throw new RangeError(`--transport must be socket.io or ws; got ${transport}`);

interface SocketIoBackoff {
  duration(): number;
  reset(): void;
}
type BackoffConstructor = new (options: { min: number; max: number; jitter: number }) => SocketIoBackoff;

async function socketIoClientBackoff(): Promise<BackoffConstructor> {
  // Not in the package's `exports`, so reached by file: the very code socket.io-client's Manager runs.
  const root = dirname(createRequire(import.meta.url).resolve("socket.io-client/package.json"));
  const module = await import(pathToFileURL(join(root, "build/esm/contrib/backo2.js")).href);
  return module.Backoff as BackoffConstructor;
}

let connected = 0;
const closers: (() => void)[] = [];

/** A bare `ws` client on socket.io-client's reconnection schedule. */
function plainWsClient(Backoff: BackoffConstructor): () => void {
  const backoff = new Backoff({ min: 1000, max: 5000, jitter: 0.5 });
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: WebSocket | undefined;
  const connect = () => {
    const ws = new WebSocket(url as string, { handshakeTimeout: 20_000 });
    current = ws;
    let welcomed = false;
    ws.on("open", () => backoff.reset());
    ws.once("message", () => {
      welcomed = true;
      connected++;
    });
    ws.on("error", () => {});
    ws.on("close", () => {
      if (welcomed) connected--;
      if (!stopped) timer = setTimeout(connect, backoff.duration());
    });
  };
  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    current?.terminate();
  };
}

const Backoff = kind === "baseline" && transport === "ws" ? await socketIoClientBackoff() : undefined;
for (let i = 0; i < count; i++) {
  if (kind === "io") {
    const socket = governedIo(url, { transports: ["websocket"], forceNew: true });
    socket.on("connect", () => connected++);
    socket.on("disconnect", () => connected--);
    socket.resilience.on("error", () => {}); // as below: refusals are expected, counted at the server
    closers.push(() => void socket.resilience.close());
  } else if (kind === "baseline" && Backoff !== undefined) {
    closers.push(plainWsClient(Backoff));
  } else if (kind === "baseline") {
    const socket = io(url, { transports: ["websocket"], forceNew: true });
    socket.on("connect", () => connected++);
    socket.on("disconnect", () => connected--);
    closers.push(() => socket.close());
  } else {
    const overWs = transport === "ws";
    const socket = new ResilientSocket({
      transport: overWs
        ? webSocketTransport({ url, WebSocket })
        : socketIoTransport({ url, options: { transports: ["websocket"] } }),
    });
    // Refusals are this bench's point, counted at the server: without a listener each of hundreds of
    // clients would print its once-per-socket warning.
    socket.on("error", () => {});
    // Over ws a socket refused with 1013 opens first: connected means the server's welcome arrived.
    let counted = false;
    socket.on(overWs ? "message" : "open", () => {
      if (counted) return;
      counted = true;
      connected++;
    });
    socket.on("close", () => {
      if (!counted) return;
      counted = false;
      connected--;
    });
    closers.push(() => void socket.close());
  }
}

const ticker = setInterval(() => process.send?.({ type: "progress", connected }), 100);
process.on("message", (message: { type?: string }) => {
  if (message?.type !== "stop") return;
  clearInterval(ticker);
  for (const close of closers) close();
  setTimeout(() => process.exit(0), 200).unref();
});
process.on("disconnect", () => process.exit(0));
