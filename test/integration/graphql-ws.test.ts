/**
 * The second real consumer: graphql-ws, whose client runs its own reconnect loop and makes a new WebSocket
 * per connection (`webSocketImpl`), and must re-establish every active subscription after a drop. That is
 * where reconnect semantics matter most: a socket that reconnects by itself under it leaves one more live
 * connection per drop (measured below), so it gets `governedWebSocket()` — one connection per instance, and
 * our policy deciding when each connects. Server: graphql-ws's `useServer` on `ws`, restarted on the same port.
 */
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { type Client, createClient } from "graphql-ws";
import { useServer } from "graphql-ws/use/ws";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { governedWebSocket, ResilientWebSocket } from "../../src/websocket.js";
import { NodeWebSocket } from "./resilient-websocket-harness.js";
import { CountingClock, FAST, quietFor, waitFor } from "./ws-harness.js";

// graphql 16 has no exports map: Node (which loads graphql-ws, external to vitest) takes its CommonJS build,
// vite would take its ESM one, and graphql refuses a schema from "another realm". Use Node's copy.
const { GraphQLInt, GraphQLObjectType, GraphQLSchema, GraphQLString } = createRequire(import.meta.url)(
  "graphql",
) as typeof import("graphql");

/** Ticks pushed by the test to every active `ticks` subscription. */
class Ticker {
  private readonly sinks = new Set<(n: number) => void>();
  get subscribers(): number {
    return this.sinks.size;
  }
  publish(n: number): void {
    for (const sink of this.sinks) sink(n);
  }
  /** An iterator whose return() unsubscribes at once (an async generator would wait for its pending await). */
  subscribe(): AsyncIterableIterator<{ ticks: number }> {
    const queue: number[] = [];
    let wake: ((result: IteratorResult<{ ticks: number }>) => void) | undefined;
    const sink = (n: number) => {
      if (wake === undefined) queue.push(n);
      else {
        const resolve = wake;
        wake = undefined;
        resolve({ value: { ticks: n }, done: false });
      }
    };
    this.sinks.add(sink);
    const done = { value: undefined, done: true } as const;
    const iterator: AsyncIterableIterator<{ ticks: number }> = {
      next: () => {
        const n = queue.shift();
        if (n !== undefined) return Promise.resolve({ value: { ticks: n }, done: false });
        return new Promise((resolve) => {
          wake = resolve;
        });
      },
      return: () => {
        this.sinks.delete(sink);
        wake?.(done);
        wake = undefined;
        return Promise.resolve(done);
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }
}

class GraphQlServer {
  readonly ticker = new Ticker();
  accepted = 0;
  /** Most connections open at once since the start. */
  maxOpen = 0;
  private http: Server | undefined;
  private wss: WebSocketServer | undefined;
  private dispose: (() => Promise<void> | void) | undefined;
  private port = 0;
  private readonly schema = new GraphQLSchema({
    query: new GraphQLObjectType({
      name: "Query",
      fields: { hello: { type: GraphQLString, resolve: () => "world" } },
    }),
    subscription: new GraphQLObjectType({
      name: "Subscription",
      fields: { ticks: { type: GraphQLInt, subscribe: () => this.ticker.subscribe() } },
    }),
  });

  get url(): string {
    return `ws://127.0.0.1:${this.port}/graphql`;
  }

  get open(): number {
    return this.wss?.clients.size ?? 0;
  }

  async start(): Promise<void> {
    const http = createServer();
    const wss = new WebSocketServer({ server: http, path: "/graphql" });
    wss.on("connection", () => {
      this.accepted++;
      this.maxOpen = Math.max(this.maxOpen, wss.clients.size);
    });
    this.dispose = useServer({ schema: this.schema }, wss).dispose;
    await new Promise<void>((resolve) => http.listen(this.port, "127.0.0.1", resolve));
    this.port = (http.address() as AddressInfo).port;
    this.http = http;
    this.wss = wss;
  }

  /** Like a crashed process: every connection cut, nothing listening. */
  async crash(): Promise<void> {
    const { http, wss } = this;
    if (http === undefined || wss === undefined) return;
    this.http = undefined;
    this.wss = undefined;
    for (const ws of wss.clients) ws.terminate();
    await this.dispose?.();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  }
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (let cleanup = cleanups.pop(); cleanup !== undefined; cleanup = cleanups.pop()) await cleanup();
});

async function start(): Promise<GraphQlServer> {
  const server = new GraphQlServer();
  await server.start();
  cleanups.push(() => server.crash());
  return server;
}

function client(url: string, webSocketImpl: unknown): Client {
  const result = createClient({
    url,
    webSocketImpl,
    lazy: false,
    retryAttempts: Number.POSITIVE_INFINITY,
    // Every drop is worth retrying here; when is our policy's business, not graphql-ws's backoff.
    shouldRetry: () => true,
    retryWait: async () => {},
  });
  cleanups.push(() => result.dispose());
  return result;
}

/** Subscribes to `ticks`, collecting every value. */
function ticks(graphql: Client): number[] {
  const seen: number[] = [];
  const stop = graphql.subscribe<{ ticks: number }>(
    { query: "subscription { ticks }" },
    {
      next: (result) => seen.push(result.data?.ticks ?? Number.NaN),
      error: (error) => {
        throw error;
      },
      complete: () => {},
    },
  );
  cleanups.push(stop);
  return seen;
}

/** Restarts the server `times` times, each time publishing one tick once the subscription is back. */
async function restarts(server: GraphQlServer, seen: number[], times: number): Promise<void> {
  await waitFor("the subscription", () => server.ticker.subscribers === 1);
  server.ticker.publish(0);
  await waitFor("tick 0", () => seen.length === 1);
  for (let i = 1; i <= times; i++) {
    await server.crash();
    await server.start();
    await waitFor(`the subscription after restart ${i}`, () => server.ticker.subscribers >= 1, 5_000);
    server.ticker.publish(i);
    await waitFor(`tick ${i}`, () => seen.includes(i), 5_000);
  }
}

describe("graphql-ws over governedWebSocket()", () => {
  it("brings an active subscription back after each of 3 server restarts, on one connection at a time", async () => {
    const server = await start();
    const clock = new CountingClock();
    const Governed = governedWebSocket({ ...FAST, WebSocket: NodeWebSocket, clock });
    cleanups.push(() => Governed.closeAll());
    const seen = ticks(client(server.url, Governed));
    await restarts(server, seen, 3);
    await quietFor(100);
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(server.accepted).toBe(4);
    expect(server.maxOpen).toBe(1);
    expect(server.open).toBe(1);
    Governed.closeAll();
    expect(clock.pending).toBe(0);
    console.info(
      `graphql-ws, governedWebSocket: ${server.accepted} connections over 3 restarts, at most ${server.maxOpen} open at once`,
    );
  });

  it("is needed: a self-reconnecting ResilientWebSocket under graphql-ws's own loop adds a connection per drop", async () => {
    const server = await start();
    const made: ResilientWebSocket[] = [];
    const SelfReconnecting = class extends ResilientWebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols, { ...FAST, WebSocket: NodeWebSocket });
        made.push(this);
      }
    };
    cleanups.push(() => {
      for (const socket of made) socket.close();
    });
    const seen = ticks(client(server.url, SelfReconnecting));
    await restarts(server, seen, 3);
    await quietFor(300);
    console.info(`graphql-ws, self-reconnecting socket: ${server.open} connections open after 3 restarts`);
    expect(server.open).toBeGreaterThan(1);
  });

  it("leaves the waiting instance CONNECTING while the server is down, then opens it when the policy connects", async () => {
    const server = await start();
    const Governed = governedWebSocket({ ...FAST, WebSocket: NodeWebSocket });
    cleanups.push(() => Governed.closeAll());
    const first = new Governed(server.url, "graphql-transport-ws");
    await new Promise((resolve) => first.addEventListener("open", resolve, { once: true }));
    expect(first.protocol).toBe("graphql-transport-ws");
    const closed = new Promise<CloseEvent>((resolve) =>
      first.addEventListener("close", (event) => resolve(event as CloseEvent), { once: true }),
    );
    await server.crash();
    expect((await closed).code).toBe(1006);
    expect(first.readyState).toBe(first.CLOSED);
    const second = new Governed(server.url, "graphql-transport-ws");
    expect(() => second.send("early")).toThrow(expect.objectContaining({ name: "InvalidStateError" }));
    await quietFor(300);
    expect(second.readyState).toBe(second.CONNECTING);
    await server.start();
    await new Promise((resolve) => second.addEventListener("open", resolve, { once: true }));
    expect(second.readyState).toBe(second.OPEN);
  });
});
