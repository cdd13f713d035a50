/**
 * One admission run on loopback: a real server (ws with `wsAdmission` refusing by close 1013 or HTTP 503,
 * or Socket.IO with `socketIoAdmission`), `clients` compliant ResilientSockets starting together, and
 * optionally one client that ignores every hint, opening a new connection `attackPerSecond` times a second
 * from `attackLeadMs` before the others start until they are all in. The admission key is the client id
 * (`?id=` / `auth.id`): on loopback every client has the same address.
 *
 * Shared by `npm run bench:admission` and the integration test that asserts the bound at a small size.
 */
import { createServer, type Server as HttpServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { Server as IoServer } from "socket.io";
import { WebSocket, WebSocketServer } from "ws";
import { ResilientSocket, seededRandom } from "../../src/index.js";
import {
  type AdmissionController,
  type SocketIoHandshakeLike,
  socketIoAdmission,
  type WsRefusal,
  wsAdmission,
} from "../../src/server/index.js";
import { socketIoTransport } from "../../src/socket-io.js";
import { type WebSocketConstructor, webSocketTransport } from "../../src/websocket.js";

export const MODES = ["ws close-1013", "ws http-503", "socket.io"] as const;
export type AdmissionMode = (typeof MODES)[number];

export interface AdmissionRunOptions {
  readonly mode: AdmissionMode;
  readonly clients: number;
  readonly ratePerSecond: number;
  /** Attempts per second of the client ignoring hints; 0 for the quiet run. */
  readonly attackPerSecond: number;
  /** How long the attacker runs before the compliant clients start (ms). */
  readonly attackLeadMs: number;
  /** Seed of the compliant clients' random draws (the same in the quiet and the attacked run). */
  readonly seed: number;
  /** The run fails when not every compliant client is in after this long (ms). */
  readonly timeoutMs: number;
}

export interface AdmissionRunResult {
  readonly mode: AdmissionMode;
  readonly attackPerSecond: number;
  /** When each compliant client was admitted, ms after they started, ascending. */
  readonly admittedAtMs: number[];
  /** When the last compliant client was admitted (ms after they started). */
  readonly lastMs: number;
  /** Connection attempts of the compliant clients, per client. */
  readonly attemptsPerClient: number;
  readonly attackerAttempts: number;
  /** Attacker connections the server admitted (the application saw them). */
  readonly attackerAdmitted: number;
  /** Refusals that cost the shared capacity nothing (the controller's `refusedByKey`). */
  readonly refusedByKey: number;
  readonly trackedKeys: number;
}

interface Server {
  readonly url: string;
  readonly controller: AdmissionController;
  /** Admission times (performance.now()) per client id. */
  readonly admitted: Map<string, number[]>;
  /** Attempts the server saw per client id. */
  readonly attempts: Map<string, number>;
  close(): Promise<void>;
}

const push = (map: Map<string, number[]>, id: string, value: number) =>
  map.set(id, [...(map.get(id) ?? []), value]);
const bump = (map: Map<string, number>, id: string) => map.set(id, (map.get(id) ?? 0) + 1);

function idOf(request: IncomingMessage): string {
  return new URL(request.url ?? "/", "http://localhost").searchParams.get("id") ?? "anonymous";
}

function handshakeId(handshake: SocketIoHandshakeLike): string {
  const id = handshake.auth?.id ?? handshake.query?.id;
  return typeof id === "string" ? id : "anonymous";
}

async function listen(http: HttpServer): Promise<number> {
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  return (http.address() as AddressInfo).port;
}

async function startWs(refuseWith: WsRefusal, ratePerSecond: number): Promise<Server> {
  const http = createServer((_request, response) => response.writeHead(426).end());
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const admitted = new Map<string, number[]>();
  const attempts = new Map<string, number>();
  const admission = wsAdmission({ ratePerSecond, wss, refuseWith, key: idOf });
  wss.on("connection", (ws, request) => {
    ws.on("error", () => {});
    push(admitted, idOf(request), performance.now());
  });
  http.on("upgrade", (request, socket, head) => {
    bump(attempts, idOf(request));
    socket.on("error", () => {});
    admission(request, socket, head);
  });
  const port = await listen(http);
  return {
    url: `ws://127.0.0.1:${port}/`,
    controller: admission.controller,
    admitted,
    attempts,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
}

async function startIo(ratePerSecond: number): Promise<Server> {
  const http = createServer();
  const io = new IoServer(http, { transports: ["websocket"] });
  const admitted = new Map<string, number[]>();
  const attempts = new Map<string, number>();
  const admission = socketIoAdmission({ ratePerSecond, key: handshakeId });
  io.use((socket, next) => {
    bump(attempts, handshakeId(socket.handshake));
    admission(socket, next);
  });
  io.on("connection", (socket) => push(admitted, handshakeId(socket.handshake), performance.now()));
  const port = await listen(http);
  return {
    url: `http://127.0.0.1:${port}`,
    controller: admission.controller,
    admitted,
    attempts,
    close: async () => {
      io.disconnectSockets(true);
      http.closeAllConnections();
      await io.close();
    },
  };
}

function compliant(server: Server, mode: AdmissionMode, id: string, seed: number): ResilientSocket {
  const transport =
    mode === "socket.io"
      ? socketIoTransport({ url: server.url, options: { transports: ["websocket"], auth: { id } } })
      : webSocketTransport({
          url: `${server.url}?id=${id}`,
          WebSocket: WebSocket as unknown as WebSocketConstructor,
        });
  return new ResilientSocket({ transport, random: seededRandom(seed), connectTimeoutMs: 2_000 });
}

/**
 * The client ignoring hints: a new raw connection every 1 / rate s whatever the last one was told; an
 * admitted one is dropped at once (it only wants the next). Over Socket.IO it speaks engine.io by hand.
 */
function startAttacker(server: Server, mode: AdmissionMode, perSecond: number): () => number {
  const url =
    mode === "socket.io"
      ? `${server.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket&id=attacker`
      : `${server.url}?id=attacker`;
  const open = new Set<WebSocket>();
  let sent = 0;
  const attempt = () => {
    sent++;
    const ws = new WebSocket(url, { perMessageDeflate: false });
    open.add(ws);
    const done = () => {
      open.delete(ws);
      ws.terminate();
    };
    ws.on("error", done);
    ws.on("unexpected-response", done);
    ws.on("close", done);
    ws.on("message", (data) => {
      const text = String(data);
      if (text.startsWith("0")) ws.send("40");
      else done();
    });
    if (mode !== "socket.io") ws.on("open", done);
  };
  const timer = setInterval(attempt, 1000 / perSecond);
  return () => {
    clearInterval(timer);
    for (const ws of open) ws.terminate();
    return sent;
  };
}

async function until(what: string, probe: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!probe()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One run; everything it started is stopped when it returns or throws. */
export async function runAdmission(options: AdmissionRunOptions): Promise<AdmissionRunResult> {
  const { mode, clients: count, ratePerSecond, attackPerSecond } = options;
  const server =
    mode === "socket.io"
      ? await startIo(ratePerSecond)
      : await startWs(mode === "ws http-503" ? "http-503" : "close-1013", ratePerSecond);
  const sockets: ResilientSocket[] = [];
  let stopAttacker: (() => number) | undefined;
  try {
    if (attackPerSecond > 0) {
      stopAttacker = startAttacker(server, mode, attackPerSecond);
      await sleep(options.attackLeadMs);
    }
    const ids = Array.from({ length: count }, (_, i) => `client-${i}`);
    const startedAt = performance.now();
    ids.forEach((id, i) => {
      sockets.push(compliant(server, mode, id, options.seed * 1_000 + i));
    });
    await until(
      `all ${count} compliant clients admitted (${mode})`,
      () => ids.every((id) => server.admitted.has(id)),
      options.timeoutMs,
    );
    const attackerAttempts = stopAttacker?.() ?? 0;
    stopAttacker = undefined;
    const admittedAtMs = ids
      .map((id) => (server.admitted.get(id)?.[0] ?? Number.NaN) - startedAt)
      .sort((a, b) => a - b);
    const attempts = ids.reduce((sum, id) => sum + (server.attempts.get(id) ?? 0), 0);
    return {
      mode,
      attackPerSecond,
      admittedAtMs,
      lastMs: admittedAtMs.at(-1) ?? Number.NaN,
      attemptsPerClient: attempts / count,
      attackerAttempts,
      attackerAdmitted: server.admitted.get("attacker")?.length ?? 0,
      refusedByKey: server.controller.refusedByKey,
      trackedKeys: server.controller.trackedKeys,
    };
  } finally {
    stopAttacker?.();
    await Promise.all(sockets.map((socket) => socket.close()));
    await server.close();
  }
}
